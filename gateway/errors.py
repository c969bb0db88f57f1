"""Domain errors. Flask-free: the web layer renders them as RFC 9457 problem documents (or,
for browser pages, an HTML error page) and the CLI as a message and a non-zero exit. Details
never echo a value from the request.

Each of the project's own problem types is catalogued in `PROBLEM_TYPES` (slug -> what it
means and what to do), so its `type` URI resolves to a page the node serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class ProblemType:
    title: str
    explanation: str


PROBLEM_TYPES: dict[str, ProblemType] = {}


def register_problem(slug: str, title: str, explanation: str) -> None:
    PROBLEM_TYPES.setdefault(slug, ProblemType(title, explanation))


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"
    # One plain-English line for the problem type's page; every subclass gives its own.
    explanation: ClassVar[str] = "The request was not acceptable. Nothing was stored."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "explanation" in cls.__dict__ or "slug" in cls.__dict__:
            register_problem(cls.slug, cls.title, cls.explanation)

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    def problem(self, type_base: str) -> dict[str, Any]:
        """The RFC 9457 document; `type_base` ends in a slash (the node's problem pages or
        the base URI the operator set)."""
        doc: dict[str, Any] = {
            "type": type_base + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = self.errors
        return doc


class Malformed(DomainError):
    status, slug, title = 400, "malformed", "Malformed request"
    explanation = (
        "The request could not be read: it is not well-formed"
        " JSON or form data. Nothing was stored."
    )


class TooLarge(DomainError):
    status, slug, title = 413, "too-large", "Too large"
    explanation = (
        "The request holds more than this endpoint takes (the detail says how much it"
        " takes). Nothing was stored; send it in smaller parts."
    )


class Invalid(DomainError):
    status, slug, title = 422, "invalid", "Validation failed"
    explanation = (
        "Some answers are missing or not allowed. The `errors` member names each field and"
        " the rule it broke; nothing was stored. Correct them and send again."
    )


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Not authenticated"
    explanation = "Sign in (or send a valid access token or request token) and try again."


class UnknownSigningKey(Unauthorized):
    """A request token signed by a key not pinned here. `issuer` is the peer the token
    claims to come from (unverified, a known peer's code or None): this node may fetch
    that peer's published bundle in case it rotated (docs/contract.md)."""

    # The problem type stays `unauthorized`: senders on older releases key on it.
    explanation = (
        "The request token is signed by a key this node has not pinned. If the sender rotated"
        " its keys, this node fetches its bundle; otherwise confirm the new fingerprint."
    )

    def __init__(self, detail: str, *, issuer: str | None) -> None:
        super().__init__(detail)
        self.issuer = issuer


class ClockSkewed(Unauthorized):
    """A peer's request token is outside this node's clock window: say so, with our time,
    so the sender can tell a wrong clock from a bad key (DESIGN section 4, `iat`/`exp`)."""

    slug, title = "clock-skew", "Clocks disagree"
    explanation = (
        "The request token was issued in the future or has expired by this node's clock."
        " `server_time` is this node's time: check both nodes' clocks (NTP)."
    )

    def __init__(self, detail: str, *, server_time: str) -> None:
        super().__init__(detail)
        self.server_time = server_time

    def problem(self, type_base: str) -> dict[str, Any]:
        return {**super().problem(type_base), "server_time": self.server_time}


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed"
    explanation = (
        "Your role in this area does not allow this. Ask your"
        " MARAC coordinator or node administrator."
    )


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"
    explanation = (
        "There is nothing here, or nothing you may see. Check the link or go back to your list."
    )


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"
    explanation = (
        "This cannot be done in the case's current state (for example it was already"
        " acknowledged or withdrawn). Reload the case to see where it stands."
    )


class Gone(DomainError):
    """The thing existed and the caller may know it did, but its content is gone for good
    (a transfer withdrawn by its sender before the receiving area opened it)."""

    status, slug, title = 410, "gone", "Gone"
    explanation = (
        "The sending area withdrew this case before it was opened here, so its content was"
        " deleted. Contact the sending MARAC if you need to know more."
    )


class Restricted(Forbidden):
    """A restricted case (honour-based violence, position of trust): only the users the
    receiving area named may open it; everyone else may know it exists, nothing more."""

    slug, title = "restricted-case", "Restricted case"
    explanation = (
        "This case is restricted: only the people the area's MARAC chair named may open"
        " it. Ask your chair to add you if you need to see it."
    )


class ChairDecides(Forbidden):
    """Naming who may open a restricted case is the chair's decision alone (seed 001
    4.5.3); a coordinator, named or not, is refused."""

    slug, title = "chair-decides", "The chair decides"
    explanation = (
        "Only the area's MARAC chair decides who may open a restricted case. Ask your chair"
        " to name or remove people."
    )


class CannotAnswer(DomainError):
    """A verification request from a gateway that sent no reply key (older than the
    answer leg, docs/contract.md "Verification answers"): it cannot be answered through
    the index."""

    status, slug, title = 422, "cannot-answer", "This request cannot be answered here"
    explanation = (
        "The asking area's gateway cannot receive answers through the flag index. If it is"
        " your case, contact the asking MARAC at their mailbox or send them a transfer."
    )


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"
    explanation = (
        "The body is not of a type this endpoint accepts: envelopes and API bodies are"
        " application/json; documents are PDF, Word (DOCX), OpenDocument text, RTF, plain"
        " text, PNG or JPEG, recognised by their content."
    )


class TooManyRequests(DomainError):
    """A rate limit or lockout window; `retry_after` is in seconds."""

    status, slug, title = 429, "too-many-requests", "Too many requests"
    explanation = (
        "Too many attempts in a short time. Wait for the time in Retry-After, then try again."
    )

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class Refused(DomainError):
    """An envelope that is well formed but that this node will not accept."""

    status, slug, title = 422, "refused", "Envelope refused"
    explanation = (
        "A peer's envelope was well formed but this node will not accept it. Nothing was stored."
    )

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        # Every reason is catalogued in REFUSAL_REASONS (a test walks the code for them).
        self.slug = reason


# Why a peer's envelope or request was refused: each reason is its own problem type.
REFUSAL_REASONS: dict[str, str] = {
    "malformed": "The envelope is not of the contract's form (DESIGN section 4).",
    "invalid-payload": "The sealed payload opened but broke its schema; `errors` names the fields.",
    "wrong-addressee": "The envelope is addressed to an area or key this node does not hold.",
    "wrong-area": "The request names an area other than the one it is authenticated as.",
    "unknown-key": "The sender's key is not among the keys pinned for that peer.",
    "expired-key": "The envelope is signed by, or sealed to, a key past its grace period.",
    "revoked-key": "The envelope or request is signed by, or sealed to, a revoked key; it is"
    " refused even if it was sent before the revocation. Confirm the new bundle by phone.",
    "bad-evidence": "The audit evidence (leaf, inclusion proof, checkpoint) does not verify.",
    "audit-fork": "The sender presented a second root for a tree size it already signed.",
    "unsupported-type": "This node does not accept that payload type or version.",
    "unknown-transfer": "The reply names a transfer this node does not hold with that peer.",
    "unknown-request": "The reply answers a request this node does not hold.",
    "mismatched-request": "The reply does not match the request it answers.",
    "unexpected-acknowledgement": "The transfer is not in a state that takes an acknowledgement.",
    "unexpected-answer": "The transfer is not in a state that takes that answer.",
    "unexpected-document": "The transfer is not in a state that takes documents.",
    "unexpected-forward-request": "The transfer is not in a state that takes a forward request.",
    "unexpected-information-request": "The transfer is not in a state that takes a request.",
    "document-mismatch": "The document's bytes do not match the signed digest, size or type.",
    "already-withdrawn": "The transfer was already withdrawn.",
    "not-held": "The flag or case named is not held here.",
    "unreadable-request": "The request could not be opened with this node's keys.",
    "unsupported-media-type": "The document's type is not on the allow-list.",
}
for _reason, _text in REFUSAL_REASONS.items():
    register_problem(_reason, "Envelope refused", _text)


def field_errors(messages: Any) -> dict[str, Any]:
    """Marshmallow's messages, which name the field and the rule but never echo the value.
    Keys become strings: a form part without a name is reported under `None`, and the
    problem document's keys are sorted."""
    found = _string_keys(messages)
    return found if isinstance(found, dict) else {"_schema": found}


def _string_keys(messages: Any) -> Any:
    if isinstance(messages, dict):
        return {str(key): _string_keys(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_string_keys(item) for item in messages]
    return messages
