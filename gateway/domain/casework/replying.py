"""The envelopes that follow a transfer: one way to send them and one shape for receiving
them (DESIGN section 2).

Everything after the first `transfer_request` (documents, acknowledgements, information
requests, withdrawals, forward permissions, repeat-incident and flag notices) is an
envelope `in_reply_to` a transfer's envelope. Sending one is always the same ONE
transaction: seal, log the disclosure, store the envelope and queue it (its evidence is
attached when the worker claims it, DESIGN section 7). Receiving one is always: validate
the opened payload, keep only a content-free summary, find the transfer it concerns (or
refuse), then apply it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from adapters.db.models import Transfer
from gateway.domain.federation import handlers
from gateway.domain.identity.principals import Principal
from gateway.errors import Invalid, NotFound, Refused, field_errors

Body = TypeVar("Body")


def loaded_body(
    load: Callable[[Mapping[str, Any]], Body], data: Mapping[str, Any], what: str
) -> Body:
    """A posted body loaded through its schema, or Invalid naming the fields at fault."""
    try:
        return load(data)
    except ValidationError as exc:
        raise Invalid(f"The {what} is not valid.", errors=field_errors(exc.messages)) from exc


def locked_for_sender(session: Session, principal: Principal, transfer_id: str) -> Transfer:
    """The transfer, locked, for a caller who may send for its area; NotFound for anyone
    else, exactly as for a missing id."""
    row = session.get(Transfer, transfer_id, with_for_update=True)
    if row is None or not principal.may_send(row.area_code):
        raise NotFound("No such transfer.")
    return row


def checked_payload(
    dumped: dict[str, Any], load: Callable[[Mapping[str, Any]], object], what: str
) -> dict[str, Any]:
    """What we send must be what a peer accepts: the canonical payload loaded back through
    its own schema, or Invalid naming the fields at fault."""
    try:
        load(dumped)
    except ValidationError as exc:
        raise Invalid(f"The {what} is not valid.", errors=field_errors(exc.messages)) from exc
    return dumped


def replied_or_refused(
    session: Session, inbound: handlers.Inbound, direction: str, unknown: str
) -> Transfer:
    """The transfer (of this direction) a received envelope replies to, locked; or Refused
    `unknown-transfer` in the caller's own words (`unknown`)."""
    row = handlers.replied_transfer(session, inbound, direction=direction)
    if row is None:
        raise Refused(unknown, reason="unknown-transfer")
    return row
