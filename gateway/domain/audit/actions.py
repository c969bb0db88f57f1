"""The vocabulary of audit actions. A leaf's `action` is one of these; reports and the
subject-access search rely on the names, so they never change meaning once released.

Hooks for features that land later say so where they live:
document.downloaded (documents), forward.* (workflow), flag.* and lookup (flags).
"""

AREA_CREATED = "area.created"
KEYS_ROTATED = "keys.rotated"
PEER_IMPORTED = "peer.imported"
TRANSFER_SENT = "transfer.sent"  # the disclosure: sealed and queued for the peer
TRANSFER_HELD = "transfer.awaiting_approval"  # decided after the meeting: nothing left yet
TRANSFER_APPROVED = "transfer.approved"  # a chair released a held transfer
TRANSFER_DELIVERED = "transfer.delivered"
TRANSFER_FAILED = "transfer.failed"
ENVELOPE_RECEIVED = "envelope.received"
# The receiving area's coordinator answered a transfer (a disclosure back to the sender)...
ACKNOWLEDGEMENT_SENT = "acknowledgement.sent"
# ...and the sending area applied that answer to its transfer (reports time this).
ACKNOWLEDGEMENT_RECEIVED = "acknowledgement.received"
CONTENT_OPENED = "content.opened"
AUDIT_EXPORTED = "audit.exported"
SUBJECT_ACCESS = "audit.subject_access"
PEER_VERIFIED = "audit.peer_verified"
PEER_INCONSISTENT = "audit.peer_inconsistent"
COSIGNED = "audit.cosigned"
RETENTION_PURGED = "retention.purged"
USER_ROLE_GRANTED = "user.role_granted"
CLIENT_CREATED = "client.created"
TOKEN_ISSUED = "client.token_issued"  # noqa: S105 - an action name, not a secret
LOGIN = "login"
LOGIN_FAILED = "login.failed"
LOGOUT = "logout"
# Shared flags (DESIGN section 6). Leaves carry ids, dates and counts, never a name.
FLAG_SET = "flag.set"
FLAG_EXTENDED = "flag.extended"
FLAG_EXPIRED = "flag.expired"
FLAG_CLEARED = "flag.cleared"
FLAG_POLICY = "flag.policy_changed"
FLAG_NOTICE_SENT = "flag_notice.sent"
FLAG_NOTICE_RECEIVED = "flag_notice.received"
FLAG_VERIFICATION_SENT = "flag.verification_sent"
FLAG_VERIFICATION_RECEIVED = "flag.verification_received"
LOOKUP = "lookup"  # match counts only, never the query
LINKAGE_EVALUATED = "linkage.evaluated"  # the authority, per calling area, counts only
INDEX_PUBLISHED = "index.published"
INDEX_MATCHED = "index.matched"
INDEX_RELAYED = "index.relayed"  # a sealed verification request passed on, unread
