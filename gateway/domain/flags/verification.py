"""Verification requests for possible matches (DESIGN section 6).

A weak-only match names no area. A coordinator who wants to know whether it is the same
person sends a verification request: the person as they know them, sealed to the flag's
own public key (which the index handed over with the match, and which names no area), with
their area and mailbox inside. The flag index relays it to the holding area without being
able to read it; the holder's coordinator reads it and, if it is the same person, answers
through a normal envelope (a transfer to the asking area, reason `risk_in_other_area`).

Three steps, three functions: `request` (querying area), `relay` (flag index),
`receive` (holding area); and `list_received` for the holder's coordinators. The request
also carries a one-time reply key of the asker, so that the holder can answer back through
the index (`gateway.domain.flags.answers`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import Area, Flag, FlagVerification, FlagVerificationSent, IndexRelay
from adapters.peer_client import PeerUnreachable
from gateway.domain import audit
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.areas.peers import node_url
from gateway.domain.audit import actions
from gateway.domain.flags import index
from gateway.domain.flags.lifecycle import _load, _subject_dict, verify_context
from gateway.domain.flags.lookup import LOOKUP_ROLES, unwrap
from gateway.domain.flags.roles import VERIFICATIONS_PATH, Roles, RoleUnavailable, _post
from gateway.domain.identity import rate_limits
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import COORDINATOR, FLAGS_QUERY, FLAGS_WRITE, Principal
from gateway.domain.schedule import notifications
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, NotFound, Refused, TooManyRequests
from keys import (
    CryptoError,
    MasterKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    issue_request_token,
)
from keys.boxes import new_box_keypair, open_sealed, seal_to
from schemas.wire.flags import (
    Delivery,
    DeliverySchema,
    RelayRequest,
    VerificationBody,
    VerificationBodySchema,
)

READER_ROLES = (COORDINATOR,)


# --- the querying area ----------------------------------------------------------------------


@owns_transaction
def request(
    session: Session,
    roles: Roles,
    principal: Principal,
    requested_area: str | None,
    data: Mapping[str, Any],
    limit: rate_limits.RateLimit,
    now: datetime,
) -> str:
    """Seal and send one verification request; returns its id."""
    area = principal.choose_area(requested_area, LOOKUP_ROLES, FLAGS_QUERY)
    body: VerificationBody = _load(VerificationBodySchema(), data, VerificationBody)
    index_ref, key = unwrap(roles.master, area, body.ref)
    with session.begin():
        # Verification requests share the lookup allowance: each one discloses a person.
        decision = rate_limits.hit(session, f"lookup:{principal.kind}:{principal.id}", limit, now)
        if not decision.allowed:
            raise TooManyRequests(
                "Too many lookups and verification requests; try again later.",
                retry_after=decision.retry_after,
            )
        own = session.get(Area, area)
        mailbox = own.mailbox if own else None
    request_id = str(uuid.uuid4())
    # The holder seals its answer to this one-time key (docs/contract.md "Verification
    # answers"); its secret half stays here, sealed under the master key, until the answer.
    reply_secret, reply_public = new_box_keypair()
    plain = canonical_json(
        {
            "v": 1,
            "id": request_id,
            "from_area": area,
            "mailbox": mailbox,
            "person": {k: v for k, v in _subject_dict(_as_subject(body)).items() if k != "role"},
            "note": body.note,
            "reply_to": b64url_encode(reply_public),
        }
    )
    sealed = b64url_encode(seal_to(b64url_decode(key, length=32), plain))
    relayed = RelayRequest(
        to=roles.index.area if roles.index else area, id=request_id, ref=index_ref, sealed=sealed
    )
    if roles.index is None:
        with roles.sessions() as relaying:
            relay(relaying, roles, area, area, relayed, now)
    else:
        _post(
            roles,
            area,
            roles.index,
            VERIFICATIONS_PATH,
            {"to": relayed.to, "id": request_id, "ref": index_ref, "sealed": sealed},
            now,
            None,
        )
    with session.begin():
        session.add(
            FlagVerificationSent(
                id=request_id,
                area_code=area,
                reply_secret_sealed=roles.master.seal(
                    reply_secret, reply_context(area, request_id)
                ),
                sent_at=now,
            )
        )
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.FLAG_VERIFICATION_SENT,
                actor=principal.actor(area, LOOKUP_ROLES),
                objects={"verification": request_id},
            ),
            now,
        )
    return request_id


def reply_context(area: str, request_id: str) -> str:
    return f"flag-verification-reply:v1:{area}:{request_id}"


@dataclass(frozen=True)
class _Subject:
    role: str
    given_names: str
    family_name: str
    date_of_birth: Any
    aliases: tuple[str, ...]
    previous_family_names: tuple[str, ...]


def _as_subject(body: VerificationBody) -> _Subject:
    p = body.person
    return _Subject(
        "", p.given_names, p.family_name, p.date_of_birth, p.aliases, p.previous_family_names
    )


# --- the flag index -------------------------------------------------------------------------


@owns_transaction
def relay(
    session: Session, roles: Roles, role_area: str, caller: str, req: RelayRequest, now: datetime
) -> None:
    """Pass a sealed request on to the area holding the referenced flag, unread."""
    holder, flag_ref = index.open_ref(roles.master, req.ref)
    with session.begin():
        relay_allowance(session, roles, caller, now, "verification requests")
        known = session.get(IndexRelay, req.id)
        if known is not None and (known.asker, known.holder) != (caller, holder):
            raise Conflict("A request with this id was already relayed.")
        if known is None:
            # Kept so that the holder's answer can go back by the request's id, once.
            session.add(
                IndexRelay(id=req.id, asker=caller, holder=holder, via=role_area, relayed_at=now)
            )
        local = session.get(Area, holder) is not None
        url = None if local else node_url(session, holder)
        audit.record(
            session,
            role_area,
            audit.Event(
                action=actions.INDEX_RELAYED,
                actor=index.caller_actor(caller, role_area),
                peer_area=caller if caller != role_area else None,
                objects={"verification": req.id},
            ),
            now,
        )
    delivery = Delivery(
        to=holder, id=req.id, flag_ref=flag_ref, from_area=caller, sealed=req.sealed
    )
    if url is None:
        receive(session, roles.master, delivery, now)
        return
    deliver(
        session,
        roles,
        role_area,
        holder,
        url + VERIFICATIONS_PATH,
        DeliverySchema().dump(delivery),
        now,
    )


def relay_allowance(session: Session, roles: Roles, caller: str, now: datetime, what: str) -> None:
    """Requests and answers relayed for one calling area count against one allowance."""
    decision = rate_limits.hit(session, f"index-relay:{caller}", roles.role_limit, now)
    if not decision.allowed:
        raise TooManyRequests(
            f"This area has sent too many {what}; try again later.",
            retry_after=decision.retry_after,
        )


def from_own_index(roles: Roles, caller: str, what: str) -> None:
    """A relay arriving over HTTP is accepted only from the index this node uses."""
    if roles.index is None or caller != roles.index.area:
        raise Conflict(f"{what} are accepted from this node's flag index only.")


def record_opened(
    session: Session, area: str, actor: Actor, details: dict[str, int], now: datetime
) -> None:
    """Coordinators read what came through the index: logged as opened content."""
    audit.record(
        session,
        area,
        audit.Event(action=actions.CONTENT_OPENED, actor=actor, details=details),
        now,
    )


@owns_transaction
def deliver(
    session: Session,
    roles: Roles,
    role_area: str,
    to: str,
    target: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """The index posts to an area's node, signed with the index area's key (DESIGN
    section 4): a request to its holder, or an answer back to its asker."""
    body = canonical_json(data)
    with session.begin():
        keys = current_secret_keys(session, roles.master, role_area, now)
    token = issue_request_token(
        keys, audience=to, method="POST", url=target, body=body, now=int(now.timestamp())
    )
    try:
        response = roles.client.post(target, body, token)
    except PeerUnreachable as exc:
        raise RoleUnavailable("The other area could not be reached; try again later.") from exc
    if response.status not in (200, 201, 204):
        raise RoleUnavailable(f"The other area refused the request (HTTP {response.status}).")


# --- the holding area -----------------------------------------------------------------------


def _sealed_context(area: str, request_id: str) -> str:
    return f"flag-verification:v1:{area}:{request_id}"


@owns_transaction
def receive(session: Session, master: MasterKey, delivery: Delivery, now: datetime) -> None:
    """Keep a relayed request for the flag's coordinators (idempotent by request id)."""
    with session.begin():
        flag = session.scalar(
            select(Flag).where(Flag.area_code == delivery.to, Flag.index_ref == delivery.flag_ref)
        )
        if flag is None or flag.verify_secret_sealed is None:
            raise NotFound("No such flag.")
        if session.get(FlagVerification, delivery.id) is not None:
            return
        try:
            secret = master.open(flag.verify_secret_sealed, verify_context(flag.area_code, flag.id))
            plain = open_sealed(secret, b64url_decode(delivery.sealed))
            inner = json.loads(plain)
        except (CryptoError, ValueError) as exc:
            raise Refused("The request does not open.", reason="unreadable-request") from exc
        if not isinstance(inner, dict) or inner.get("from_area") != delivery.from_area:
            raise Refused("The request names another area.", reason="mismatched-request")
        if inner.get("id") != delivery.id:
            raise Refused("The request id does not match.", reason="mismatched-request")
        session.add(
            FlagVerification(
                id=delivery.id,
                area_code=flag.area_code,
                flag_id=flag.id,
                from_area=delivery.from_area,
                sealed=master.seal(plain, _sealed_context(flag.area_code, delivery.id)),
                received_at=now,
            )
        )
        audit.record(
            session,
            flag.area_code,
            audit.Event(
                action=actions.FLAG_VERIFICATION_RECEIVED,
                actor=Actor.peer(delivery.from_area),
                peer_area=delivery.from_area,
                objects={"flag": flag.id, "verification": delivery.id},
            ),
            now,
        )
        # The holder's coordinators must look: content-free, with the request itself.
        notifications.queue(session, flag.area_code, notifications.VERIFICATION_REQUEST, now)


