"""`/api/v1/transfers/<id>/messages`: the replies of a transfer's thread (metadata), one
reply opened (content, audited), and a failed reply sent again."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify

from gateway.domain.casework import messages
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    AUDITOR,
    CHAIR,
    COORDINATOR,
    TRANSFERS_READ,
    TRANSFERS_WRITE,
)
from gateway.errors import NotFound
from gateway.web import node
from gateway.web.api.common import api, canonical_id, transfer_item
from gateway.web.api.declarations import documented
from gateway.web.guard import current_principal, requires
from schemas.api.messages import MessageDetailSchema, MessageItemSchema, MessageListSchema


def _message(found: messages.MessageView) -> dict[str, Any]:
    dumped: dict[str, Any] = MessageItemSchema().dump(found)
    return dumped


def _ids(transfer_id: str, envelope_id: str) -> None:
    """Only canonical UUIDs name a transfer or an envelope; anything else cannot exist."""
    canonical_id(transfer_id)
    try:
        canonical = str(uuid.UUID(envelope_id)) == envelope_id
    except ValueError:
        canonical = False
    if not canonical:
        raise NotFound(messages.NO_SUCH_MESSAGE)


@api.get("/transfers/<transfer_id>/messages")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR], scopes=[TRANSFERS_READ])
@documented(
    "listMessages",
    "Every envelope in reply to the transfer as this area holds it (both directions, "
    "documents included), oldest first; metadata only.",
    ok=(200, "Metadata of every reply"),
    answer=MessageListSchema,
    problems=(401, 403, 404),
)
def list_messages(transfer_id: str) -> Response:
    canonical_id(transfer_id)
    with node().sessions() as db:
        found, items = messages.list_messages(db, current_principal(), transfer_id)
    return jsonify(transfer=transfer_item(found), items=[_message(item) for item in items])


@api.get("/transfers/<transfer_id>/messages/<envelope_id>")
@requires(roles=[COORDINATOR, CHAIR], scopes=[TRANSFERS_READ])
@documented(
    "getMessage",
    "One reply's payload (acknowledgement, information request, withdrawal, forward "
    "permission, repeat incident, flag notice), decrypted in memory; audited. Documents "
    "open through their own download.",
    ok=(200, "The reply and its content"),
    answer=MessageDetailSchema,
    problems=(401, 403, 404, 410),
)
def get_message(transfer_id: str, envelope_id: str) -> Response:
    _ids(transfer_id, envelope_id)
    current = node()
    with current.sessions() as db:
        opened = messages.open_message(
            db, current.master, current_principal(), transfer_id, envelope_id, utcnow()
        )
    return jsonify(
        transfer=transfer_item(opened.transfer),
        message=_message(opened.message),
        content=opened.content,
    )


@api.post("/transfers/<transfer_id>/messages/<envelope_id>/resend")
@requires(roles=[COORDINATOR], scopes=[TRANSFERS_WRITE])
@documented(
    "resendMessage",
    "Queue again a reply whose delivery failed: the same sealed envelope under the same id "
    "(the receiver keeps one copy); audited.",
    ok=(202, "Queued again"),
    answer=MessageItemSchema,
    problems=(401, 403, 404, 409),
)
def resend_message(transfer_id: str, envelope_id: str) -> tuple[Response, int]:
    _ids(transfer_id, envelope_id)
    with node().sessions() as db:
        queued = messages.resend(db, current_principal(), transfer_id, envelope_id, utcnow())
    return jsonify(_message(queued)), 202
