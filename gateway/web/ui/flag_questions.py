"""What the flag pages ask (gateway/web/ui/flags.py). The answers are validated by the flag
wire schemas (schemas/wire/flags.py) through the domain services; nothing here is a rule."""

from __future__ import annotations

from gateway.web.ui.flag_words import ANSWER_WORDS, ROLE_CHOICES
from gateway.web.ui.forms import DATE, LINES, RADIOS, TEXTAREA, YESNO, Question
from schemas.wire.flags import CHILD, CLEAR, EXTEND, PERPETRATOR

# How many subjects a flag may have is the schema's (MAX_SUBJECTS); this is only how
# many boxes the page draws before "Add another person".
SUBJECT = "subjects"
LOCAL, TRANSFER = "local", "transfer"
SOURCE_WORDS = (
    (LOCAL, "This area's own MARAC meeting"),
    (TRANSFER, "A transfer to or from another area"),
)


def person_questions(prefix: str = "") -> tuple[Question, ...]:
    """The person as the linkage tokens need them (seed 004): names, date of birth, other
    names. `prefix` is the subject's path ("subjects.0") or "" for a lookup."""
    at = f"{prefix}." if prefix else ""
    return (
        Question(f"{at}given_names", "Given names", required=True, personal=True),
        Question(f"{at}family_name", "Family name", required=True, personal=True),
        Question(
            f"{at}date_of_birth",
            "Date of birth",
            kind=DATE,
            hint="For example, 27 3 1987. Without it no shared token can be made.",
            personal=True,
        ),
        Question(
            f"{at}aliases",
            "Other names they are known by (optional)",
            kind=LINES,
            hint="One a line",
            personal=True,
        ),
        Question(
            f"{at}previous_family_names",
            "Previous family names (optional)",
            kind=LINES,
            hint="One a line",
            personal=True,
        ),
    )


def subject_questions(index: int) -> tuple[Question, ...]:
    prefix = f"{SUBJECT}.{index}"
    role = Question(
        f"{prefix}.role",
        "Who is this person in the case?",
        kind=RADIOS,
        options=ROLE_CHOICES,
        required=True,
        noun="who this person is in the case",
    )
    return (role, *person_questions(prefix))


CASE_REF_QUESTION = Question(
    "case_ref",
    "Your area's case reference",
    required=True,
    width="govuk-input--width-20",
    noun="your area's case reference",
)
REVIEWED = Question(
    "reviewed_at",
    "Date of the MARAC review",
    kind=DATE,
    hint="The flag lasts 12 calendar months from this date. For example, 14 11 2026",
    required=True,
    noun="the date of the MARAC review",
)
SOURCE = Question(
    "source",
    "Where did the case come to this area's MARAC from?",
    kind=RADIOS,
    options=SOURCE_WORDS,
    required=True,
    noun="where the case came from",
)
TRANSFER_ID = "transfer"
FLAG = (CASE_REF_QUESTION, REVIEWED, SOURCE)

REVIEW = (
    REVIEWED,
    Question(
        "outcome",
        "What did the review decide?",
        kind=RADIOS,
        options=(
            (EXTEND, "Keep the flag: it runs 12 months from this review"),
            (CLEAR, "Clear the flag: the case no longer needs it"),
        ),
        required=True,
        noun="what the review decided",
    ),
)

LOOKUP = person_questions()
NOTE = Question(
    "note",
    "A note for the area that holds the flag (optional)",
    kind=TEXTAREA,
    hint="For example, why you are asking. Do not repeat the person's details.",
)

# Victims are always shared (seed 004 2.5); the policy turns these two roles on or off.
POLICY_ROLES = {"perpetrators": PERPETRATOR, "children": CHILD}
POLICY = (
    Question(
        "perpetrators",
        "Share flags on perpetrators with other areas?",
        kind=YESNO,
        required=True,
        noun="whether to share flags on perpetrators",
    ),
    Question(
        "children",
        "Share flags on children with other areas?",
        kind=YESNO,
        required=True,
        noun="whether to share flags on children",
    ),
)

SHOW_ALL, EXPIRING, LAPSED = "all", "expiring", "lapsed"
EXPIRING_DAYS = 30
SHOW = Question(
    "show",
    "Show",
    kind=RADIOS,
    options=(
        (SHOW_ALL, "All flags"),
        (EXPIRING, f"Active flags expiring within {EXPIRING_DAYS} days"),
        (LAPSED, "Flags that lapsed since a date"),
    ),
)
SINCE = Question(
    "lapsed_since",
    "Lapsed since",
    kind=DATE,
    hint="Only for flags that lapsed since a date. For example, 1 10 2026",
    noun="the date the flags lapsed since",
)
FILTERS = (SHOW, SINCE)

# The holder's one question about a verification request (docs/contract.md).
ANSWER = Question(
    "answer",
    "Is this your case?",
    hint="Compare the person they describe with the people on your case.",
    kind=RADIOS,
    options=tuple(ANSWER_WORDS.items()),
    required=True,
    noun="whether this is your case",
)
