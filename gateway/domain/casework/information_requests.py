"""Information requests: before it answers a transfer, the
receiving area may ask the sending area for the minutes, the original referral, the
referral form, the DASH checklist or anything else. The request travels as a sealed
`information_request` envelope in reply to the transfer; the sender's transfer moves
delivered -> information_requested (an acknowledged or redirected one keeps its state and
the request just joins its timeline); a document that answers it (`answers`, see
`gateway.domain.casework.documents`) closes it on both sides and, once none is left open, moves
the sender's transfer back to delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.db.models import InformationRequest, Transfer
from gateway.domain.audit import actions
from gateway.domain.casework import replying
from gateway.domain.casework.documents import OPEN, proves_delivery
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.schedule import notifications
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import states
from gateway.domain.transfers.reading import TransferView, listed_transfer, of_transfer, view
from gateway.errors import Conflict, Refused
from keys import MasterKey
from schemas.wire.addressed import body_values
from schemas.wire.information_request import PAYLOAD_TYPE as INFORMATION_REQUEST
from schemas.wire.information_request import (
    SCHEMA_VERSION,
    InformationRequestBody,
    dump_information_request,
    load_information_request,
    load_information_request_body,
)
from schemas.wire.information_request import InformationRequest as RequestPayload

# The receiving area asks while the case is still its to answer or once it has listed it.
ASKABLE = frozenset({states.RECEIVED, states.ACKNOWLEDGED})
# The sending node applies a request for a transfer the peer holds and it has not taken back.
APPLICABLE = frozenset(
    {
        states.QUEUED,
        states.FAILED,
        states.DELIVERED,
        states.INFORMATION_REQUESTED,
        states.ACKNOWLEDGED,
        states.REDIRECTED,
    }
)


@dataclass(frozen=True)
class RequestView:
    id: str
    transfer_id: str
    direction: str
    what: tuple[str, ...]
    status: str
    created_at: datetime
    answered_at: datetime | None
    answered_by: str | None


def request_view(row: InformationRequest) -> RequestView:
    return RequestView(
        id=row.request_id,
        transfer_id=row.transfer_id,
        direction=row.direction,
        what=tuple(row.what.split(",")),
        status=row.status,
        created_at=row.created_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
    )


@owns_transaction
def request_information(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> RequestView:
    """A coordinator of the receiving area asks the sender for documents: sealed, logged
    and queued in ONE transaction."""
    body = replying.loaded_body(load_information_request_body, data, "information request")
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        if row.direction != states.INBOUND:
            raise Conflict("Only the receiving area asks the sending area for information.")
        if row.status not in ASKABLE:
            raise Conflict(f"An inbound transfer that is '{row.status}' takes no requests.")
        actor = principal.actor(row.area_code, SEND_ROLES)
        what = ",".join(body.what)
        sent = envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                INFORMATION_REQUEST,
                _payload(body, row),
                action=actions.INFORMATION_REQUEST_SENT,
                actor=actor,
                details={"what": what},
                step=envelope_writer.Step("information_requested", {"what": what}),
            ),
            now,
        )
        record = InformationRequest(
            request_id=sent.envelope_id,
            area_code=row.area_code,
            transfer_id=row.id,
            direction=states.OUTBOUND,
            what=what,
            status=OPEN,
            created_at=now,
            answered_at=None,
            answered_by=None,
        )
        session.add(record)
        session.flush()
        return request_view(record)


def _payload(body: InformationRequestBody, row: Transfer) -> dict[str, Any]:
    values = body_values(body)
    payload = RequestPayload(
        **values, schema_version=SCHEMA_VERSION, from_area=row.area_code, to_area=row.peer_area
    )
    return replying.checked_payload(
        dump_information_request(payload), load_information_request, "information request"
    )


@owns_transaction
def list_requests(
    session: Session, principal: Principal, transfer_id: str
) -> tuple[TransferView, list[RequestView]]:
    """Every information request about the transfer, both directions; metadata only."""
    with session.begin():
        row = listed_transfer(session, principal, transfer_id)
        rows = session.scalars(
            of_transfer(InformationRequest, row).order_by(
                InformationRequest.created_at, InformationRequest.request_id
            )
        )
        return view(row), [request_view(found) for found in rows]


# --- receiving (the sending area's node) ---------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """What outlives the plaintext of a received request: the kinds asked for."""

    what: tuple[str, ...]


def _asked(loaded: object) -> Asked | None:
    return Asked(loaded.what) if isinstance(loaded, RequestPayload) else None


def _target(session: Session, inbound: handlers.Inbound) -> str:
    unknown = "The information request concerns no transfer this area sent to its sender."
    row = replying.replied_or_refused(session, inbound, states.OUTBOUND, unknown)
    if row.status not in APPLICABLE:
        raise Refused(
            f"The transfer is '{row.status}', not open to information requests.",
            reason="unexpected-information-request",
        )
    return row.id


def _apply(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    asked = inbound.summary
    if row is None or not isinstance(asked, Asked):
        raise Refused("The information request cannot be applied.", reason="invalid-payload")
    proves_delivery(session, row, inbound)
    what = ",".join(asked.what)
    if row.status == states.DELIVERED:
        states.move(row, states.INFORMATION_REQUESTED)
    # Acknowledged, redirected or already asked: the state stays, the timeline tells it.
    session.add(
        InformationRequest(
            request_id=inbound.envelope_id,
            area_code=row.area_code,
            transfer_id=row.id,
            direction=states.INBOUND,
            what=what,
            status=OPEN,
            created_at=inbound.now,
            answered_at=None,
            answered_by=None,
        )
    )
    handlers.record_received(
        session,
        inbound,
        row,
        kind="information_requested",
        action=actions.INFORMATION_REQUEST_RECEIVED,
        objects={"envelope": row.envelope_id, "request": inbound.envelope_id},
        details={"type": INFORMATION_REQUEST, "what": what},
        step={"what": what, "status": row.status},
        notify=notifications.INFORMATION_REQUEST,
    )


HANDLER = handlers.Handler(
    load=load_information_request, target=_target, summary=_asked, apply=_apply
)
