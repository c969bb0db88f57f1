"""Access-control matrix: every route of the app x every kind of caller, against an
explicit table. A route without a row fails the test, so a new route cannot ship without
someone deciding who may call it.

Callers are real: users signed in through the real login pages (password + TOTP), API
clients holding tokens from the real token endpoint, and a peer node presenting a valid
federation request token (signed by its area key for exactly this request).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.site import PEER, A, Site, make_site
from werkzeug.routing import Rule

from gateway.devtools.samples import sample_transfer
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.clock import utcnow
from keys import b64url_encode, issue_request_token
from keys.oprf import blind

FLAG_PERSON = {"given_names": "Matrix", "family_name": "Person", "date_of_birth": "1990-01-01"}
ELEMENT = blind(b"matrix").element

USERS_A = ("coordinator_a", "chair_a", "auditor_a", "admin_a")
USERS = (*USERS_A, "coordinator_b")
SCOPE_CLIENTS = {
    "client_transfers_read": "transfers:read",
    "client_transfers_write": "transfers:write",
    "client_flags_query": "flags:query",
    "client_flags_write": "flags:write",
    "client_audit_read": "audit:read",
}
PRINCIPALS = ("anonymous", *USERS, *SCOPE_CLIENTS, "peer")


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def row(default: int, **overrides: int) -> dict[str, int]:
    table = {principal: default for principal in PRINCIPALS}
    for key, status in overrides.items():
        assert key in PRINCIPALS, key
        table[key] = status
    return table


def users(status: int) -> dict[str, int]:
    return {name: status for name in USERS}


# (endpoint, method) -> caller -> status. Decisions worth reading:
# - Login pages are public; their POSTs need the CSRF token of a session, so a caller
#   without a session gets 403. A signed-in user is sent on (303).
# - Admins never see transfers, not even metadata; auditors see metadata, never content.
# - Another area's transfer is 404, not 403: existence does not leak across areas.
# - A federation request token is not an API token: 401 everywhere it is not the auth.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("health.healthz", "GET"): row(200),
    ("health.readyz", "GET"): row(200),
    # For the monitoring scraper's own token only (none set here): no caller's.
    ("health.metrics", "GET"): row(403),
    ("federation.bundle", "GET"): row(200),
    # The request token is checked before the body is read: without one, 401; the peer's
    # is valid, and the body `{}` is not an envelope.
    ("federation.receive_envelope", "POST"): row(401, peer=400),
    # The same for a batch: `{}` holds no `envelopes`.
    ("federation.receive_envelope_batch", "POST"): row(401, peer=400),
    ("ui.login", "GET"): row(200, **users(303)),
    ("ui.login_submit", "POST"): row(403, **users(401)),
    ("ui.second_factor", "GET"): row(303),
    ("ui.second_factor_submit", "POST"): row(403, **users(303)),
    ("ui.enrol", "GET"): row(303),
    ("ui.enrol_submit", "POST"): row(403, **users(303)),
    ("ui.logout", "POST"): row(403, **users(303)),
    ("ui.oidc_start", "GET"): row(404),  # no provider configured on this node
    ("ui.oidc_callback", "GET"): row(404),
    ("ui.home", "GET"): row(403, anonymous=401, peer=401, **users(200)),
    ("problems.problem_type", "GET"): row(200),
    ("ui.choose_area", "GET"): row(403, anonymous=401, peer=401, **users(200)),
    # The empty form chooses no area: the page again with its error.
    ("ui.choose_area_submit", "POST"): row(403, anonymous=401, peer=401, **users(400)),
    ("ui.keep_alive", "POST"): row(403, anonymous=401, peer=401, **users(200)),
    # The send journey: coordinators only. The matrix's transfer has been sent, so the
    # draft pages answer 409 to its own area's coordinator and 404 to another area's; an
    # empty start form is refused with its error summary (422).
    **{
        (endpoint, method): row(403, anonymous=401, peer=401, coordinator_a=a, coordinator_b=b)
        for endpoint, method, a, b in (
            ("send.start", "GET", 200, 200),
            ("send.start", "POST", 422, 422),
            ("send.task_list", "GET", 409, 404),
            ("send.question", "GET", 404, 404),  # the matrix's slug names no page
            ("send.question", "POST", 404, 404),
            ("send.list_page", "GET", 409, 404),
            ("send.list_page", "POST", 409, 404),
            ("send.item", "GET", 409, 404),
            ("send.item", "POST", 409, 404),
            ("send.remove_item", "POST", 409, 404),
            ("send.documents_page", "GET", 409, 404),
            ("send.documents_page", "POST", 409, 404),
            ("send.check", "GET", 409, 404),
            ("send.send_now", "POST", 409, 404),
            ("send.sent", "GET", 200, 404),
            ("send.delete", "GET", 409, 404),
            ("send.delete", "POST", 409, 404),
            ("send.deleted", "GET", 200, 200),
        )
    },
    # Your work and the transfers table: metadata, for whoever may list the area's
    # transfers (another area's coordinator sees their own area's); admins see none.
    ("work.transfers", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=200,
    ),
    # Chair approval: chairs only. By the time these run the matrix's transfer has been
    # withdrawn (api.withdraw_transfer): the check-answers view still opens it, approving
    # it is an illegal transition (409), and it was never approved (404).
    # The shared-flag pages: the list (and its printable list and CSV) for coordinators
    # and chairs of the area; setting, reviewing, lookups and verification requests for
    # coordinators; the sharing policy for admins. The matrix's flag id names no flag
    # (404); an empty form is refused with its error summary (422).
    **{
        (endpoint, "GET"): row(
            403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=200, chair_a=200
        )
        for endpoint in ("flags.flag_list", "flags.printable", "flags.lapsed_csv")
    },
    **{
        (endpoint, method): row(403, anonymous=401, peer=401, coordinator_a=a, coordinator_b=a)
        for endpoint, method, a in (
            ("flags.set_flag", "GET", 200),
            ("flags.set_flag", "POST", 422),
            ("flags.flag_set", "GET", 404),
            ("flags.review", "GET", 404),
            ("flags.review", "POST", 404),
            ("flags.reviewed", "GET", 404),
            ("flags.lookup_form", "GET", 200),
            ("flags.lookup_answer", "POST", 422),
            ("flags.ask", "POST", 422),
            ("flags.asked", "GET", 200),
            ("flags.verifications", "GET", 200),
            ("flags.answer", "GET", 404),
            ("flags.answer", "POST", 404),
            ("flags.answered", "GET", 404),
            ("flags.sent", "GET", 200),
        )
    },
    ("flags.policy", "GET"): row(403, anonymous=401, peer=401, admin_a=200),
    ("flags.policy", "POST"): row(403, anonymous=401, peer=401, admin_a=422),
    ("flags.policy_saved", "GET"): row(403, anonymous=401, peer=401, admin_a=200),
    ("chair.queue", "GET"): row(403, anonymous=401, peer=401, chair_a=200),
    ("chair.review", "GET"): row(403, anonymous=401, peer=401, chair_a=200),
    ("chair.approve", "POST"): row(403, anonymous=401, peer=401, chair_a=409),
    ("chair.approved", "GET"): row(403, anonymous=401, peer=401, chair_a=404),
    # Node administration: the area's admins only. The matrix posts empty forms (each
    # page again with its errors, 400) and names a person and a client that do not exist
    # (404); nothing was rotated, revoked, fetched or uploaded, so those confirmations are
    # 404 too, and the matrix's key id is pinned for no peer (404).
    **{
        (endpoint, method): row(403, anonymous=401, peer=401, admin_a=status)
        for endpoint, method, status in (
            ("admin.hub", "GET", 200),
            ("admin.area", "GET", 200),
            ("admin.bundle", "GET", 200),
            ("admin.rotate", "GET", 200),
            ("admin.rotate_submit", "POST", 400),
            ("admin.rotated", "GET", 404),
            ("admin.revoke_key", "GET", 200),
            ("admin.revoke_key_submit", "POST", 400),
            ("admin.revoked", "GET", 404),
            ("admin.pending_peer", "GET", 404),
            ("admin.revoke_peer_key", "GET", 404),
            ("admin.revoke_peer_key_submit", "POST", 404),
            ("admin.peer_list", "GET", 200),
            ("admin.import_peer", "GET", 200),
            ("admin.import_peer_submit", "POST", 400),
            ("admin.confirm_peer", "GET", 404),
            ("admin.confirm_peer_submit", "POST", 404),
            ("admin.client_list", "GET", 200),
            ("admin.new_client", "GET", 200),
            ("admin.new_client_submit", "POST", 400),
            ("admin.revoke_client", "GET", 404),
            ("admin.revoke_client_submit", "POST", 404),
            ("admin.meeting_page", "GET", 200),
            ("admin.add_meeting", "POST", 400),
            ("admin.remove_meeting", "POST", 400),
            ("admin.set_ack_limit", "POST", 400),
            ("admin.set_retention", "POST", 400),
            ("people.people_list", "GET", 200),
            ("people.add", "GET", 200),
            ("people.add_submit", "POST", 400),
            ("people.manage", "GET", 404),
            ("people.grant", "POST", 404),
            ("people.remove", "POST", 404),
            ("people.unlock", "POST", 404),
            ("people.reset", "GET", 404),
            ("people.reset_submit", "POST", 404),
        )
    },
    # First sign-in through a single-use link: public like the login pages (their POSTs
    # need a session's CSRF token); the matrix holds no link, so every page says it no
    # longer works (404).
    ("welcome.start", "GET"): row(404),
    ("welcome.start_submit", "POST"): row(403, **users(404)),
    ("welcome.password", "GET"): row(404),
    ("welcome.password_submit", "POST"): row(403, **users(404)),
    # The sending area's case actions: coordinators only, another area's get 404. The
    # transfer is withdrawn: its withdrawal page and confirmation show (200), an empty form
    # is refused with its error summary (422); the request, permission and message ids of
    # the matrix name nothing (404).
    **{
        (endpoint, method): row(403, anonymous=401, peer=401, coordinator_a=a, coordinator_b=404)
        for endpoint, method, a in (
            ("outbound.withdraw", "GET", 200),
            ("outbound.withdraw", "POST", 422),
            ("outbound.withdrawn", "GET", 200),
            ("outbound.repeat_incident", "GET", 200),
            ("outbound.repeat_incident", "POST", 422),
            ("outbound.repeat_incident_sent", "GET", 404),
            ("outbound.forward_permission", "GET", 404),
            ("outbound.forward_permission", "POST", 404),
            ("outbound.forward_permission_answered", "GET", 404),
            ("outbound.answer_request", "GET", 404),
            ("outbound.answer_request", "POST", 404),
            ("outbound.answer_sent", "GET", 404),
            ("outbound.resend", "POST", 404),
            ("outbound.resent", "GET", 404),
        )
    },
    ("api.token", "POST"): row(401),  # no client credentials in the request
    ("api.openapi", "GET"): row(200),
    ("api.create_transfer", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=201, client_transfers_write=201
    ),
    ("api.list_transfers", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=200,
        client_transfers_read=200,
    ),
    # The audit: auditors and audit:read clients of the area; content-free answers.
    ("api.list_audit", "GET"): row(
        403, anonymous=401, peer=401, auditor_a=200, client_audit_read=200
    ),
    ("api.verify_audit", "GET"): row(
        403, anonymous=401, peer=401, auditor_a=200, client_audit_read=200
    ),
    ("api.disclosure_report", "GET"): row(
        403, anonymous=401, peer=401, auditor_a=200, client_audit_read=200
    ),
    ("api.subject_access", "POST"): row(
        403, anonymous=401, peer=401, auditor_a=200, client_audit_read=200
    ),
    # A decision names a search of the area's log: entry 0 is the area's creation (404).
    ("api.subject_access_decision", "POST"): row(
        403, anonymous=401, peer=401, auditor_a=404, client_audit_read=404
    ),
    # The auditor's pages: the area's auditors only (never an API client). Empty forms
    # are refused with their error summary; the matrix's area holds no peer checkpoint and
    # has recorded no subject access decision (404).
    **{
        (endpoint, method): row(403, anonymous=401, peer=401, auditor_a=status)
        for endpoint, method, status in (
            ("auditing.log", "GET", 200),
            ("auditing.download", "POST", 400),
            ("auditing.report", "GET", 200),
            ("auditing.check", "GET", 200),
            ("auditing.check_peer", "POST", 404),
            ("auditing.subject_form", "GET", 200),
            ("auditing.subject_search", "POST", 422),
            ("auditing.subject_decision", "POST", 404),
            ("auditing.subject_decided", "GET", 404),
        )
    },
    # The accessibility statement and the cookies page are public.
    ("about.accessibility", "GET"): row(200),
    ("about.cookies", "GET"): row(200),
    # Peer audit endpoints authenticate by federation request token only.
    ("federation.audit_consistency", "POST"): row(401, peer=200),
    # The token is valid; the body `{}` is not a co-signature.
    ("federation.audit_cosignature", "POST"): row(422),
    # Workflow. The matrix's transfer is outbound and already queued: a chair of its area
    # reaches the state check (409), as do its coordinator and write clients for an
    # acknowledgement (only the receiving area acknowledges); approval is for chairs
    # only, never an API client; another area's coordinator does not see it (404).
    ("api.approve_transfer", "POST"): row(403, anonymous=401, peer=401, chair_a=409),
    ("api.acknowledge_transfer", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    # The timeline is metadata: whoever may list the area's transfers reads it.
    ("api.get_timeline", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    # Documents and information requests. The matrix's
    # transfer is outbound and queued: documents wait until it has arrived (409) and only
    # the receiving area asks for information (409); the listings are metadata (auditors
    # too); a download is content, and this id names no document (404 for those who may
    # download, 403 for roles that never may).
    # The matrix's transfer is still queued: its document is held until it is delivered.
    ("api.post_document", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=201,
        coordinator_b=404,
        client_transfers_write=201,
    ),
    ("api.list_documents", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    ("api.get_document", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=404,
        chair_a=404,
        coordinator_b=404,
        client_transfers_read=404,
    ),
    ("api.request_information", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    ("api.list_information_requests", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    # The replies of a transfer's thread: the listing is metadata (auditors too); opening
    # one is content, and this id names no envelope (404 for those who may open, 403 for
    # roles that never may); a resend is for the area's coordinators and write clients.
    ("api.list_messages", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    ("api.get_message", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=404,
        chair_a=404,
        coordinator_b=404,
        client_transfers_read=404,
    ),
    ("api.resend_message", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=404,
        coordinator_b=404,
        client_transfers_write=404,
    ),
    # Sending a draft: the matrix's transfer is already queued, so the area's coordinator
    # and write clients reach the state check (409); another area's coordinator gets 404.
    ("api.send_draft", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    # Meeting dates and the acknowledgement limit: anyone with a role in the area (and
    # transfers:read clients) reads them; only the area's admin changes them.
    ("api.get_meetings", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        admin_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    ("api.put_meetings", "PUT"): row(403, anonymous=401, peer=401, admin_a=200),
    ("api.get_settings", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        admin_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    ("api.put_settings", "PUT"): row(403, anonymous=401, peer=401, admin_a=200),
    # Shared flags. Coordinators and flags:write clients set flags (the second setter of
    # the same case reference in area A meets 409); coordinators, chairs and flags:query
    # clients list; reviews of an unknown flag are 404; coordinators and flags:query
    # clients look people up.
    ("api.create_flag", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=201,
        coordinator_b=201,
        client_flags_write=409,
    ),
    ("api.list_flags", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        coordinator_b=200,
        client_flags_query=200,
    ),
    ("api.review_flag", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=404, coordinator_b=404, client_flags_write=404
    ),
    ("api.lookup_person", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=200, client_flags_query=200
    ),
    # The linkage authority and the flag index answer pinned areas by request token only.
    ("federation.linkage_evaluate", "POST"): row(401, peer=200),
    ("federation.flag_tokens", "POST"): row(401, peer=204),
    ("federation.flag_match", "POST"): row(401, peer=200),
    # A relay needs a reference this index issued: a made-up one is 404 (after the token).
    ("federation.flag_verifications", "POST"): row(401, peer=404),
    # Verification: a reference from nowhere is 404; reading requests is for coordinators
    # and flags:write clients of the area.
    ("api.request_verification", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=404, coordinator_b=404, client_flags_query=404
    ),
    ("api.list_verifications", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=200, client_flags_write=200
    ),
    # Answers: the matrix's request id names no request (404) for the holder's coordinators
    # and flags:write clients; the requests sent are the asker's coordinators' and
    # flags:query clients'. The index relays an answer only for a request it relayed.
    ("api.answer_verification", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=404, coordinator_b=404, client_flags_write=404
    ),
    ("api.list_sent_verifications", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=200, client_flags_query=200
    ),
    ("federation.flag_verification_answers", "POST"): row(401, peer=404),
    ("api.get_transfer", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    # Casework. The matrix's transfer is outbound and queued. Sending-area steps are for
    # its coordinators and write clients: a withdrawal succeeds (then the write client's
    # second one is an illegal transition), a repeat-incident notice waits for delivery
    # (409), an answer to a request that does not exist is 422. Receiving-area steps
    # (asking for, using a permission) are 409 on an outbound transfer. Naming who may
    # open a restricted case is for users only (a machine cannot be named), and this case
    # is not restricted (409). Who is named, and the permissions, are metadata.
    ("api.withdraw_transfer", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    # Retention decisions are a person's (coordinators and chairs; no machine, no admin).
    # Lifting runs first (nothing is held: 409), then the early purge (the transfer still
    # waits in the outbox: 409), then the hold (set once, 200; a second hold is 409).
    ("api.lift_legal_hold", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=409, chair_a=409, coordinator_b=404
    ),
    ("api.purge_early", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=409, chair_a=409, coordinator_b=404
    ),
    ("api.set_legal_hold", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=200, chair_a=409, coordinator_b=404
    ),
    # Only the receiving area reports its IDVA referral: the matrix's transfer is outbound.
    ("api.report_idva_referral", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    ("api.report_repeat_incident", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    ("api.decide_forward_permission", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=422,
        coordinator_b=404,
        client_transfers_write=422,
    ),
    ("api.request_forward_permission", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    ("api.forward_transfer", "POST"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=409,
        coordinator_b=404,
        client_transfers_write=409,
    ),
    # Only a chair names who may open a restricted case (seed 001 4.5.3): a coordinator is
    # refused (403) before the state is looked at; the chair meets the state (409).
    ("api.name_transfer_users", "POST"): row(
        403, anonymous=401, peer=401, chair_a=409, coordinator_b=404
    ),
    # A chair restricts its area's copy (here the sender's own); nobody else may.
    ("api.restrict_transfer", "POST"): row(403, anonymous=401, peer=401, chair_a=422),
    ("api.get_transfer_access", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    ("api.list_forward_permissions", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
        client_transfers_read=200,
    ),
    # The case page and the receiving area's actions (browser pages: users only, never an
    # API client). The matrix's transfer is outbound and withdrawn by now: the page shows
    # it to whoever may list the area's transfers (auditors see metadata only), never to
    # admins (403) or another area (404). A download names no document here (404 for the
    # roles that may download). Each action's page is for the area's coordinators; its
    # empty form is refused by the domain's schema (422) or, for naming who may open a
    # case that is not restricted, by its state (409).
    ("cases.case", "GET"): row(
        403,
        anonymous=401,
        peer=401,
        coordinator_a=200,
        chair_a=200,
        auditor_a=200,
        coordinator_b=404,
    ),
    ("cases.document", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=404, chair_a=404, coordinator_b=404
    ),
    ("cases.minutes", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=404, chair_a=404, coordinator_b=404
    ),
    ("cases.message", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=404, chair_a=404, coordinator_b=404
    ),
    ("cases.acknowledge", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=404
    ),
    ("cases.acknowledge", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=422, coordinator_b=404
    ),
    ("cases.request_information", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=404
    ),
    ("cases.request_information", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=422, coordinator_b=404
    ),
    ("cases.ask_forward", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=404
    ),
    ("cases.ask_forward", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=422, coordinator_b=404
    ),
    ("cases.forward", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=404
    ),
    ("cases.forward", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=422, coordinator_b=404
    ),
    # The naming page shows coordinators who is named and that the chair decides; their
    # post is refused (403); the chair's meets the case's state (409, not restricted).
    ("cases.idva_referral", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, coordinator_b=404
    ),
    ("cases.idva_referral", "POST"): row(
        403, anonymous=401, peer=401, coordinator_a=422, coordinator_b=404
    ),
    ("cases.name_access", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=200, chair_a=200, coordinator_b=404
    ),
    ("cases.name_access", "POST"): row(
        403, anonymous=401, peer=401, chair_a=409, coordinator_b=404
    ),
    # The matrix's transfer was never acknowledged: there is nothing to confirm (404).
    ("cases.done", "GET"): row(
        403, anonymous=401, peer=401, coordinator_a=404, chair_a=404, coordinator_b=404
    ),
}

PERSON = {"name": "Coordinator", "role": "MARAC coordinator"}
CASEWORK_BODIES: dict[str, dict[str, Any]] = {
    "api.withdraw_transfer": {"reason": "sent_in_error", "withdrawn_by": PERSON},
    "api.report_repeat_incident": {"incident_date": "2026-01-05", "reported_by": PERSON},
    "api.report_idva_referral": {
        "referred_on": "2026-01-05",
        "idva_service": "Matrix IDVA service",
        "reported_by": PERSON,
    },
    "api.decide_forward_permission": {
        "request_id": "00000000-0000-4000-8000-000000000000",
        "decision": "granted",
        "decided_by": PERSON,
    },
    "api.request_forward_permission": {
        "forward_to": "eastmoor",
        "reason": "relocation_permanent",
        "requested_by": PERSON,
    },
    # The forwarding area's own sender and consent decision (seed 004 ISP 3.4).
    "api.forward_transfer": {
        "to_area": "eastmoor",
        "sender": sample_transfer(A, "eastmoor")["sender"],
        "consent": sample_transfer(A, "eastmoor")["consent"],
    },
    "api.name_transfer_users": {"users": ["nobody@example.org"]},
    "api.set_legal_hold": {"reason": "court_order", "note": "Matrix"},
    "api.lift_legal_hold": {"reason": "set_in_error", "note": "Matrix"},
    "api.purge_early": {"reason": "sent_in_error", "note": "Matrix"},
    # Not a reason: a chair gets as far as the validation, and the case stays open to all.
    "api.restrict_transfer": {"reason": "gossip"},
}


def routes(app: Any) -> list[tuple[str, str, Rule]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule))
    # Logging out ends the caller's session: do it last.
    return sorted(found, key=lambda r: (r[0] == "ui.logout", r[0], r[1]))


class Caller:
    def __init__(self, site: Site, name: str) -> None:
        self.site, self.name = site, name
        self.browser: FlaskClient = site.app.test_client()
        self.headers: dict[str, str] = {}
        self.csrf: str | None = None

    def request(self, method: str, path: str, body: Any) -> Any:
        headers = dict(self.headers)
        if self.name == "peer":
            headers["Authorization"] = "Bearer " + peer_token(self.site, method, path, body)
        data, kind = body
        if self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
            if kind == "form":
                data = {**data, "csrf_token": self.csrf}
        if kind == "json":
            return self.browser.open(
                path, method=method, data=data, headers=headers, content_type="application/json"
            )
        return self.browser.open(path, method=method, data=data, headers=headers)


def peer_token(site: Site, method: str, path: str, body: Any) -> str:
    raw = body[0] if isinstance(body[0], bytes) else b""
    with site.south.node.sessions() as session, session.begin():
        keys = current_secret_keys(session, site.south.node.master, PEER, utcnow())
    return issue_request_token(keys, audience=A, method=method, url=site.north.url + path, body=raw)


def callers(site: Site) -> dict[str, Caller]:
    made = {name: Caller(site, name) for name in PRINCIPALS}
    for name in USERS:
        role, area = name.rsplit("_", 1)
        person = site.add_user(name, A if area == "a" else "eastmoor", role)
        site.login(person, made[name].browser)
        made[name].csrf = site.csrf(made[name].browser)
    for name, scope in SCOPE_CLIENTS.items():
        made[name].headers = {"Authorization": "Bearer " + site.token(*site.new_client(A, scope))}
    return made


def request_for(site: Site, rule: Rule, method: str, transfer_id: str) -> tuple[str, Any]:
    values = {
        "code": A,
        "area": A,
        "transfer_id": transfer_id,
        "document_id": "00000000-0000-4000-8000-000000000000",
        "envelope_id": "00000000-0000-4000-8000-000000000001",
        "flag_id": str(uuid.uuid4()),
        "slug": "not-found",
        "key": "perpetrators",
        "index": "0",
        "action": "acknowledged",
        "request_id": "00000000-0000-4000-8000-000000000002",
        "message_id": "00000000-0000-4000-8000-000000000003",
        "user_id": "00000000-0000-4000-8000-000000000004",
        "client_id": "gwc-AAAAAAAAAAAAAAAAAAAAAAAA",
        "key_id": "AAAAAAAAAAAAAAAAAAAA",
        "peer": PEER,
        "seq": 0,
    }
    path = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
    if rule.endpoint == "api.create_transfer":
        return path, (json.dumps(sample_transfer(A, PEER)).encode(), "json")
    if rule.endpoint in ("federation.receive_envelope", "federation.receive_envelope_batch"):
        return path, (b"{}", "json")
    if rule.endpoint == "api.subject_access":
        person = {"given_names": "Nobody", "date_of_birth": "1990-01-01"}
        return path, (json.dumps(person).encode(), "json")
    if rule.endpoint == "api.subject_access_decision":
        decision = {"search": 0, "reference": "M-1", "decision": "withheld"}
        return path, (json.dumps(decision).encode(), "json")
    if rule.endpoint == "federation.audit_consistency":
        return path, (json.dumps({"area": A, "sizes": [1]}).encode(), "json")
    if rule.endpoint == "federation.audit_cosignature":
        return path, (b"{}", "json")
    if rule.endpoint == "api.acknowledge_transfer":
        acknowledgement = {
            "status": "accepted",
            "listed_for": utcnow().date().isoformat(),
            "idva_referred": True,
            "acknowledged_by": {"name": "Coordinator", "role": "MARAC coordinator"},
        }
        return path, (json.dumps(acknowledgement).encode(), "json")
    if rule.endpoint == "api.post_document":
        minutes = {
            "meeting_date": utcnow().date().isoformat(),
            "attendees": [{"agency": "Police"}],
            "confidentiality_statement_confirmed": True,
            "entries": [{"kind": "fact", "source_agency": "Police", "text": "Seen."}],
            "sharing_agreed_by": ["Police"],
        }
        return path, (json.dumps({"kind": "minutes", "minutes": minutes}).encode(), "json")
    if rule.endpoint == "api.request_information":
        asked = {"what": ["minutes"], "requested_by": {"name": "C", "role": "Coordinator"}}
        return path, (json.dumps(asked).encode(), "json")
    if rule.endpoint == "api.put_meetings":
        return path, (json.dumps({"dates": [utcnow().date().isoformat()]}).encode(), "json")
    if rule.endpoint == "api.put_settings":
        return path, (json.dumps({"ack_working_days": 3}).encode(), "json")
    flag_bodies = {
        "api.create_flag": {
            "case_ref": "M-1",
            "reviewed_at": utcnow().date().isoformat(),
            "source": "local",
            "subjects": [{"role": "victim", **FLAG_PERSON}],
        },
        "api.review_flag": {"reviewed_at": utcnow().date().isoformat()},
        "api.lookup_person": FLAG_PERSON,
        "federation.linkage_evaluate": {"to": A, "elements": [b64url_encode(ELEMENT)]},
        "federation.flag_tokens": {"to": A, "action": "clear", "ref": b64url_encode(bytes(32))},
        "api.request_verification": {"ref": b64url_encode(bytes(80)), "person": FLAG_PERSON},
        "federation.flag_verifications": {
            "to": A,
            "id": str(uuid.uuid4()),
            "ref": b64url_encode(bytes(80)),
            "sealed": b64url_encode(bytes(80)),
        },
        "api.answer_verification": {"answer": "confirmed"},
        "federation.flag_verification_answers": {
            "to": A,
            "id": str(uuid.uuid4()),
            "sealed": b64url_encode(bytes(80)),
        },
        "federation.flag_match": {
            "to": A,
            "tokens": [{"kind": "strong", "token": b64url_encode(bytes(32))}],
        },
    }
    if rule.endpoint in flag_bodies:
        return path, (json.dumps(flag_bodies[rule.endpoint]).encode(), "json")
    if rule.endpoint in CASEWORK_BODIES:
        return path, (json.dumps(CASEWORK_BODIES[rule.endpoint]).encode(), "json")
    if rule.endpoint == "api.token":
        return path, ({"grant_type": "client_credentials"}, "form")
    return path, ({} if method != "GET" else None, "form")


def test_every_route_answers_every_caller_as_the_table_says(site: Site) -> None:
    found = routes(site.app)
    missing = {(e, m) for e, m, _ in found} - set(EXPECTED)
    assert not missing, f"routes without a row in the access table: {sorted(missing)}"
    stale = set(EXPECTED) - {(e, m) for e, m, _ in found}
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"

    transfer_id = site.outbound(A)
    made = callers(site)
    wrong = []
    for endpoint, method, rule in found:
        path, body = request_for(site, rule, method, transfer_id)
        for name in PRINCIPALS:
            answer = made[name].request(method, path, body)
            expected = EXPECTED[(endpoint, method)][name]
            if answer.status_code != expected:
                wrong.append(f"{method} {path} as {name}: {answer.status_code} != {expected}")
            if answer.status_code in (401, 403) and path.startswith("/api/"):
                assert answer.mimetype == "application/problem+json", (path, name)
    assert not wrong, "\n".join(wrong)


def test_a_route_that_declares_nothing_is_closed(site: Site) -> None:
    """Deny by default is enforced centrally: a route without @requires is shut to every
    caller, even a coordinator with a valid session and a client with every scope."""
    app = site.app
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "open")
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    everything = " ".join(SCOPE_CLIENTS.values())
    client = app.test_client()
    assert app.test_client().get("/api/v1/forgotten").status_code == 401
    assert browser.get("/api/v1/forgotten").status_code == 403
    assert client.get("/api/v1/forgotten", headers=site.bearer(A, everything)).status_code == 403
    assert browser.get("/").status_code == 200  # the same session does work elsewhere
