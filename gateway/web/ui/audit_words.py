"""How the auditor's pages word the audit's codes: each action, the actor's role, a legal
ground, a consent position and a subject access decision, in plain English, once. The
codes are the domain's (gateway/domain/audit/actions.py, schemas/wire/grounds.py); these
are only their words."""

from __future__ import annotations

from typing import Any

from gateway.domain.audit import actions
from gateway.web.ui.send_sections import CONSENT
from schemas.api.audit import SUBJECT_DECISIONS
from schemas.wire.grounds import LEGAL_GROUNDS

ACTIONS: dict[str, str] = {
    actions.AREA_CREATED: "Area set up",
    actions.KEYS_ROTATED: "Area keys replaced",
    actions.PEER_IMPORTED: "Peer area added",
    actions.KEY_REVOKED: "Area key revoked",
    actions.PEER_KEYS_ROTATED: "Peer area's new keys accepted",
    actions.PEER_BUNDLE_WAITING: "Peer area's new keys wait for the fingerprint",
    actions.PEER_KEY_REVOKED: "Peer area's key revoked",
    actions.TRANSFER_DRAFTED: "Transfer drafted",
    actions.TRANSFER_DRAFT_DELETED: "Draft deleted",
    actions.TRANSFER_SENT: "Transfer sent (disclosure)",
    actions.TRANSFER_HELD: "Transfer held for a chair",
    actions.TRANSFER_APPROVED: "Transfer approved by a chair",
    actions.TRANSFER_DELIVERED: "Transfer delivered",
    actions.TRANSFER_FAILED: "Transfer not delivered",
    actions.ENVELOPE_RECEIVED: "Received from a peer area",
    actions.ACKNOWLEDGEMENT_SENT: "Acknowledgement sent",
    actions.ACKNOWLEDGEMENT_RECEIVED: "Acknowledgement received",
    actions.ACKNOWLEDGEMENT_REMINDED: "Reminder to acknowledge",
    actions.ACKNOWLEDGEMENT_OVERDUE: "Acknowledgement overdue",
    actions.AREA_MEETINGS_SET: "Meeting dates changed",
    actions.AREA_SETTINGS_SET: "Area settings changed",
    actions.CONTENT_OPENED: "Case opened",
    actions.MESSAGE_OPENED: "Reply opened",
    actions.MESSAGE_RESENT: "Reply sent again",
    actions.DOCUMENT_SENT: "Document sent (disclosure)",
    actions.DOCUMENT_HELD: "Document held until delivery",
    actions.DOCUMENT_RECEIVED: "Document received",
    actions.DOCUMENT_DOWNLOADED: "Document downloaded",
    actions.DOCUMENT_OVERDUE: "Document promised and not sent",
    actions.INFORMATION_REQUEST_SENT: "More information asked for",
    actions.INFORMATION_REQUEST_RECEIVED: "Request for information received",
    actions.AUDIT_EXPORTED: "Audit exported",
    actions.SUBJECT_ACCESS: "Subject access search",
    actions.SUBJECT_ACCESS_DECIDED: "Subject access decision",
    actions.PEER_VERIFIED: "Peer's log checked: consistent",
    actions.PEER_INCONSISTENT: "Peer's log checked: inconsistent",
    actions.COSIGNED: "Checkpoint witnessed",
    actions.RETENTION_PURGED: "Records purged (retention)",
    actions.USER_ROLE_GRANTED: "Role given to a user",
    actions.CLIENT_CREATED: "API client created",
    actions.TOKEN_ISSUED: "API token issued",
    actions.LOGIN: "Signed in",
    actions.LOGIN_FAILED: "Sign-in failed",
    actions.LOGOUT: "Signed out",
    actions.TRANSFER_WITHDRAWN: "Transfer withdrawn",
    actions.WITHDRAWAL_RECEIVED: "Withdrawal received",
    actions.FORWARD_REQUESTED: "Permission to forward asked for",
    actions.FORWARD_REQUEST_RECEIVED: "Request to forward received",
    actions.FORWARD_GRANTED: "Forwarding allowed",
    actions.FORWARD_REFUSED: "Forwarding refused",
    actions.FORWARD_ANSWER_RECEIVED: "Answer about forwarding received",
    actions.FORWARD_SENT: "Case forwarded (disclosure)",
    actions.REPEAT_INCIDENT_SENT: "Repeat incident reported",
    actions.REPEAT_INCIDENT_RECEIVED: "Repeat incident received",
    actions.IDVA_REFERRAL_SENT: "Referral to the IDVA service reported",
    actions.IDVA_REFERRAL_RECEIVED: "Referral to the IDVA service report received",
    actions.ACCESS_NAMED: "People named for a restricted case",
    actions.FLAG_SET: "Flag set",
    actions.FLAG_EXTENDED: "Flag extended",
    actions.FLAG_EXPIRED: "Flag expired",
    actions.FLAG_CLEARED: "Flag cleared",
    actions.FLAG_POLICY: "Flag rules changed",
    actions.FLAG_NOTICE_SENT: "Flag notice sent",
    actions.FLAG_NOTICE_RECEIVED: "Flag notice received",
    actions.FLAG_VERIFICATION_SENT: "Flag check asked for",
    actions.FLAG_VERIFICATION_RECEIVED: "Flag check received",
    actions.LOOKUP: "Flag search",
    actions.LINKAGE_EVALUATED: "Matching service used",
    actions.INDEX_PUBLISHED: "Flag index published",
    actions.INDEX_MATCHED: "Flag index matched",
    actions.INDEX_RELAYED: "Flag check passed on",
}
ROLES = {
    "coordinator": "Coordinator",
    "chair": "Chair",
    "auditor": "Auditor",
    "admin": "Administrator",
}
KINDS = {
    "client": "Case system (API)",
    "peer": "Peer area",
    "operator": "Operator (command line)",
    "system": "The gateway itself",
}
CONSENT_WORDS = dict(CONSENT)
NO_GROUND = "consent"  # the report's key for a disclosure on consent alone
DECISIONS = dict(
    zip(
        SUBJECT_DECISIONS,
        (
            "Disclosed",
            "Partly disclosed",
            "Withheld",
            "Referred to the agency that supplied the information",
        ),
        strict=True,
    )
)


def action_words(code: str) -> str:
    return ACTIONS.get(code, code.replace(".", ": ").replace("_", " ").capitalize())


def actor_words(actor: dict[str, Any]) -> str:
    """The actor's role, never who they are: a user's id stays in the export."""
    if actor.get("kind") == "user":
        return ROLES.get(str(actor.get("role")), "User")
    return KINDS.get(str(actor.get("kind")), str(actor.get("kind", "")))


def ground_words(code: str) -> str:
    """A legal ground's short name (its label up to the colon)."""
    if code == NO_GROUND:
        return "Consent (no other ground)"
    return LEGAL_GROUNDS.get(code, code).split(":")[0]


def consent_words(code: str | None) -> str:
    if not code or code == "unknown":
        return "Not recorded"
    return CONSENT_WORDS.get(code, code)
