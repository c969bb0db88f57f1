"""How the case page words what the domain hands it (DESIGN section 8): the opened
`transfer_request` in the referral form's order, with the safe-contact facts and the
restrictions on use first; statuses, timeline steps, messages and document kinds in plain
English. Presentation only: what may be seen was decided by the domain before any of this
runs, and nothing here reads or writes the database.

A section is a heading and rows of (label, text); a list part (perpetrators, children,
risks, actions) is a heading and one card of rows per entry. Values are text, escaped by
the template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.casework.promised_documents import Promise
from gateway.web.ui.code_words import DOCUMENT_KINDS as DOCUMENT_KINDS
from gateway.web.ui.layout import UK, local_time
from schemas.wire.acknowledgement import REDIRECT_REASON_WORDS
from schemas.wire.grounds import ground_label
from schemas.wire.idva_referral import OUTCOME_WORDS as IDVA_OUTCOME_WORDS

Row = tuple[str, str]
NOT_GIVEN = "Not given"

REASONS = {
    "relocation_permanent": "The victim has moved permanently",
    "relocation_refuge": "The victim has moved to a refuge",
    "relocation_temporary": "The victim has moved temporarily",
    "risk_in_other_area": "The risk is in the receiving area",
    "other": "Another reason",
}
CRITERIA = {
    "visible_high_risk": "Visible high risk (DASH)",
    "professional_judgement": "Professional judgement",
    "potential_escalation": "Potential escalation",
    "repeat": "Repeat incident",
}
TO_WHOM = {"victim": "The victim", "child": "A child", "other": "Someone else", "staff": "Staff"}
RESTRICTED_REASONS = {
    "honour_based_violence": "Honour-based violence",
    "position_of_trust": "A person in a position of trust",
    "forced_marriage": "Forced marriage",
    "other": "Another reason",
}
INFORMED = {"yes": "Yes", "no": "No", "not_safe": "No, it was not safe to tell them"}
CONSENT = {
    "given": "Given",
    "refused": "Refused",
    "not_sought": "Not sought",
    "unable": "Unable to consent",
}
NOT_SEEKING = {
    "would_increase_risk": "Seeking it would increase the risk",
    "would_prejudice_crime_prevention": "Seeking it would prejudice preventing a serious crime",
    "would_cause_undue_delay": "Seeking it would cause undue delay",
}
MONITORING = {"yes": "Yes", "no": "No", "not_known": "Not known"}
FORUMS = {
    "at_meeting": "At the MARAC meeting",
    "chair_after_meeting": "By the chair after the meeting",
}
WITHDRAWAL_REASONS = {
    "sent_in_error": "Sent in error",
    "wrong_area": "Sent to the wrong area",
    "risk_changed": "The risk has changed",
    "victim_returned": "The victim has returned",
    "other": "Another reason",
}

# Status tags: words and a GOV.UK tag colour (the colour never carries meaning alone).
STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("Draft", "govuk-tag--grey"),
    "awaiting_approval": ("Waiting for a chair", "govuk-tag--yellow"),
    "queued": ("Sending", "govuk-tag--light-blue"),
    "failed": ("Not delivered", "govuk-tag--red"),
    "delivered": ("Delivered", "govuk-tag--blue"),
    "information_requested": ("Information asked for", "govuk-tag--purple"),
    "received": ("Waiting for acknowledgement", "govuk-tag--yellow"),
    "acknowledged": ("Acknowledged", "govuk-tag--green"),
    "redirected": ("Redirected", "govuk-tag--orange"),
    "withdrawn": ("Withdrawn", "govuk-tag--grey"),
}

# Timeline steps: content-free kinds in words (gateway/domain/transfers/timeline.py).
STEPS = {
    "draft": "Draft saved",
    "awaiting_approval": "Held for a chair's approval",
    "approved": "Approved by a chair",
    "queued": "Sealed and queued for delivery",
    "delivered": "Delivered: the receiving node signed a receipt",
    "delivered_after_withdrawal": "Delivered after it was withdrawn",
    "failed": "Delivery failed",
    "received": "Received from the sending area",
    "acknowledged": "Acknowledged and listed for a meeting",
    "redirected": "Redirected to another area",
    "content_dropped": "Content dropped: the redirect reached the sending area",
    "information_requested": "More information asked for",
    "document_sent": "Document sent",
    "document_held": "Document held until the transfer is delivered",
    "document_received": "Document received",
    "withdrawn": "Withdrawn by the sending area",
    "forward_requested": "Permission to forward asked for",
    "forward_granted": "Permission to forward granted",
    "forward_refused": "Permission to forward refused",
    "forwarded": "Forwarded to a third area",
    "forwarded_from": "Forwarded here from a case received earlier",
    "repeat_incident": "Repeat incident reported",
    "repeat_incident_sent": "Repeat incident reported to the originating area",
    "repeat_incident_received": "Repeat incident reported by the receiving area",
    "idva_referral_sent": "Referral to the IDVA service reported to the sending area",
    "idva_referral_received": "Referral to the IDVA service reported by the receiving area",
    "flag_notice_sent": "Flag notice sent",
    "flag_notice_received": "Flag notice received",
    "access_named": "People named who may open this restricted case",
    "acknowledgement_reminder": "Reminder: the acknowledgement is overdue",
    "acknowledgement_overdue": "Warning: the receiving area has not acknowledged in time",
    "document_overdue": "Reminder: a document promised to follow is past its date",
    "reply_failed": "A reply could not be delivered",
    "reply_resent": "A reply was sent again",
    "reply_delivered": "A reply sent again was delivered",
    "legal_hold_set": "Legal hold set: kept until it is lifted",
    "legal_hold_lifted": "Legal hold lifted",
    "purged_early": "Content purged early by decision",
}
MESSAGE_TYPES = {
    "acknowledgement": "Acknowledgement",
    "information_request": "Request for information",
    "document": "Document",
    "withdrawal": "Withdrawal",
    "forward_permission": "Forwarding permission",
    "repeat_incident": "Repeat incident",
    "flag_notice": "Flag notice",
    "idva_referral": "Referral to the IDVA service",
}
DELIVERY = {
    "pending": "Sending",
    "delivered": "Delivered",
    "failed": "Not delivered",
    "cancelled": "Cancelled",
}


def words(table: Mapping[str, str], code: str | None) -> str:
    """A code in words; an unknown code is shown as itself, never dropped."""
    if code is None:
        return NOT_GIVEN
    return table.get(code, code.replace("_", " ").capitalize())


def kinds(what: Iterable[str]) -> str:
    """Document kinds asked for, in words."""
    return ", ".join(words(DOCUMENT_KINDS, kind) for kind in what) or NOT_GIVEN


def answer(status: str) -> str:
    """The receiving area's answer to an outbound transfer, as far as the sender knows."""
    return {
        "acknowledged": "Accepted and listed for a meeting",
        "redirected": "Redirected to another area",
        "withdrawn": "None: the transfer was withdrawn",
    }.get(status, "Not yet")


