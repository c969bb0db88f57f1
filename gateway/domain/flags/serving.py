"""The federation side of both roles: parse, check this node plays the role for the
addressed area, authenticate the calling area by its request token (single use), then
call the same service an area on this node calls in-process."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from adapters.db.models import Area
from gateway.domain.areas import peer_auth
from gateway.domain.flags import answers, authority, index, verification
from gateway.domain.flags.roles import (
    ANSWERS_PATH,
    EVALUATE_PATH,
    MATCH_PATH,
    TOKENS_PATH,
    VERIFICATIONS_PATH,
    RoleAt,
    Roles,
)
from gateway.domain.transaction import owns_transaction
from gateway.errors import Invalid, Malformed, NotFound, field_errors
from keys import b64url_decode, b64url_encode, parse_json
from schemas.wire.flags import (
    AnswerDelivery,
    AnswerDeliverySchema,
    AnswerRelay,
    AnswerRelaySchema,
    Delivery,
    DeliverySchema,
    EvaluateRequest,
    EvaluateRequestSchema,
    IndexMatchSchema,
    MatchRequest,
    MatchRequestSchema,
    Publication,
    PublicationSchema,
    RelayRequest,
    RelayRequestSchema,
    load,
)

T = TypeVar("T")


def _object(raw: bytes) -> dict[str, Any]:
    try:
        data = parse_json(raw)
    except ValueError as exc:
        raise Malformed("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise Malformed("The body is not a JSON object.")
    return data


def _parse(schema: Schema, raw: bytes, kind: type[T]) -> T:
    data = _object(raw)
    try:
        return load(schema, data, kind)
    except ValidationError as exc:
        raise Invalid("The request is not valid.", errors=field_errors(exc.messages)) from exc


@owns_transaction
def _plays(session: Session, configured: RoleAt | None, to: str) -> None:
    with session.begin():
        local = session.get(Area, to) is not None
    if not local or (configured is not None and configured.area != to):
        raise NotFound("This node does not play that role for that area.")


def _caller(
    session: Session, authorization: str | None, to: str, path: str, raw: bytes, now: datetime
) -> str:
    claims = peer_auth.authenticate(
        session, authorization, audience=to, method="POST", path=path, body=raw, now=now
    )
    return claims.iss


def serve_evaluate(
    session: Session, roles: Roles, raw: bytes, authorization: str | None, now: datetime
) -> dict[str, Any]:
    request = _parse(EvaluateRequestSchema(), raw, EvaluateRequest)
    _plays(session, roles.authority, request.to)
    caller = _caller(session, authorization, request.to, EVALUATE_PATH, raw, now)
    elements = [b64url_decode(e, length=32) for e in request.elements]
    evaluated = authority.evaluate(
        session, roles.master, request.to, caller, elements, roles.role_limit, now
    )
    return {"evaluated": [b64url_encode(e) for e in evaluated]}


def serve_publish(
    session: Session, roles: Roles, raw: bytes, authorization: str | None, now: datetime
) -> None:
    publication = _parse(PublicationSchema(), raw, Publication)
    _plays(session, roles.index, publication.to)
    caller = _caller(session, authorization, publication.to, TOKENS_PATH, raw, now)
    index.publish(session, roles.master, publication.to, caller, publication, roles.role_limit, now)


def serve_match(
    session: Session,
    roles: Roles,
    raw: bytes,
    authorization: str | None,
    now: datetime,
    scored: bool = False,
) -> dict[str, Any]:
    """`scored`: the caller asked for `met` (SCORED_MATCH_MEDIA_TYPE); a caller that did
    not gets the answer it has always parsed, without it (docs/contract.md)."""
    request = _parse(MatchRequestSchema(), raw, MatchRequest)
    _plays(session, roles.index, request.to)
    caller = _caller(session, authorization, request.to, MATCH_PATH, raw, now)
    found = index.match(
        session, roles.master, request.to, caller, request.tokens, roles.role_limit, now
    )
    if not scored:
        found = [replace(match, met=None) for match in found]
    return {"matches": IndexMatchSchema(many=True).dump(found)}


def serve_verification(
    session: Session, roles: Roles, raw: bytes, authorization: str | None, now: datetime
) -> None:
    """Two legs on one path: a querier asks the index to relay (`ref`), or the index
    delivers to the holding area (`flag_ref`)."""
    if "flag_ref" in _object(raw):
        delivery = _parse(DeliverySchema(), raw, Delivery)
        caller = _caller(session, authorization, delivery.to, VERIFICATIONS_PATH, raw, now)
        verification.serve_delivery(session, roles, delivery, caller, now)
        return
    relayed = _parse(RelayRequestSchema(), raw, RelayRequest)
    _plays(session, roles.index, relayed.to)
    caller = _caller(session, authorization, relayed.to, VERIFICATIONS_PATH, raw, now)
    verification.relay(session, roles, relayed.to, caller, relayed, now)


def serve_answer(
    session: Session, roles: Roles, raw: bytes, authorization: str | None, now: datetime
) -> None:
    """Two legs on one path, as for the request: the holder asks the index to relay its
    sealed answer (`id`), or the index delivers it to the asker (`in_reply_to`)."""
    if "in_reply_to" in _object(raw):
        delivery = _parse(AnswerDeliverySchema(), raw, AnswerDelivery)
        caller = _caller(session, authorization, delivery.to, ANSWERS_PATH, raw, now)
        answers.serve_answer_delivery(session, roles, delivery, caller, now)
        return
    relayed = _parse(AnswerRelaySchema(), raw, AnswerRelay)
    _plays(session, roles.index, relayed.to)
    caller = _caller(session, authorization, relayed.to, ANSWERS_PATH, raw, now)
    answers.relay_answer(session, roles, caller, relayed, now)
