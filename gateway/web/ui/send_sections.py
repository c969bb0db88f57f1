"""The send journey's task list: its sections in the order of the MARAC referral form
(seed 004's form; DESIGN section 4, `transfer_request`), and the questions on each page.

Every field of the `transfer_request` schema is reachable from exactly one page here; the
questions name the payload paths the schema validates, so a page can never accept what the
API refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.web.ui.forms import (
    CHECKBOXES,
    DATE,
    EMAIL,
    LINES,
    MOMENT,
    NUMBER,
    RADIOS,
    TEXTAREA,
    YESNO,
    Question,
)
from schemas.wire.grounds import LEGAL_GROUNDS
from schemas.wire.transfer_request import RELOCATION_REASONS

REASONS = (
    ("relocation_permanent", "The victim has moved to your area permanently"),
    ("relocation_refuge", "The victim has moved to a refuge in their area"),
    ("relocation_temporary", "The victim is staying in their area for a while"),
    ("risk_in_other_area", "The risk is in their area (the victim has not moved)"),
)
# How each reason reads in a sentence about the transfer.
REASON_WORDS = {
    "relocation_permanent": "Permanent move",
    "relocation_refuge": "Move to a refuge",
    "relocation_temporary": "Temporary move",
    "risk_in_other_area": "Risk in the other area",
}
CRITERIA = (
    ("visible_high_risk", "Visible high risk (DASH score of 14 or more)"),
    ("professional_judgement", "Professional judgement"),
    ("potential_escalation", "Potential escalation"),
    ("repeat", "Repeat referral within 12 months"),
)
INFORMED = (
    ("yes", "Yes, the victim was told"),
    ("no", "No"),
    ("not_safe", "No, it was not safe to tell them"),
)
CONSENT = (
    ("given", "Yes, the victim consented"),
    ("refused", "No, the victim refused"),
    ("not_sought", "Consent was not sought"),
    ("unable", "The victim was unable to consent"),
)
FORUMS = (
    ("at_meeting", "At the MARAC meeting"),
    ("chair_after_meeting", "By the chair after the meeting (a chair must approve it here)"),
)
RESTRICTED_REASONS = (
    ("honour_based_violence", "Honour-based violence"),
    ("position_of_trust", "Someone involved is in a position of trust"),
    ("other", "Another reason"),
)
RISK_TO = (
    ("victim", "The victim"),
    ("child", "A child"),
    ("other", "Someone else"),
    ("staff", "Staff"),
)
GROUNDS = tuple(LEGAL_GROUNDS.items())


@dataclass(frozen=True)
class Page:
    """One question page. `root` set: the page edits that object whole (paths start with
    it); otherwise each path is one field of the request (`consent.grounds` sets one answer
    within consent)."""

    slug: str
    title: str
    questions: tuple[Question, ...]
    root: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class ListSection:
    """Several of a thing ("add another"): each item edited on its own page."""

    key: str
    title: str
    item: str  # "perpetrator": "Add a perpetrator", "Perpetrator 1"
    questions: tuple[Question, ...]
    hint: str | None = None


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    keys: tuple[str, ...]  # the request fields the section fills
    pages: tuple[Page, ...] = ()
    list: ListSection | None = None
    relocation_only: bool = False

    def applies(self, reason: str | None) -> bool:
        return not self.relocation_only or reason in RELOCATION_REASONS

    @property
    def first_href_slug(self) -> str:
        return self.pages[0].slug if self.pages else self.slug


SENDER = Page(
    "sender",
    "Your details",
    (
        Question("sender.name", "Your full name", required=True, width="govuk-!-width-two-thirds"),
        Question("sender.role", "Your role", hint="For example, MARAC coordinator", required=True),
        Question(
            "sender.mailbox",
            "The secure mailbox the other area should reply to",
            kind=EMAIL,
            required=True,
        ),
    ),
    root="sender",
    hint="The receiving MARAC sees these details so that it knows who to contact.",
)

CASE = Page(
    "case",
    "The case at your MARAC",
    (
        Question(
            "originating_case_ref",
            "Your MARAC's reference for this case",
            required=True,
            personal=True,
            width="govuk-input--width-20",
        ),
        Question(
            "last_marac_date",
            "Date the case was last heard at your MARAC",
            kind=DATE,
            required=True,
            hint="For example, 27 3 2026",
        ),
        Question(
            "marac_count_last_12_months",
            "How many times the case was heard at your MARAC in the last 12 months",
            kind=NUMBER,
            required=True,
            width="govuk-input--width-3",
        ),
        Question(
            "incident_date",
            "Date of the incident that prompted the referral (if there was one)",
            kind=DATE,
        ),
    ),
)

MOVE = Page(
    "move",
    "The move",
    (
        Question(
            "move.date",
            "Date of the move",
            kind=DATE,
            required=True,
            hint="It can be in the future for a planned move",
        ),
        Question(
            "move.new_address",
            "The new address",
            kind=TEXTAREA,
            personal=True,
            hint="Leave this empty for a refuge whose address is withheld",
        ),
        Question(
            "move.contact_safe",
            "Is it safe to contact the victim in the usual way?",
            noun="whether it is safe to contact the victim in the usual way",
            kind=YESNO,
            required=True,
        ),
        Question(
            "move.safe_contact.phone",
            "A safe phone number",
            personal=True,
            hint="Needed if the usual way is not safe, unless you give notes below",
            width="govuk-input--width-20",
        ),
        Question(
            "move.safe_contact.times",
            "Safe times to call",
            hint="For example, weekdays 10am to 12pm",
        ),
        Question(
            "move.safe_contact.notes",
            "Other safe ways to make contact",
            kind=TEXTAREA,
            hint="For example, only through the refuge key worker",
        ),
    ),
    root="move",
)

VICTIM = Page(
    "victim",
    "The victim",
    (
        Question("victim.given_names", "Given names", required=True, personal=True),
        Question("victim.family_name", "Family name", required=True, personal=True),
        Question(
            "victim.aliases",
            "Other names they are known by",
            kind=LINES,
            personal=True,
            hint="One on each line",
        ),
        Question(
            "victim.previous_family_names",
            "Previous family names",
            kind=LINES,
            personal=True,
            hint="One on each line",
        ),
        Question(
            "victim.date_of_birth",
            "Date of birth",
            kind=DATE,
            personal=True,
            hint="Leave empty if you do not know it",
        ),
        Question("victim.gender", "Gender", width="govuk-input--width-10"),
        Question("victim.address", "Current address", kind=TEXTAREA, personal=True),
        Question("victim.language", "Preferred language", width="govuk-input--width-10"),
        Question(
            "victim.interpreter_needed",
            "Does the victim need an interpreter?",
            noun="whether the victim needs an interpreter",
            kind=YESNO,
        ),
    ),
    root="victim",
)

PERPETRATORS = ListSection(
    "perpetrators",
    "Perpetrators",
    "perpetrator",
    (
        Question("given_names", "Given names", personal=True),
        Question("family_name", "Family name", personal=True),
        Question(
            "aliases",
            "Other names or street names",
            kind=LINES,
            personal=True,
            hint="One on each line",
        ),
        Question("date_of_birth", "Date of birth", kind=DATE, personal=True),
        Question("address", "Address", kind=TEXTAREA, personal=True),
        Question(
            "relationship_to_victim", "Relationship to the victim", hint="For example, ex-partner"
        ),
    ),
    hint="Give at least one name or alias for each person.",
)

CHILDREN = ListSection(
    "children",
    "Children",
    "child",
    (
        Question("given_names", "Given names", personal=True),
        Question("family_name", "Family name", personal=True),
        Question(
            "date_of_birth",
            "Date of birth",
            kind=DATE,
            personal=True,
            hint="For a child who has been born",
        ),
        Question(
            "expected_date",
            "Expected date of birth",
            kind=DATE,
            hint="For an unborn child, instead of a date of birth",
        ),
        Question("relationship_to_victim", "Relationship to the victim"),
        Question("relationship_to_perpetrator", "Relationship to the perpetrator"),
        Question(
            "address", "Address, if different from the victim's", kind=TEXTAREA, personal=True
        ),
        Question("school", "School or nursery"),
    ),
    hint="Include unborn children.",
)

RISK = Page(
    "risk",
    "Reason for the referral",
    (
        Question(
            "referral_criteria",
            "Why the case was referred to your MARAC",
            kind=CHECKBOXES,
            options=CRITERIA,
            required=True,
            hint="Select all that apply",
        ),
        Question(
            "dash_score",
            "DASH risk checklist score (0 to 27)",
            kind=NUMBER,
            width="govuk-input--width-3",
            hint="Needed when the referral is for visible high risk",
        ),
        Question("afraid_of", "What the victim is afraid of", kind=TEXTAREA),
        Question("safe_to_talk_to", "Who it is safe to talk to", kind=TEXTAREA),
        Question("not_safe_to_talk_to", "Who it is not safe to talk to", kind=TEXTAREA),
        Question("new_information", "Anything new since the last meeting", kind=TEXTAREA),
    ),
)

RISKS = ListSection(
    "risks",
    "Risks",
    "risk",
    (
        Question("risk", "The risk", kind=TEXTAREA, required=True),
        Question("to_whom", "Who is at risk", kind=RADIOS, options=RISK_TO),
        Question("interventions", "What has been done about it", kind=TEXTAREA),
    ),
)

ACTIONS = ListSection(
    "outstanding_actions",
    "Outstanding actions",
    "action",
    (
        Question("agency", "Agency", required=True),
        Question("action", "Action", kind=TEXTAREA, required=True),
        Question("due", "Due by", kind=DATE),
    ),
    hint="Actions from your MARAC's plan that are not finished yet.",
)

RESTRICTION = Page(
    "restriction",
    "Restricted case",
    (
        Question(
            "restricted",
            "Should only named people in their area see this case?",
            noun="whether the case is restricted",
            kind=YESNO,
            required=True,
            hint="For example, honour-based violence, or someone in a position of trust",
        ),
        Question(
            "restricted_reason",
            "Why is the case restricted?",
            noun="why the case is restricted",
            kind=RADIOS,
            options=RESTRICTED_REASONS,
        ),
    ),
)

CONSENT_PAGES = (
    Page(
        "consent-informed",
        "Was the victim told about this transfer?",
        (
            Question(
                "consent.victim_informed",
                "Was the victim told about this transfer?",
                noun="whether the victim was told",
                kind=RADIOS,
                options=INFORMED,
                required=True,
            ),
        ),
    ),
    Page(
        "consent-given",
        "Did the victim consent to sharing?",
        (
            Question(
                "consent.consent",
                "Did the victim consent to sharing?",
                noun="whether the victim consented",
                kind=RADIOS,
                options=CONSENT,
                required=True,
            ),
        ),
    ),
    Page(
        "consent-grounds",
        "Which lawful grounds allow the sharing?",
        (
            Question(
                "consent.grounds",
                "Which lawful grounds allow the sharing?",
                noun="at least one lawful ground",
                kind=CHECKBOXES,
                options=GROUNDS,
                hint="Needed unless the victim consented. Select all that apply.",
            ),
        ),
    ),
    Page(
        "consent-disclosure",
        "What is shared and why",
        (
            Question(
                "consent.rationale",
                "The risk the sharing addresses",
                kind=TEXTAREA,
                hint="Needed when you rely on lawful grounds",
            ),
            Question(
                "consent.disclosed",
                "What is disclosed",
                kind=TEXTAREA,
                hint="Needed unless the victim consented",
            ),
            Question(
                "consent.restrictions",
                "Restrictions on what the receiving area may do",
                kind=TEXTAREA,
            ),
            Question(
                "consent.minutes_sharing_agreed_by",
                "Agencies that agreed to share their part of the minutes",
                kind=LINES,
                hint="One agency on each line",
            ),
        ),
    ),
    Page(
        "consent-decision",
        "Who decided to share",
        (
            Question("consent.decided_by.name", "Name of the person who decided", required=True),
            Question(
                "consent.decided_by.role",
                "Their role",
                required=True,
                hint="For example, MARAC chair",
            ),
            Question(
                "consent.decided_at",
                "When the decision was made",
                kind=MOMENT,
                required=True,
                hint="UK time. For example, 27 3 2026 and 14:30",
            ),
            Question(
                "consent.decision_forum",
                "Where the decision was made",
                kind=RADIOS,
                options=FORUMS,
                required=True,
            ),
        ),
    ),
)

SECTIONS: tuple[Section, ...] = (
    Section("sender", "Your details", ("sender",), pages=(SENDER,)),
    Section(
        "case",
        "The case",
        ("originating_case_ref", "last_marac_date", "marac_count_last_12_months"),
        pages=(CASE,),
    ),
    Section("move", "The move", ("move",), pages=(MOVE,), relocation_only=True),
    Section("victim", "The victim", ("victim",), pages=(VICTIM,)),
    Section("perpetrators", "Perpetrators", ("perpetrators",), list=PERPETRATORS),
    Section("children", "Children", ("children",), list=CHILDREN),
    Section("risk", "Reason for the referral", ("referral_criteria",), pages=(RISK,)),
    Section("risks", "Risks", ("risks",), list=RISKS),
    Section("outstanding_actions", "Outstanding actions", ("outstanding_actions",), list=ACTIONS),
    Section("restriction", "Restricted case", ("restricted",), pages=(RESTRICTION,)),
    Section("consent", "Consent and lawful grounds", ("consent",), pages=CONSENT_PAGES),
)

PAGES = {page.slug: page for section in SECTIONS for page in section.pages}
LISTS = {section.list.key: section.list for section in SECTIONS if section.list}
