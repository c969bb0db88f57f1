"""What the sending area's case pages ask (gateway/web/ui/outbound.py) and the words they
use for the domain's codes. The answers are validated by the wire schemas' body loaders,
through the domain services; nothing here is a rule."""

from __future__ import annotations

from gateway.web.ui.forms import CHECKBOXES, DATE, RADIOS, TEXT, TEXTAREA, YESNO, Question
from gateway.web.ui.send_sections import RESTRICTED_REASONS
from schemas.wire.forward_permission import GRANTED, REFUSED
from schemas.wire.withdrawal import REASONS as WITHDRAWAL_REASONS

WITHDRAWAL_WORDS = {
    "sent_in_error": "It was sent in error",
    "wrong_area": "It went to the wrong area",
    "risk_changed": "The risk has changed",
    "victim_returned": "The victim has come back to this area",
    "other": "Another reason",
}
assert set(WITHDRAWAL_WORDS) == set(WITHDRAWAL_REASONS)  # noqa: S101 - every reason has words
MESSAGE_WORDS = {
    "acknowledgement": "Acknowledgement",
    "document": "Document",
    "information_request": "Request for more information",
    "withdrawal": "Withdrawal",
    "forward_permission": "Answer about forwarding",
    "repeat_incident": "Repeat incident notice",
    "idva_referral": "Referral to the IDVA service",
}
# Not for the case's subjects: whoever acts signs with their name and role (seed 001 5.1).
YOUR_NAME = "Your name"
YOUR_ROLE = "Your role"
ROLE_HINT = "For example, MARAC coordinator"


def _signer(prefix: str) -> tuple[Question, Question]:
    return (
        Question(
            f"{prefix}.name", YOUR_NAME, kind=TEXT, required=True, width="govuk-!-width-one-half"
        ),
        Question(
            f"{prefix}.role",
            YOUR_ROLE,
            kind=TEXT,
            hint=ROLE_HINT,
            required=True,
            width="govuk-!-width-one-half",
        ),
    )


WITHDRAW = (
    Question(
        "reason",
        "Why are you withdrawing the transfer?",
        kind=RADIOS,
        options=tuple(WITHDRAWAL_WORDS.items()),
        required=True,
        noun="why you are withdrawing the transfer",
    ),
    Question(
        "note",
        "Note for the receiving area (optional)",
        kind=TEXTAREA,
        hint="For example, what they should do with anything they have already read.",
    ),
    *_signer("withdrawn_by"),
)
REPEAT = (
    Question(
        "incident_date",
        "When did the incident happen?",
        kind=DATE,
        noun="the date of the incident",
        hint=(
            "It must be within 12 months of the case's last MARAC referral. For example, 27 3 2026"
        ),
        required=True,
    ),
    Question("summary", "What happened (optional)", kind=TEXTAREA),
    *_signer("reported_by"),
)
DECIDE = (
    Question(
        "decision",
        "May they forward the case?",
        kind=RADIOS,
        options=((GRANTED, "Yes, they may forward it to that area"), (REFUSED, "No")),
        required=True,
        noun="whether they may forward the case",
    ),
    Question("note", "Note for the area that asked (optional)", kind=TEXTAREA),
    *_signer("decided_by"),
)


def grant_terms(documents: tuple[tuple[str, str], ...]) -> tuple[Question, ...]:
    """What a grant may set (forward_permission version 2, seed 004 ISP 3.4, 3.5): the
    originating area's restrictions on the third area and the documents that may go with
    the case (`documents`: (id, words) of those exchanged on it)."""
    terms = (
        Question(
            "restrictions",
            "Restrictions on how that area may use the case (optional)",
            kind=TEXTAREA,
            hint="Only with a yes. They travel with the case and are shown there first.",
        ),
        Question(
            "restricted",
            "Should only named people in that area see the case? (optional)",
            noun="whether the case is restricted there",
            kind=YESNO,
        ),
        Question(
            "restricted_reason",
            "Why is the case restricted?",
            noun="why the case is restricted",
            kind=RADIOS,
            options=RESTRICTED_REASONS,
        ),
    )
    if not documents:
        return terms
    return (
        *terms,
        Question(
            "documents",
            "Which documents may go with the case? (optional)",
            kind=CHECKBOXES,
            options=documents,
            hint="Only these may be sent on; the case itself always goes.",
        ),
    )
