"""The questions of the receiving area's actions on the case page and how their answers
become the API's JSON bodies (gateway/web/ui/forms.py for the framework). The schemas and
the domain judge the answers; this module only words what is missing the GOV.UK way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from gateway.web.ui import case_content as words
from gateway.web.ui.forms import (
    BLANK,
    CHECKBOXES,
    DATE,
    RADIOS,
    TEXTAREA,
    YESNO,
    Question,
    nest,
    plain,
)
from gateway.web.ui.layout import ErrorMap
from schemas.wire.acknowledgement import ACCEPTED, REDIRECT_REASON_WORDS, REDIRECTED
from schemas.wire.document import KINDS
from schemas.wire.forward_permission import REASONS as FORWARD_REASONS
from schemas.wire.idva_referral import OUTCOME_WORDS as IDVA_OUTCOME_WORDS

Choices = tuple[tuple[str, str], ...]


def person(prefix: str) -> list[Question]:
    return [
        Question(f"{prefix}.name", "Your name", required=True, width="govuk-!-width-one-half"),
        Question(
            f"{prefix}.role",
            "Your role",
            hint="For example, MARAC coordinator",
            required=True,
            width="govuk-!-width-one-half",
        ),
    ]


def worded(errors: ErrorMap, questions: Sequence[Question]) -> dict[str, str]:
    """A rule's "Required when ..." about an answer on this page worded as that answer
    missing ("Select the meeting the case is listed for"); everything else as it is."""
    by_path = {q.path: q for q in questions}
    return {
        path: plain(BLANK[0], by_path[path])
        if message.startswith("Required when") and path in by_path
        else message
        for path, message in errors.items()
    }


def without_blank(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def acknowledge_questions(
    dates: Sequence[date], areas: Choices, today: date, *, urgent: bool = False
) -> list[Question]:
    """Accept (listed for one of the area's coming meeting dates, or a date when it has
    none) or redirect to one of `areas`. A past meeting is never offered (seed 000 4.5.2).
    An urgent transfer may instead be listed for an emergency meeting on another date
    (seed 000 4.22, 001 4.3.1): one more choice, and its date boxes."""
    upcoming = [d for d in dates if d >= today]
    emergency = (EMERGENCY, "An emergency meeting on another date") if urgent else None
    listed = (
        Question(
            "listed_for",
            "Which meeting is the case listed for?",
            kind=RADIOS,
            noun="the meeting the case is listed for",
            options=tuple((d.isoformat(), words.long_date(d)) for d in upcoming)
            + ((emergency,) if emergency else ()),
        )
        if upcoming
        else Question(
            "listed_for",
            "Which meeting is the case listed for?",
            kind=DATE,
            noun="the date of the meeting the case is listed for",
            hint="For example, 27 3 2027",
        )
    )
    return [
        Question(
            "status",
            "What is your answer?",
            noun="whether you accept or redirect the case",
            kind=RADIOS,
            options=(
                (ACCEPTED, "Accept the case and list it for a meeting"),
                (REDIRECTED, "Redirect it to the area it belongs to"),
            ),
        ),
        listed,
        *(
            [
                Question(
                    EMERGENCY_DATE,
                    "Date of the emergency meeting",
                    kind=DATE,
                    noun="the date of the emergency meeting",
                    hint="Only if you chose an emergency meeting. For example, 27 3 2027",
                )
            ]
            if emergency and upcoming
            else []
        ),
        Question(
            "idva_referred",
            "Has a referral to the IDVA service been made?",
            kind=YESNO,
            required=True,
            noun="yes if a referral to the IDVA service has been made",
        ),
        Question(
            "receiving_case_ref",
            "Your case reference (optional)",
            hint="Your own reference for this case, if you have one",
            width="govuk-input--width-20",
        ),
        Question(
            "redirect_to",
            "Which area should the case go to?",
            noun="the area the case should go to",
            kind=RADIOS,
            options=areas,
        ),
        Question(
            "redirect_reason",
            "Why does the case go there?",
            noun="why the case goes to another area",
            kind=RADIOS,
            options=tuple(REDIRECT_REASON_WORDS.items()),
            hint="With another reason, say why in the note",
        ),
        Question("note", "Note for the sending area (optional)", kind=TEXTAREA),
        *person("acknowledged_by"),
    ]


ACCEPT_ONLY = ("listed_for", "receiving_case_ref")
REDIRECT_ONLY = ("redirect_to", "redirect_reason")
# The acknowledge page's choice of an emergency meeting and the date it gives; the body
# carries that date as `listed_for` (the page's own answers, not the API's).
EMERGENCY, EMERGENCY_DATE = "emergency", "emergency_date"


def acknowledgement_body(answers: dict[str, Any]) -> dict[str, Any]:
    """The branch not chosen is hidden on the page (conditional reveal), so its answers
    are not part of the answer. An emergency meeting is listed for the date given."""
    chosen = answers.get("status")
    dropped = REDIRECT_ONLY if chosen == ACCEPTED else ACCEPT_ONLY if chosen == REDIRECTED else ()
    answers = dict(answers)
    emergency_date = answers.pop(EMERGENCY_DATE, None)
    if answers.get("listed_for") == EMERGENCY:
        answers["listed_for"] = emergency_date
    kept = {k: v for k, v in answers.items() if k not in dropped}
    return without_blank(nest(kept)) | {"idva_referred": kept.get("idva_referred")}


def request_questions() -> list[Question]:
    return [
        Question(
            "what",
            "What do you need from the sending area?",
            noun="what you need from the sending area",
            kind=CHECKBOXES,
            hint="Select all that apply",
            options=tuple((kind, words.words(words.DOCUMENT_KINDS, kind)) for kind in KINDS),
        ),
        Question("note", "Anything else they should know (optional)", kind=TEXTAREA),
        *person("requested_by"),
    ]


def idva_referral_questions() -> list[Question]:
    """The referral to this area's IDVA service, reported after the acknowledgement."""
    return [
        Question(
            "referred_on",
            "When was the victim referred to your IDVA service?",
            kind=DATE,
            noun="the date of the referral to the IDVA service",
            hint="For example, 27 3 2027",
        ),
        Question(
            "idva_service",
            "Which IDVA service?",
            required=True,
            noun="the IDVA service",
            hint="The service or agency, not a person",
            width="govuk-!-width-two-thirds",
        ),
        Question(
            "outcome",
            "Has the IDVA service taken the case? (optional)",
            kind=RADIOS,
            noun="whether the IDVA service took the case",
            options=tuple(IDVA_OUTCOME_WORDS.items()),
            hint="Leave this if you do not know yet",
        ),
        Question("note", "Note for the sending area (optional)", kind=TEXTAREA),
        *person("reported_by"),
    ]


def ask_forward_questions(areas: Choices) -> list[Question]:
    return [
        Question(
            "forward_to",
            "Which area do you want to forward the case to?",
            noun="the area you want to forward the case to",
            kind=RADIOS,
            options=areas,
        ),
        Question(
            "reason",
            "Why?",
            noun="why you want to forward the case",
            kind=RADIOS,
            options=tuple((r, words.words(words.REASONS, r)) for r in FORWARD_REASONS),
        ),
        Question("note", "Note for the sending area (optional)", kind=TEXTAREA),
        *person("requested_by"),
    ]
