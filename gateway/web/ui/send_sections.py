"""The send journey's task list: its sections in the order of the MARAC referral form
(seed 004's form; DESIGN section 4, `transfer_request`), and the questions on each page.

Every field of the `transfer_request` schema is reachable from exactly one page here; the
questions name the payload paths the schema validates, so a page can never accept what the
API refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.web.ui.code_words import DOCUMENT_KINDS
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
from schemas.wire.transfer_request import RELOCATION_REASONS, V1_REASON_GROUNDS

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
    ("forced_marriage", "Forced marriage"),
    ("position_of_trust", "Someone involved is in a position of trust"),
    ("other", "Another reason"),
)
RISK_TO = (
    ("victim", "The victim"),
    ("child", "A child"),
    ("other", "Someone else"),
    ("staff", "Staff"),
)
# Lawful bases only: from version 2 on, why consent was not sought is its own question.
GROUNDS = tuple(
    (code, label) for code, label in LEGAL_GROUNDS.items() if code not in V1_REASON_GROUNDS.values()
)
NOT_SEEKING = (
    ("would_increase_risk", "Seeking it would increase the risk to the victim or others"),
    (
        "would_prejudice_crime_prevention",
        "Seeking it would prejudice the prevention or detection of a serious crime",
    ),
    ("would_cause_undue_delay", "Seeking it would cause undue delay in protecting someone"),
)
MONITORING = (("yes", "Yes"), ("no", "No"), ("not_known", "Not known or not given"))


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
    keys: tuple[str, ...]  # the request fields the section fills (`documents.to_follow`)
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
            "heard_at_originating_marac",
            "Has the case been heard at your MARAC?",
            noun="whether the case has been heard at your MARAC",
            kind=YESNO,
            required=True,
            hint="No, for example, after an incident while the victim was visiting your area",
        ),
        Question(
            "last_marac_date",
            "Date the case was last heard at your MARAC",
            kind=DATE,
            hint="Needed if it was heard. For example, 27 3 2026",
        ),
        Question(
            "marac_count_last_12_months",
            "How many times the case was heard at your MARAC in the last 12 months",
            kind=NUMBER,
            width="govuk-input--width-3",
            hint="Needed if it was heard",
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

URGENCY = Page(
    "urgency",
    "Is this transfer urgent?",
    (
        Question(
            "urgent",
            "Is this transfer urgent?",
            noun="whether the transfer is urgent",
            kind=YESNO,
            required=True,
            hint="For example, an emergency MARAC is needed before the next meeting",
        ),
        Question("urgent_reason", "Why it is urgent", kind=TEXTAREA, hint="Needed if it is"),
    ),
)

# Safe contact, one thing a page (seed 004 referral form: "Is this number safe to call?").
CONTACT_PAGES = (
    Page(
        "contact-allowed",
        "May the receiving MARAC contact the victim?",
        (
            Question(
                "contact.do_not_contact",
                "Must the victim not be contacted?",
                noun="whether the victim must not be contacted",
                kind=YESNO,
                required=True,
                hint="Yes, if contacting the victim would increase the risk to them",
            ),
            Question(
                "contact.do_not_contact_reason",
                "Why the victim must not be contacted",
                kind=TEXTAREA,
                hint="Needed if they must not be contacted",
            ),
        ),
    ),
    Page(
        "contact-phone",
        "The victim's phone number",
        (
            Question("contact.phone", "Phone number", personal=True, width="govuk-input--width-20"),
            Question(
                "contact.safe_to_call",
                "Is this number safe to call?",
                noun="whether the number is safe to call",
                kind=YESNO,
                hint="Needed with a phone number",
            ),
            Question(
                "contact.safe_times",
                "Safe times to call",
                hint="For example, weekdays 10am to 12pm",
            ),
        ),
    ),
    Page(
        "contact-other",
        "Other safe ways to contact the victim",
        (
            Question(
                "contact.other_safe_ways",
                "Other safe ways to contact the victim",
                kind=TEXTAREA,
                hint="For example, only through the refuge key worker. Needed without a "
                "phone number that is safe to call",
            ),
        ),
    ),
)

EQUALITY = Page(
    "equality",
    "Equality monitoring (optional)",
    (
        Question("equality.bme", "Black or minority ethnic", kind=RADIOS, options=MONITORING),
        Question("equality.disabled", "Disabled", kind=RADIOS, options=MONITORING),
        Question(
            "equality.lgbt", "Lesbian, gay, bisexual or trans", kind=RADIOS, options=MONITORING
        ),
    ),
    hint="For monitoring only, as on the SafeLives data form. Never used to find or match anyone.",
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

NARRATIVE = Page(
    "referral",
    "What prompted the referral",
    (
        Question(
            "referral.incident",
            "The incident or information that prompted the referral",
            kind=TEXTAREA,
        ),
        Question("referral.contributory_factors", "Contributory factors", kind=TEXTAREA),
        Question("referral.relevant_history", "Relevant history", kind=TEXTAREA),
        Question(
            "referral.comment",
            "Your comment on the referral",
            kind=TEXTAREA,
            hint="Needed for professional judgement or potential escalation",
        ),
        Question(
            "referral.police_callouts_12_months",
            "Police call-outs in the last 12 months",
            kind=NUMBER,
            width="govuk-input--width-3",
        ),
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

# Documents that follow the transfer, or are not shared (seed 000 4.24.2: the minutes, the
# original referral and the rest are shared unless agreed otherwise). A document kind code
# each, so the case pages can tell when one has arrived.
DOCUMENTS_TO_FOLLOW = ListSection(
    "documents.to_follow",
    "Documents to follow",
    "document to follow",
    (
        Question(
            "document",
            "Which document will follow?",
            noun="which document will follow",
            kind=RADIOS,
            options=tuple(DOCUMENT_KINDS.items()),
            required=True,
        ),
        Question(
            "by",
            "When will you send it by?",
            noun="when you will send it",
            kind=DATE,
            required=True,
            hint="For example, 27 3 2027",
        ),
    ),
    hint=(
        "Documents you will send after the transfer, and by when. The receiving area sees "
        "which have arrived, and you are reminded if a date passes before you send one."
    ),
)

DOCUMENTS_NOT_SHARED = ListSection(
    "documents.not_shared",
    "Documents not shared",
    "document not shared",
    (
        Question(
            "document",
            "Which document is not shared?",
            noun="which document is not shared",
            kind=RADIOS,
            options=tuple(DOCUMENT_KINDS.items()),
            required=True,
        ),
        Question(
            "reason",
            "Why is it not shared?",
            noun="why it is not shared",
            kind=TEXTAREA,
            required=True,
        ),
    ),
    hint="Documents usually shared (such as the minutes) that you will not send, and why.",
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
        "consent-reasons",
        "Why was consent not sought?",
        (
            Question(
                "consent.not_seeking_reasons",
                "Why was consent not sought?",
                noun="why consent was not sought",
                kind=CHECKBOXES,
                options=NOT_SEEKING,
                hint="Needed only if consent was not sought. Select all that apply.",
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
                hint="Needed unless the victim consented",
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

IDVA = Page(
    "idva",
    "Your IDVA's contact for the handover (optional)",
    (
        Question("idva.name", "IDVA's name"),
        Question("idva.organisation", "Their service"),
        Question("idva.phone", "Phone", width="govuk-input--width-20"),
        Question("idva.email", "Email", kind=EMAIL),
    ),
    root="idva",
    hint="Give a phone or an email. Leave every answer empty if there is no IDVA.",
)

SECTIONS: tuple[Section, ...] = (
    Section("sender", "Your details", ("sender",), pages=(SENDER,)),
    Section(
        "case",
        "The case",
        ("originating_case_ref", "heard_at_originating_marac"),
        pages=(CASE,),
    ),
    Section("urgency", "Urgency", ("urgent",), pages=(URGENCY,)),
    Section("move", "The move", ("move",), pages=(MOVE,), relocation_only=True),
    Section("victim", "The victim", ("victim",), pages=(VICTIM, EQUALITY)),
    Section("contact", "Contacting the victim safely", ("contact",), pages=CONTACT_PAGES),
    Section("perpetrators", "Perpetrators", ("perpetrators",), list=PERPETRATORS),
    Section("children", "Children", ("children",), list=CHILDREN),
    Section(
        "risk",
        "Reason for the referral",
        ("referral_criteria", "referral"),
        pages=(RISK, NARRATIVE),
    ),
    Section("risks", "Risks", ("risks",), list=RISKS),
    Section("outstanding_actions", "Outstanding actions", ("outstanding_actions",), list=ACTIONS),
    Section(
        "documents_to_follow",
        "Documents to follow",
        ("documents.to_follow",),
        list=DOCUMENTS_TO_FOLLOW,
    ),
    Section(
        "documents_not_shared",
        "Documents not shared",
        ("documents.not_shared",),
        list=DOCUMENTS_NOT_SHARED,
    ),
    Section("restriction", "Restricted case", ("restricted",), pages=(RESTRICTION,)),
    Section("consent", "Consent and lawful grounds", ("consent",), pages=CONSENT_PAGES),
    Section("idva", "IDVA handover", ("idva",), pages=(IDVA,)),
)

PAGES = {page.slug: page for section in SECTIONS for page in section.pages}
LISTS = {section.list.key: section.list for section in SECTIONS if section.list}