def serve_delivery(
    session: Session, roles: Roles, delivery: Delivery, caller: str, now: datetime
) -> None:
    """A relay arriving over HTTP is accepted only from the index this node uses."""
    from_own_index(roles, caller, "Verification requests")
    receive(session, roles.master, delivery, now)


@owns_transaction
def list_received(
    session: Session,
    master: MasterKey,
    principal: Principal,
    requested_area: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The requests other areas sent about this area's flags, opened for its coordinators."""
    area = principal.choose_area(requested_area, READER_ROLES, FLAGS_WRITE)
    with session.begin():
        rows = session.execute(
            select(FlagVerification, Flag.case_ref)
            .join(Flag, Flag.id == FlagVerification.flag_id)
            .where(FlagVerification.area_code == area)
            .order_by(FlagVerification.received_at.desc())
            .limit(200)
        ).all()
        items = []
        for row, case_ref in rows:
            inner = json.loads(master.open(row.sealed, _sealed_context(area, row.id)))
            items.append(
                {
                    "id": row.id,
                    "flag_id": row.flag_id,
                    "case_ref": case_ref,
                    "from_area": row.from_area,
                    "mailbox": inner.get("mailbox"),
                    "received_at": row.received_at,
                    "person": inner.get("person", {}),
                    "note": inner.get("note"),
                    "answer": row.answer,
                    # An older gateway sent no reply key: no answer can reach it.
                    "answerable": isinstance(inner.get("reply_to"), str),
                }
            )
        if items:
            actor = principal.actor(area, READER_ROLES)
            record_opened(session, area, actor, {"verifications": len(items)}, now)
        return items
