"""The IDVA referral reported after the acknowledgement: the receiving area refers the
victim to its IDVA service at the point of referral (seed 003; 001 4.3), which may be after
it acknowledged the transfer. It tells the sending area with an `idva_referral` reply,
sealed in reply to the transfer's envelope and logged as a disclosure, as the other
replies are (docs/contract.md).

Only the receiving area reports, once it has accepted the case (acknowledged); a restricted
case's only for a named user. A peer whose bundle does not list `idva_referral` predates it
and is never sent it: the envelope writer refuses the report up front (409 naming the
peer's versions), nothing is sealed or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.db.models import Transfer
from gateway.domain.audit import actions
from gateway.domain.casework import replying
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, states
from gateway.domain.transfers.reading import TransferView, view
from gateway.errors import Conflict, Refused
from keys import MasterKey
from schemas.wire.addressed import body_values
from schemas.wire.idva_referral import PAYLOAD_TYPE as IDVA_REFERRAL
from schemas.wire.idva_referral import SCHEMA_VERSION as IDVA_REFERRAL_VERSION
from schemas.wire.idva_referral import (
    IdvaReferral,
    dump_idva_referral,
    load_idva_referral,
    load_idva_referral_body,
)

# Timeline kinds: reported by this (receiving) area; received by the sending area.
SENT_STEP = "idva_referral_sent"
RECEIVED_STEP = "idva_referral_received"
# Where the sending area takes it: its transfer has reached the receiving area, whose
# acknowledgement may still be on its way.
TAKES = frozenset(
    {
        states.QUEUED,
        states.FAILED,
        states.DELIVERED,
        states.INFORMATION_REQUESTED,
        states.ACKNOWLEDGED,
    }
)


@owns_transaction
def report(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    """Seal the report back to the sending area, audited as a disclosure, and queue it."""
    body = replying.loaded_body(load_idva_referral_body, data, "IDVA referral")
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        if row.direction != states.INBOUND:
            raise Conflict("Only the receiving area reports its referral to the IDVA service.")
        if row.status != states.ACKNOWLEDGED:
            raise Conflict(
                f"The transfer is '{row.status}': the IDVA referral is reported once the "
                "case is accepted (acknowledged)."
            )
        restriction.check_may_open(session, principal, row)
        referral = IdvaReferral(
            **body_values(body),
            schema_version=IDVA_REFERRAL_VERSION,
            from_area=row.area_code,
            to_area=row.peer_area,
        )
        payload = replying.checked_payload(
            dump_idva_referral(referral), load_idva_referral, "IDVA referral"
        )
        envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                IDVA_REFERRAL,
                payload,
                action=actions.IDVA_REFERRAL_SENT,
                actor=principal.actor(row.area_code, SEND_ROLES),
                details={"outcome": body.outcome},
                step=envelope_writer.Step(SENT_STEP),
            ),
            now,
        )
        session.flush()
        return view(row)


# --- sending area: receiving the report ----------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Nothing of the report's content is kept outside its sealed envelope."""


def _report_of(loaded: object) -> Report | None:
    return Report() if isinstance(loaded, IdvaReferral) else None


def _reported_transfer(session: Session, inbound: handlers.Inbound) -> str:
    """The transfer this area sent to the reporting area, still held there."""
    unknown = "The IDVA referral concerns no transfer this area sent to its sender."
    row = replying.replied_or_refused(session, inbound, states.OUTBOUND, unknown)
    if row.status not in TAKES:
        raise Refused(f"The transfer is '{row.status}' here.", reason="not-held")
    return row.id


def _apply(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row: Transfer | None = session.get(Transfer, transfer_id)
    if row is None:
        raise Refused("The IDVA referral cannot be applied.", reason="invalid-payload")
    handlers.record_received(
        session,
        inbound,
        row,
        kind=RECEIVED_STEP,
        action=actions.IDVA_REFERRAL_RECEIVED,
        objects={"envelope": row.envelope_id, "report": inbound.envelope_id},
        details={"type": IDVA_REFERRAL},
    )


HANDLER = handlers.Handler(
    load=load_idva_referral, summary=_report_of, target=_reported_transfer, apply=_apply
)
