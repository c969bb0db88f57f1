"""The holder's answer to a verification request (DESIGN section 6; docs/contract.md
"Verification answers").

The request carried a one-time public key of the asker (`reply_to`). The holder's
coordinator answers `confirmed` ("this is our case, contact us": the answer names the
holding area and its mailbox) or `not_a_match` (nothing else); the answer is sealed to
that key, so the flag index relaying it back by the request's id cannot read it, and only
a `confirmed` answer ever tells the asker which area holds the flag.

Three steps, three functions, as for the request: `answer` (holding area), `relay_answer`
(flag index), `receive_answer` (asking area); and `list_sent` for the asker's coordinators.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, FlagVerification, FlagVerificationSent, IndexRelay
from gateway.domain import audit
from gateway.domain.areas.peers import node_url
from gateway.domain.audit import actions
from gateway.domain.flags.index import caller_actor
from gateway.domain.flags.lifecycle import _load
from gateway.domain.flags.lookup import LOOKUP_ROLES
from gateway.domain.flags.roles import ANSWERS_PATH, Roles, _post
from gateway.domain.flags.verification import (
    READER_ROLES,
    _sealed_context,
    deliver,
    from_own_index,
    record_opened,
    relay_allowance,
    reply_context,
)
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import FLAGS_QUERY, FLAGS_WRITE, Principal
from gateway.domain.transaction import owns_transaction
from gateway.errors import CannotAnswer, Conflict, NotFound, Refused
from keys import CryptoError, MasterKey, b64url_decode, b64url_encode, canonical_json
from keys.boxes import open_sealed, seal_to
from schemas.common import AREA_CODE
from schemas.wire.flags import (
    ANSWERS,
    CONFIRMED,
    AnswerBody,
    AnswerBodySchema,
    AnswerDelivery,
    AnswerDeliverySchema,
    AnswerRelay,
)

ANSWERED = "This request has already been answered."


# --- the holding area -----------------------------------------------------------------------


@owns_transaction
def answer(
    session: Session,
    roles: Roles,
    principal: Principal,
    requested_area: str | None,
    request_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> str:
    """Answer one received request, once; returns the answer word."""
    area = principal.choose_area(requested_area, READER_ROLES, FLAGS_WRITE)
    body: AnswerBody = _load(AnswerBodySchema(), data, AnswerBody)
    with session.begin():
        row = _received(session, area, request_id)
        inner = json.loads(roles.master.open(row.sealed, _sealed_context(area, row.id)))
        own = session.get(Area, area)
        mailbox = own.mailbox if own else None
    public = _reply_key(inner)
    plain: dict[str, Any] = {"v": 1, "id": request_id, "answer": body.answer}
    if body.answer == CONFIRMED:
        plain |= {"area": area, "mailbox": mailbox}
    sealed = b64url_encode(seal_to(public, canonical_json(plain)))
    if roles.index is None:
        with roles.sessions() as relaying:
            relay_answer(relaying, roles, area, AnswerRelay(area, request_id, sealed), now)
    else:
        body_out = {"to": roles.index.area, "id": request_id, "sealed": sealed}
        _post(roles, area, roles.index, ANSWERS_PATH, body_out, now, None)
    with session.begin():
        row = _received(session, area, request_id)  # a second answer raced this one
        row.answer, row.answered_at = body.answer, now
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.FLAG_VERIFICATION_ANSWERED,
                actor=principal.actor(area, READER_ROLES),
                peer_area=row.from_area,
                objects={"flag": row.flag_id, "verification": row.id},
                details={"answer": body.answer},
            ),
            now,
        )
    return body.answer


@owns_transaction
def received(
    session: Session, principal: Principal, requested_area: str | None, request_id: str
) -> dict[str, Any]:
    """One received request's metadata (who asked, when, the answer given), unopened."""
    area = principal.choose_area(requested_area, READER_ROLES, FLAGS_WRITE)
    with session.begin():
        row = session.get(FlagVerification, request_id)
        if row is None or row.area_code != area:
            raise NotFound("No such verification request.")
        return {
            "id": row.id,
            "from_area": row.from_area,
            "received_at": row.received_at,
            "answer": row.answer,
        }


def _received(session: Session, area: str, request_id: str) -> FlagVerification:
    row = session.get(FlagVerification, request_id)
    if row is None or row.area_code != area:
        raise NotFound("No such verification request.")
    if row.answer is not None:
        raise Conflict(ANSWERED)
    return row


def _reply_key(inner: Mapping[str, Any]) -> bytes:
    """The asker's one-time key; an older gateway sent none and gets no answer."""
    reply_to = inner.get("reply_to")
    try:
        if isinstance(reply_to, str):
            return b64url_decode(reply_to, length=32)
    except (CryptoError, ValueError):
        pass
    raise CannotAnswer("The asking area's gateway cannot receive answers.")


# --- the flag index -------------------------------------------------------------------------


