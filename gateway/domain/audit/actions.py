"""The vocabulary of audit actions. A leaf's `action` is one of these; reports and the
subject-access search rely on the names, so they never change meaning once released.

Hooks for features that land later say so where they live:
flag.* and lookup (flags).
"""

AREA_CREATED = "area.created"
KEYS_ROTATED = "keys.rotated"
PEER_IMPORTED = "peer.imported"
KEY_REVOKED = "keys.revoked"  # an own key, revoked by an admin as compromised
PEER_KEYS_ROTATED = "peer.keys_rotated"  # a fetched bundle endorsed by the pinned key
PEER_BUNDLE_WAITING = "peer.bundle_waiting"  # a fetched bundle no pinned key endorsed
PEER_KEY_REVOKED = "peer.key_revoked"  # by the peer's own statement or by an admin here
TRANSFER_DRAFTED = "transfer.drafted"  # saved sealed to the area's own key: nothing left
TRANSFER_DRAFT_DELETED = "transfer.draft_deleted"  # a draft that never left, deleted
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
# No acknowledgement by the end of the limit's last working day: the receiving area was
# reminded, and the sending area warned (at most once per transfer and day each).
ACKNOWLEDGEMENT_REMINDED = "acknowledgement.reminded"
ACKNOWLEDGEMENT_OVERDUE = "acknowledgement.overdue"
# An area's meeting dates or acknowledgement limit changed.
AREA_MEETINGS_SET = "area.meetings_set"
AREA_SETTINGS_SET = "area.settings_set"
CONTENT_OPENED = "content.opened"
# One reply of a transfer's thread opened (acknowledgement, withdrawal, ...), and a reply
# the outbox gave up on queued again by a coordinator (the same envelope, the same id).
MESSAGE_OPENED = "message.opened"
MESSAGE_RESENT = "message.resent"
# Documents and information requests in reply to a transfer.
DOCUMENT_SENT = "document.sent"  # a disclosure: sealed and queued for the peer
DOCUMENT_HELD = "document.held"  # kept sealed to the area until its transfer is delivered
DOCUMENT_RECEIVED = "document.received"  # applied to the local transfer on arrival
DOCUMENT_DOWNLOADED = "document.downloaded"  # opened in memory and served
# A document the transfer said would follow is past its date unsent: the sending area
# was reminded (once per promise).
DOCUMENT_OVERDUE = "document.overdue"
INFORMATION_REQUEST_SENT = "information_request.sent"
INFORMATION_REQUEST_RECEIVED = "information_request.received"
AUDIT_EXPORTED = "audit.exported"
SUBJECT_ACCESS = "audit.subject_access"  # the search: its reference and match counts
SUBJECT_ACCESS_DECIDED = "audit.subject_access_decided"  # what was done with the request
PEER_VERIFIED = "audit.peer_verified"
PEER_INCONSISTENT = "audit.peer_inconsistent"
COSIGNED = "audit.cosigned"
RETENTION_PURGED = "retention.purged"
# A person's retention decision on one area's copy of a case (reason code, never the note).
RETENTION_HOLD_SET = "retention.hold_set"
RETENTION_HOLD_LIFTED = "retention.hold_lifted"
RETENTION_PURGED_EARLY = "retention.purged_early"
USER_ROLE_GRANTED = "user.role_granted"
# An admin's changes to people (gateway/domain/identity/people.py): a single-use link made
# (a new person, or a lost second factor reset), a role removed, a lock lifted; and the
# person setting their password through the link.
USER_INVITED = "user.invited"
USER_ROLE_REMOVED = "user.role_removed"
USER_UNLOCKED = "user.unlocked"
USER_SECOND_FACTOR_RESET = "user.second_factor_reset"
USER_PASSWORD_SET = "user.password_set"  # noqa: S105 - an action name, not a secret
CLIENT_CREATED = "client.created"
CLIENT_REVOKED = "client.revoked"
TOKEN_ISSUED = "client.token_issued"  # noqa: S105 - an action name, not a secret
LOGIN = "login"
LOGIN_FAILED = "login.failed"
LOGOUT = "logout"
# Casework after a transfer.
# The originating area took a transfer back (before it left: nothing was disclosed)...
TRANSFER_WITHDRAWN = "transfer.withdrawn"
# ...and the receiving area applied the withdrawal (content dropped if never opened).
WITHDRAWAL_RECEIVED = "withdrawal.received"
# A redirect reached the sender: the redirecting area dropped the content it held.
TRANSFER_CONTENT_DROPPED = "transfer.content_dropped"
# Forwarding to a third area: asked of the originating area, answered, applied, sent.
FORWARD_REQUESTED = "forward.requested"
FORWARD_REQUEST_RECEIVED = "forward.request_received"
FORWARD_GRANTED = "forward.granted"
FORWARD_REFUSED = "forward.refused"
FORWARD_ANSWER_RECEIVED = "forward.answer_received"
FORWARD_SENT = "forward.sent"  # the disclosure to the third area, with its legal basis
# A new incident within 12 months of the last referral, told to the area holding the case.
REPEAT_INCIDENT_SENT = "repeat_incident.sent"
REPEAT_INCIDENT_RECEIVED = "repeat_incident.received"
# The receiving area's report, after its acknowledgement, of the referral to its IDVA.
IDVA_REFERRAL_SENT = "idva_referral.sent"
IDVA_REFERRAL_RECEIVED = "idva_referral.received"
# Who may open a restricted case was set (user ids only).
ACCESS_NAMED = "transfer.access_named"
# A chair restricted this node's copy of a transfer after the fact (seed 001 4.5.3).
TRANSFER_RESTRICTED = "transfer.restricted"
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
FLAG_VERIFICATION_ANSWERED = "flag.verification_answered"  # the answer word, never the holder
FLAG_VERIFICATION_ANSWER_RECEIVED = "flag.verification_answer_received"
LOOKUP = "lookup"  # match counts only, never the query
LINKAGE_EVALUATED = "linkage.evaluated"  # the authority, per calling area, counts only
INDEX_PUBLISHED = "index.published"
INDEX_MATCHED = "index.matched"
INDEX_RELAYED = "index.relayed"  # a sealed verification request passed on, unread
INDEX_ANSWER_RELAYED = "index.answer_relayed"  # a sealed answer passed back, unread
# Backup and restore: an area's log restored from a backup (signed, sent to peers), and a
# peer's declaration that it did so, verified and kept (its lost checkpoints counted).
LOG_RESTORED = "audit.log_restored"
PEER_LOG_RESTORED = "audit.peer_log_restored"
