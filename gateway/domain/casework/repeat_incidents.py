"""Repeat incidents: after a transfer both the originating and
the receiving area keep responsibilities for 12 months (seed 001 5.0); an incident within
12 calendar months of the case's last MARAC referral makes it a repeat (000 4.3), and
either area tells the other with a `repeat_incident` notice in reply to the transfer.

The originating area tells the area now holding the case: the area the transfer went to,
once it has it (delivered, asked for more, or accepted). The receiving area tells the
originating area of an incident in its own area while it holds the case (received or
accepted). A case redirected is held elsewhere, and one withdrawn is held by nobody: both
are refused on either side. The last referral date (the transfer's `last_marac_date`, the
same on both sides) is read from this area's sealed copy of the transfer, in memory, like
a chair's approval does; a restricted case's receiving area reads it only for a named user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Envelope, Transfer
from gateway.domain.audit import actions
from gateway.domain.casework import replying
from gateway.domain.federation import envelope_writer, handlers
from gateway.domain.identity.principals import SEND_ROLES, Principal
from gateway.domain.schedule import notifications
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import restriction, states
from gateway.domain.transfers.reading import TransferView, open_stored, view
from gateway.errors import Conflict, Invalid, NotFound, Refused
from keys import MasterKey
from schemas.wire.addressed import body_values
from schemas.wire.repeat_incident import PAYLOAD_TYPE as REPEAT_INCIDENT
from schemas.wire.repeat_incident import SCHEMA_VERSION as REPEAT_VERSION
from schemas.wire.repeat_incident import (
    RepeatIncident,
    dump_repeat_incident,
    load_repeat_incident,
    load_repeat_incident_body,
    repeat_window_end,
    within_window,
)

# Where this area may report from: the other area holds the case (outbound), or this area
# does (inbound).
# Timeline kinds: on an inbound transfer `repeat_incident` has always meant one received,
# on an outbound one one sent; the other two directions have words of their own, so the
# worklist counts only notices received.
SENT_STEP = {states.OUTBOUND: "repeat_incident", states.INBOUND: "repeat_incident_sent"}
RECEIVED_STEP = {states.INBOUND: "repeat_incident", states.OUTBOUND: "repeat_incident_received"}
HOLDING = {
    states.OUTBOUND: frozenset(
        {states.DELIVERED, states.INFORMATION_REQUESTED, states.ACKNOWLEDGED}
    ),
    states.INBOUND: frozenset({states.RECEIVED, states.ACKNOWLEDGED}),
}


@owns_transaction
def report(
    session: Session,
    master: MasterKey,
    principal: Principal,
    transfer_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> TransferView:
    body = replying.loaded_body(load_repeat_incident_body, data, "repeat incident")
    with session.begin():
        row = replying.locked_for_sender(session, principal, transfer_id)
        if row.status not in HOLDING[row.direction]:
            raise Conflict(
                f"The transfer is '{row.status}': a repeat-incident notice goes only between "
                "the two areas while the receiving area holds the case."
            )
        if row.direction == states.INBOUND:
            restriction.check_may_open(session, principal, row)
        last = _last_referral(session, master, row)
        if not within_window(last, body.incident_date):
            raise Invalid(
                "The incident is not a repeat: it is not within 12 months of the case's "
                "last MARAC referral.",
                errors={
                    "incident_date": [
                        f"Must be between the last referral and {repeat_window_end(last)}."
                    ]
                },
            )
        notice = RepeatIncident(
            **body_values(body),
            schema_version=REPEAT_VERSION,
            from_area=row.area_code,
            to_area=row.peer_area,
            last_referral_date=last,
        )
        payload = replying.checked_payload(
            dump_repeat_incident(notice), load_repeat_incident, "repeat incident"
        )
        actor = principal.actor(row.area_code, SEND_ROLES)
        envelope_writer.write(
            session,
            master,
            row,
            envelope_writer.reply(
                row,
                REPEAT_INCIDENT,
                payload,
                action=actions.REPEAT_INCIDENT_SENT,
                actor=actor,
                step=envelope_writer.Step(SENT_STEP[row.direction]),
            ),
            now,
        )
        session.flush()
        return view(row)


def _last_referral(session: Session, master: MasterKey, row: Transfer) -> Any:
    """`last_marac_date` from this area's sealed copy (ours as sent, or as received),
    opened in memory and dropped."""
    envelope = session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    ).one()
    try:
        content = open_stored(session, master, envelope)
    except NotFound as exc:
        raise Conflict("This transfer's content is no longer held here.") from exc
    try:
        return datetime.fromisoformat(str(content["last_marac_date"])).date()
    except (KeyError, ValueError) as exc:  # pragma: no cover - the schema requires it
        raise Conflict("This transfer records no last MARAC referral date.") from exc
    finally:
        del content


# --- receiving side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """Nothing of the notice's content is kept outside its sealed envelope."""


def _notice_of(loaded: object) -> Notice | None:
    return Notice() if isinstance(loaded, RepeatIncident) else None


def _held_transfer(session: Session, inbound: handlers.Inbound) -> str:
    """The transfer the notice is about: one we received from the reporting area (it
    originated the case), or one we sent to it (it holds the case)."""
    row = handlers.replied_transfer(
        session, inbound, direction=states.INBOUND
    ) or handlers.replied_transfer(session, inbound, direction=states.OUTBOUND)
    if row is None:
        raise Refused(
            "The notice concerns no transfer this area received from its sender.",
            reason="unknown-transfer",
        )
    if row.status in (states.WITHDRAWN, states.REDIRECTED):
        raise Refused(f"The transfer is '{row.status}' here.", reason="not-held")
    return row.id


def _apply(session: Session, inbound: handlers.Inbound, transfer_id: str | None) -> None:
    row = session.get(Transfer, transfer_id)
    if row is None:
        raise Refused("The notice cannot be applied.", reason="invalid-payload")
    handlers.record_received(
        session,
        inbound,
        row,
        kind=RECEIVED_STEP[row.direction],
        action=actions.REPEAT_INCIDENT_RECEIVED,
        objects={"envelope": row.envelope_id, "notice": inbound.envelope_id},
        details={"type": REPEAT_INCIDENT},
        notify=notifications.REPEAT_INCIDENT,
    )


HANDLER = handlers.Handler(
    load=load_repeat_incident, summary=_notice_of, target=_held_transfer, apply=_apply
)