@owns_transaction
def relay_answer(
    session: Session, roles: Roles, caller: str, relayed: AnswerRelay, now: datetime
) -> None:
    """Pass a sealed answer back to the area that asked, unread: only from the area the
    request was relayed to, and only once."""
    with session.begin():
        relay_allowance(session, roles, caller, now, "verification messages")
        row = session.get(IndexRelay, relayed.id)
        if row is None or row.holder != caller:
            raise NotFound("No such verification request.")
        if row.answered_at is not None:
            raise Conflict(ANSWERED)
        asker, via = row.asker, row.via
        url = None if session.get(Area, asker) is not None else node_url(session, asker)
    delivery = AnswerDelivery(to=asker, in_reply_to=relayed.id, sealed=relayed.sealed)
    if url is None:
        receive_answer(session, roles.master, delivery, now)
    else:
        data = AnswerDeliverySchema().dump(delivery)
        # Signed as the index area the asker addressed: the only one its node accepts.
        deliver(session, roles, via, asker, url + ANSWERS_PATH, data, now)
    with session.begin():
        row = session.get(IndexRelay, relayed.id)
        if row is not None:
            row.answered_at = now
        audit.record(
            session,
            via,
            audit.Event(
                action=actions.INDEX_ANSWER_RELAYED,
                actor=caller_actor(caller, via),
                peer_area=caller if caller != via else None,
                objects={"verification": relayed.id},
            ),
            now,
        )


# --- the asking area ------------------------------------------------------------------------


def _answer_context(area: str, request_id: str) -> str:
    return f"flag-verification-answer:v1:{area}:{request_id}"


@owns_transaction
def receive_answer(
    session: Session, master: MasterKey, delivery: AnswerDelivery, now: datetime
) -> None:
    """Open the answer with the request's reply key, keep it sealed under the master key,
    and forget the reply key (it served its one purpose)."""
    with session.begin():
        row = session.get(FlagVerificationSent, delivery.in_reply_to)
        if row is None or row.area_code != delivery.to or not row.reply_secret_sealed:
            raise NotFound("No such verification request.")
        if row.answer is not None:
            raise Conflict(ANSWERED)
        kept = _opened(master, row, delivery.sealed)
        row.answer = kept["answer"]
        row.answer_sealed = master.seal(
            canonical_json(kept), _answer_context(row.area_code, row.id)
        )
        row.answered_at = now
        row.reply_secret_sealed = b""
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.FLAG_VERIFICATION_ANSWER_RECEIVED,
                actor=Actor.system("flag-index"),
                objects={"verification": row.id},
                details={"answer": row.answer},
            ),
            now,
        )


def _opened(master: MasterKey, row: FlagVerificationSent, sealed: str) -> dict[str, Any]:
    try:
        secret = master.open(row.reply_secret_sealed, reply_context(row.area_code, row.id))
        inner = json.loads(open_sealed(secret, b64url_decode(sealed)))
    except (CryptoError, ValueError) as exc:
        raise Refused("The answer does not open.", reason="unreadable-request") from exc
    if not isinstance(inner, dict) or inner.get("id") != row.id:
        raise Refused("The answer is for another request.", reason="mismatched-request")
    word = inner.get("answer")
    if word not in ANSWERS:
        raise Refused("The answer is not one this node knows.", reason="mismatched-request")
    if word != CONFIRMED:
        return {"answer": word}  # not a match: nothing else, whatever was sent
    area, mailbox = inner.get("area"), inner.get("mailbox")
    if not isinstance(area, str) or not AREA_CODE.match(area):
        raise Refused("A confirmed answer names no area.", reason="mismatched-request")
    if mailbox is not None and not isinstance(mailbox, str):
        raise Refused("The answer's mailbox is not text.", reason="mismatched-request")
    return {"answer": word, "area": area, "mailbox": mailbox}


def serve_answer_delivery(
    session: Session, roles: Roles, delivery: AnswerDelivery, caller: str, now: datetime
) -> None:
    """An answer arriving over HTTP is accepted only from the index this node uses."""
    from_own_index(roles, caller, "Verification answers")
    receive_answer(session, roles.master, delivery, now)


@owns_transaction
def list_sent(
    session: Session,
    master: MasterKey,
    principal: Principal,
    requested_area: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The requests this area sent, newest first, with the holder's answer once it came."""
    area = principal.choose_area(requested_area, LOOKUP_ROLES, FLAGS_QUERY)
    with session.begin():
        rows = session.scalars(
            select(FlagVerificationSent)
            .where(FlagVerificationSent.area_code == area)
            .order_by(FlagVerificationSent.sent_at.desc())
            .limit(200)
        ).all()
        items = [_sent_item(master, row) for row in rows]
        confirmed = sum(1 for item in items if item["answer"] == CONFIRMED)
        if confirmed:
            actor = principal.actor(area, LOOKUP_ROLES)
            record_opened(session, area, actor, {"verification_answers": confirmed}, now)
        return items


def _sent_item(master: MasterKey, row: FlagVerificationSent) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if row.answer_sealed is not None:
        kept = json.loads(master.open(row.answer_sealed, _answer_context(row.area_code, row.id)))
    return {
        "id": row.id,
        "sent_at": row.sent_at,
        "answer": row.answer,
        "answered_at": row.answered_at,
        "area": kept.get("area"),
        "mailbox": kept.get("mailbox"),
    }
