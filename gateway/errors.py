"""Domain errors. Flask-free: the web layer renders them as RFC 9457 problem documents and
the CLI as a message and a non-zero exit. Details never echo a value from the request."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://marac-gateway.example/problems/"


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    def problem(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = self.errors
        return doc


class Malformed(DomainError):
    status, slug, title = 400, "malformed", "Malformed request"


class Invalid(DomainError):
    status, slug, title = 422, "invalid", "Validation failed"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Not authenticated"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(DomainError):
    """The thing existed and the caller may know it did, but its content is gone for good
    (a transfer withdrawn by its sender before the receiving area opened it)."""

    status, slug, title = 410, "gone", "Gone"


class Restricted(Forbidden):
    """A restricted case (honour-based violence, position of trust): only the users the
    receiving area named may open it; everyone else may know it exists, nothing more."""

    slug, title = "restricted-case", "Restricted case"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class TooManyRequests(DomainError):
    """A rate limit or lockout window; `retry_after` is in seconds."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class Refused(DomainError):
    """An envelope that is well formed but that this node will not accept."""

    status, slug, title = 422, "refused", "Envelope refused"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.slug = reason


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