def status_tag(status: str) -> dict[str, str]:
    text, colour = STATUSES.get(status, (words({}, status), "govuk-tag--grey"))
    return {"text": text, "classes": colour}


def long_date(value: dt.date | str | None) -> str:
    if value is None or value == "":
        return NOT_GIVEN
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return day.strftime("%-d %B %Y")


def moment(value: dt.datetime | str | None) -> str:
    """`3 December 2026 at 4:35pm`, UK time."""
    if value is None or value == "":
        return NOT_GIVEN
    try:
        when = (
            value
            if isinstance(value, dt.datetime)
            else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
    except ValueError:
        return str(value)
    return f"{when.astimezone(UK).strftime('%-d %B %Y')} at {local_time(when)}"


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return NOT_GIVEN
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _name(person: Mapping[str, Any]) -> str:
    parts = [person.get("given_names"), person.get("family_name")]
    return " ".join(str(p) for p in parts if p) or NOT_GIVEN


@dataclass(frozen=True)
class Section:
    heading: str
    rows: list[Row] = field(default_factory=list)
    # A list part: one card of rows per entry, titled.
    cards: list[tuple[str, list[Row]]] = field(default_factory=list)
    empty: str = ""


def safety(content: Mapping[str, Any]) -> Section:
    """What a coordinator must read before contacting anyone, first on the page: whether
    the transfer is urgent, the restrictions the sending MARAC placed on the information,
    and how (or whether) the victim may be contacted."""
    consent = content.get("consent") or {}
    rows: list[Row] = []
    if content.get("urgent"):
        rows.append(("Urgent", f"Yes: {_text(content.get('urgent_reason'))}"))
    rows.append(("Restrictions on use", _text(consent.get("restrictions"))))
    contact = content.get("contact")
    rows += _contact_rows(contact) if contact else _v1_contact_rows(content.get("move"))
    rows.append(("Not safe to talk to", _text(content.get("not_safe_to_talk_to"))))
    return Section("Before you contact anyone", rows)


def _contact_rows(contact: Mapping[str, Any]) -> list[Row]:
    """Version 2: the victim's contact, on every transfer."""
    if contact.get("do_not_contact"):
        return [
            ("Do not contact the victim", _text(contact.get("do_not_contact_reason"))),
            ("Phone number (do not call)", _text(contact.get("phone"))),
        ]
    return [
        ("Phone number", _text(contact.get("phone"))),
        ("Safe to call this number", _text(contact.get("safe_to_call"))),
        ("Safe times to call", _text(contact.get("safe_times"))),
        ("Other safe ways to make contact", _text(contact.get("other_safe_ways"))),
    ]


def _v1_contact_rows(move: Mapping[str, Any] | None) -> list[Row]:
    """Version 1: safe contact travels only with a move."""
    if not move:
        return [
            (
                "Safe contact",
                "The sending area recorded no move and no safe-contact details. Ask them "
                "before you contact the victim.",
            )
        ]
    safe = move.get("safe_contact") or {}
    return [
        ("Safe to contact the victim the usual way", _text(move.get("contact_safe"))),
        ("Safe phone number", _text(safe.get("phone"))),
        ("Safe times to call", _text(safe.get("times"))),
        ("How to make contact safely", _text(safe.get("notes"))),
    ]


def sections(content: Mapping[str, Any]) -> list[Section]:
    """The case in the referral form's order, after the safety section."""
    return [
        _sender(content),
        _case(content),
        _move(content),
        _victim(content),
        _perpetrators(content),
        _children(content),
        _referral(content),
        _risks(content),
        _actions(content),
        _documents(content),
        _restriction(content),
        _consent(content),
        _idva(content),
    ]


def _sender(content: Mapping[str, Any]) -> Section:
    sender = content.get("sender") or {}
    return Section(
        "Sender",
        [
            ("Name", _text(sender.get("name"))),
            ("Role", _text(sender.get("role"))),
            ("Mailbox", _text(sender.get("mailbox"))),
        ],
    )


def _case(content: Mapping[str, Any]) -> Section:
    criteria = content.get("referral_criteria") or []
    heard = content.get("heard_at_originating_marac")
    return Section(
        "Case",
        [
            ("Reason for the transfer", words(REASONS, content.get("reason"))),
            ("Sending area's case reference", _text(content.get("originating_case_ref"))),
            ("Heard at the sending MARAC", NOT_GIVEN if heard is None else _text(heard)),
            ("Last MARAC meeting", long_date(content.get("last_marac_date"))),
            ("MARACs in the last 12 months", _text(content.get("marac_count_last_12_months"))),
            ("Referral criteria", ", ".join(words(CRITERIA, c) for c in criteria) or NOT_GIVEN),
            ("DASH score", _text(content.get("dash_score"))),
            ("Date of the incident", long_date(content.get("incident_date"))),
        ],
    )


def _move(content: Mapping[str, Any]) -> Section:
    move = content.get("move")
    if not move:
        return Section("Move", empty="No move was recorded (the risk is in this area).")
    rows = [
        ("Date of the move", long_date(move.get("date"))),
        ("New address", _text(move.get("new_address"))),
    ]
    if "contact_safe" in move:  # version 1: safe contact travels with the move
        rows += _v1_contact_rows(move)
    return Section("Move", rows)


def _victim(content: Mapping[str, Any]) -> Section:
    victim = content.get("victim") or {}
    return Section(
        "Victim",
        [
            ("Name", _name(victim)),
            ("Other names used", _text(victim.get("aliases"))),
            ("Previous family names", _text(victim.get("previous_family_names"))),
            ("Date of birth", long_date(victim.get("date_of_birth"))),
            ("Gender", _text(victim.get("gender"))),
            ("Address", _text(victim.get("address"))),
            ("Language", _text(victim.get("language"))),
            ("Needs an interpreter", _text(victim.get("interpreter_needed"))),
            *_equality_rows(content.get("equality")),
        ],
    )


def _equality_rows(equality: Mapping[str, Any] | None) -> list[Row]:
    if not equality:
        return []
    return [
        ("Black or minority ethnic", words(MONITORING, equality.get("bme"))),
        ("Disabled", words(MONITORING, equality.get("disabled"))),
        ("Lesbian, gay, bisexual or trans", words(MONITORING, equality.get("lgbt"))),
    ]


def _referral(content: Mapping[str, Any]) -> Section:
    referral = content.get("referral")
    if referral is None:
        return Section("What prompted the referral", empty="Not recorded (an older transfer).")
    return Section(
        "What prompted the referral",
        [
            ("Incident or information", _text(referral.get("incident"))),
            ("Contributory factors", _text(referral.get("contributory_factors"))),
            ("Relevant history", _text(referral.get("relevant_history"))),
            ("Comment", _text(referral.get("comment"))),
            ("Police call-outs in 12 months", _text(referral.get("police_callouts_12_months"))),
        ],
    )


def promised_document(document: str) -> str:
    """A promised or withheld document: its kind in words, or the sender's own words."""
    return DOCUMENT_KINDS.get(document, document)


def promise_tag(promise: Promise, inbound: bool) -> dict[str, str]:
    """Where a promised document stands (seed 000 4.24.2), as a tag: kept, still missing,
    or overdue (red) once its date has passed."""
    if promise.kept:
        return {"text": "Received" if inbound else "Sent", "classes": "govuk-tag--green"}
    if promise.overdue:
        return {"text": "Overdue", "classes": "govuk-tag--red"}
    return {"text": "Still missing", "classes": "govuk-tag--yellow"}


def _documents(content: Mapping[str, Any]) -> Section:
    plan = content.get("documents") or {}
    follow = [
        f"{promised_document(str(d.get('document')))} by {long_date(d.get('by'))}"
        for d in plan.get("to_follow") or []
    ]
    withheld = [
        f"{promised_document(str(d.get('document')))}: {d.get('reason')}"
        for d in plan.get("not_shared") or []
    ]
    if not follow and not withheld:
        return Section("Documents promised", empty="None recorded.")
    return Section(
        "Documents promised",
        [
            ("To follow", "\n".join(follow) or NOT_GIVEN),
            ("Not shared, and why", "\n".join(withheld) or NOT_GIVEN),
        ],
    )


def _idva(content: Mapping[str, Any]) -> Section:
    idva = content.get("idva")
    if not idva:
        return Section("IDVA handover", empty="No IDVA contact given.")
    return Section(
        "IDVA handover",
        [
            ("Name", _text(idva.get("name"))),
            ("Service", _text(idva.get("organisation"))),
            ("Phone", _text(idva.get("phone"))),
            ("Email", _text(idva.get("email"))),
        ],
    )


def _cards(
    title: str, entries: Iterable[Mapping[str, Any]], rows: Any
) -> list[tuple[str, list[Row]]]:
    return [(f"{title} {index}", rows(entry)) for index, entry in enumerate(entries, start=1)]


def _perpetrators(content: Mapping[str, Any]) -> Section:
    def rows(p: Mapping[str, Any]) -> list[Row]:
        return [
            ("Name", _name(p)),
            ("Other names used", _text(p.get("aliases"))),
            ("Date of birth", long_date(p.get("date_of_birth"))),
            ("Address", _text(p.get("address"))),
            ("Relationship to the victim", _text(p.get("relationship_to_victim"))),
        ]

    found = content.get("perpetrators") or []
    return Section("Perpetrators", cards=_cards("Perpetrator", found, rows), empty="None recorded.")


def _children(content: Mapping[str, Any]) -> Section:
    def rows(c: Mapping[str, Any]) -> list[Row]:
        born = c.get("expected_date") is None
        return [
            ("Name", _name(c) if c.get("given_names") or c.get("family_name") else "Unborn"),
            (
                "Date of birth" if born else "Expected date of birth",
                long_date(c.get("date_of_birth") if born else c.get("expected_date")),
            ),
            ("Relationship to the victim", _text(c.get("relationship_to_victim"))),
            ("Relationship to the perpetrator", _text(c.get("relationship_to_perpetrator"))),
            ("Address", _text(c.get("address"))),
            ("School", _text(c.get("school"))),
        ]

    found = content.get("children") or []
    return Section("Children", cards=_cards("Child", found, rows), empty="None recorded.")


def _risks(content: Mapping[str, Any]) -> Section:
    def rows(r: Mapping[str, Any]) -> list[Row]:
        return [
            ("Risk", _text(r.get("risk"))),
            ("At risk", words(TO_WHOM, r.get("to_whom"))),
            ("Interventions", _text(r.get("interventions"))),
        ]

    return Section(
        "Reason and risks",
        rows=[
            ("Afraid of", _text(content.get("afraid_of"))),
            ("Safe to talk to", _text(content.get("safe_to_talk_to"))),
            ("Not safe to talk to", _text(content.get("not_safe_to_talk_to"))),
            ("New information", _text(content.get("new_information"))),
        ],
        cards=_cards("Risk", content.get("risks") or [], rows),
    )


def _actions(content: Mapping[str, Any]) -> Section:
    def rows(a: Mapping[str, Any]) -> list[Row]:
        return [
            ("Agency", _text(a.get("agency"))),
            ("Action", _text(a.get("action"))),
            ("Due", long_date(a.get("due"))),
        ]

    found = content.get("outstanding_actions") or []
    return Section("Outstanding actions", cards=_cards("Action", found, rows), empty="None.")


def _restriction(content: Mapping[str, Any]) -> Section:
    restricted = bool(content.get("restricted"))
    rows: list[Row] = [("Restricted case", "Yes" if restricted else "No")]
    if restricted:
        rows.append(("Why", words(RESTRICTED_REASONS, content.get("restricted_reason"))))
    return Section("Restriction", rows)


def _consent(content: Mapping[str, Any]) -> Section:
    consent = content.get("consent") or {}
    decided_by = consent.get("decided_by") or {}
    grounds = consent.get("grounds") or []
    return Section(
        "Consent and lawful grounds",
        [
            ("Victim told about the transfer", words(INFORMED, consent.get("victim_informed"))),
            ("Victim's consent", words(CONSENT, consent.get("consent"))),
            ("Lawful grounds", "\n".join(ground_label(g) for g in grounds) or NOT_GIVEN),
            *_not_seeking_rows(consent),
            ("The risk the disclosure addresses", _text(consent.get("rationale"))),
            ("What is disclosed", _text(consent.get("disclosed"))),
            ("Restrictions on use", _text(consent.get("restrictions"))),
            (
                "Decided by",
                ", ".join(str(v) for v in (decided_by.get("name"), decided_by.get("role")) if v)
                or NOT_GIVEN,
            ),
            ("Decided on", moment(consent.get("decided_at"))),
            ("Where it was decided", words(FORUMS, consent.get("decision_forum"))),
            (
                "Agencies that agreed to share the minutes",
                _text(consent.get("minutes_sharing_agreed_by")),
            ),
        ],
    )


def _not_seeking_rows(consent: Mapping[str, Any]) -> list[Row]:
    reasons = consent.get("not_seeking_reasons") or []
    if not reasons:
        return []
    return [("Why consent was not sought", "\n".join(words(NOT_SEEKING, r) for r in reasons))]


def step_words(kind: str, detail: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One timeline step in words, with the few codes it carries (never content)."""
    text = words(STEPS, kind)
    area = detail.get("forward_to")
    if isinstance(area, str):
        text += f" ({names.get(area, area)})"
    kind_of = detail.get("document_kind")
    if isinstance(kind_of, str):
        text += f": {words(DOCUMENT_KINDS, kind_of).lower()}"
    what = detail.get("what")
    if isinstance(what, str) and what:
        text += ": " + ", ".join(words(DOCUMENT_KINDS, w).lower() for w in what.split(","))
    if detail.get("emergency_meeting") is True:
        text += " (an emergency meeting)"
    reason = detail.get("reason")
    if kind == "withdrawn" and isinstance(reason, str):
        text += f": {words(WITHDRAWAL_REASONS, reason).lower()}"
    return text


def who(actor: Mapping[str, str] | None) -> str:
    """Who took a step, as the timeline records it: a role or a system, never a name."""
    if not actor:
        return ""
    kind = actor.get("kind")
    if kind == "peer":
        return "The other area"
    if kind in ("system", "operator"):
        return "The gateway"
    if kind == "client":
        return "A connected case system"
    role = actor.get("role")
    return role.capitalize() if role else "Someone in this area"


# A reply's payload (gateway/domain/casework/messages.py), field by field in words.
MESSAGE_LABELS = {
    "status": "Answer",
    "listed_for": "Listed for",
    "idva_referred": "Referral to the IDVA service made",
    "receiving_case_ref": "Their case reference",
    "redirect_to": "Redirected to",
    "redirect_reason": "Why",
    "note": "Note",
    "acknowledged_by": "Acknowledged by",
    "what": "Asked for",
    "requested_by": "Asked by",
    "reason": "Reason",
    "withdrawn_by": "Withdrawn by",
    "kind": "What this is",
    "forward_to": "Third area",
    "decided_by": "Decided by",
    "incident_date": "Date of the incident",
    "summary": "Summary",
    "reported_by": "Reported by",
    "last_referral_date": "Date of the last referral",
    "referred_on": "Referred to the IDVA service on",
    "idva_service": "IDVA service",
    "outcome": "Outcome",
}
MESSAGE_SKIPPED = frozenset({"schema_version", "from_area", "to_area", "request_id"})
ANSWERS = {"accepted": "Accepted and listed for a meeting", "redirected": "Redirected"}
PERMISSION_KINDS = {
    "request": "A request for permission to forward",
    "grant": "Permission granted",
    "refusal": "Permission refused",
}
AREA_FIELDS = frozenset({"redirect_to", "forward_to"})


def message_rows(kind: str, content: Mapping[str, Any], names: Mapping[str, str]) -> list[Row]:
    """The opened reply's fields in words, in the payload's order."""
    return [
        (MESSAGE_LABELS.get(key, words({}, key)), _message_value(kind, key, value, names))
        for key, value in content.items()
        if key not in MESSAGE_SKIPPED
    ]


def _message_value(kind: str, key: str, value: Any, names: Mapping[str, str]) -> str:
    if value is None:
        return NOT_GIVEN
    if key in AREA_FIELDS and isinstance(value, str):
        return names.get(value, value)
    if key == "what" and isinstance(value, list):
        return kinds(value)
    if key == "status":
        return words(ANSWERS, str(value))
    if key == "kind":
        return words(PERMISSION_KINDS, str(value))
    if key == "redirect_reason":
        return words(REDIRECT_REASON_WORDS, str(value))
    if key == "outcome":
        return words(IDVA_OUTCOME_WORDS, str(value))
    if key == "reason":
        table = WITHDRAWAL_REASONS if kind == "withdrawal" else REASONS
        return words(table, str(value))
    if isinstance(value, Mapping):
        return ", ".join(str(v) for v in value.values() if v not in (None, "")) or NOT_GIVEN
    if key.endswith("date") or key in ("listed_for", "referred_on"):
        return long_date(str(value))
    return _text(value)


# --- structured minutes (seed 002 appendix 3) ----------------------------------------------

ENTRY_KINDS = {
    "fact": "Fact",
    "professional_judgement": "Professional judgement",
    # Version 1's word for the same thing (seed 002 8.4 "professional opinion").
    "opinion": "Professional judgement (opinion)",
}


def minutes_sections(minutes: Mapping[str, Any]) -> list[Section]:
    """Minutes of either format version as summary cards: who agreed to share them first
    (version 2's `sharing_agreed_by`; a version 1 sender states it as the MARAC's last
    fact entry), then the meeting, each entry with its kind and source, the actions."""
    agreed = minutes.get("sharing_agreed_by")
    sharing = Section(
        "Sharing",
        [
            (
                "Agencies that agreed to share these minutes",
                "\n".join(str(a) for a in agreed)
                if agreed
                else "Not recorded in these minutes (sent in an older format)",
            )
        ],
    )
    attendees = [
        str(a.get("agency")) + (f" (covers {a['area']})" if a.get("area") else "")
        for a in minutes.get("attendees") or []
    ]
    meeting = Section(
        "The meeting",
        [
            ("Meeting date", _text(minutes.get("meeting_date"))),
            ("MARAC", _text(minutes.get("marac"))),
            ("Attendees", "\n".join(attendees) or NOT_GIVEN),
            ("Referral basis", _text(minutes.get("referral_basis"))),
        ],
    )
    entries = Section(
        "What was shared",
        cards=[
            (
                f"{ENTRY_KINDS.get(str(e.get('kind')), str(e.get('kind')))} from "
                f"{e.get('source_agency')}",
                [("Shared", _text(e.get("text")))],
            )
            for e in minutes.get("entries") or []
        ],
    )
    actions = Section(
        "Actions agreed",
        cards=[
            (
                str(a.get("agency")),
                [("Action", _text(a.get("action"))), ("Due", _text(a.get("due")))],
            )
            for a in minutes.get("actions") or []
        ],
        empty="No actions recorded.",
    )
    return [sharing, meeting, entries, actions]
