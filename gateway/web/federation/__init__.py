"""Inbound peer endpoints (DESIGN section 4): envelopes and the public bundle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, json, request

from gateway import metrics
from gateway.domain.areas import bundles
from gateway.domain.areas.local_areas import published_bundle
from gateway.domain.audit import witness
from gateway.domain.clock import utcnow
from gateway.domain.federation.receiving import receive_batch as accept_batch
from gateway.domain.federation.receiving import receive_envelope as accept
from gateway.domain.flags import serving
from gateway.errors import TooLarge, UnknownSigningKey
from gateway.web import node
from gateway.web.errors import problem_type_base
from gateway.web.limits import require_json
from schemas.wire.envelope import BATCH_MAX_BYTES
from schemas.wire.flags import SCORED_MATCH_MEDIA_TYPE

federation = Blueprint("federation", __name__, url_prefix="/federation/v1")
log = logging.getLogger("gateway.federation")
T = TypeVar("T")


@federation.post("/envelopes")
def receive_envelope() -> Response:
    require_json("Envelopes")
    current = node()
    with current.sessions() as session:
        result = _after_rotation(session, _accept)
    status = 200 if result.duplicate else 202
    if not result.duplicate:
        metrics.receipt_issued()
    log.info("envelope accepted status=%s", status)
    return Response(result.receipt, status=status, mimetype="application/json")


def _after_rotation(session: Any, call: Callable[[Any], T]) -> T:
    """`call`, and once more if the sender signed with a key this node does not know yet.
    The sender may have rotated: its bundle, fetched from the URL pinned for it, is pinned
    without a phone call if its pinned key endorsed the new one (docs/contract.md); then
    the same request is checked again (the body is not read before the token verifies)."""
    try:
        return call(session)
    except UnknownSigningKey as exc:
        if exc.issuer is None or not bundles.fetch_after_unknown_key(
            session, node().client, exc.issuer, utcnow()
        ):
            raise
        log.info("peer %s rotated its keys; bundle fetched and pinned", exc.issuer)
        return call(session)


def _accept(session: Any) -> Any:
    current = node()
    return accept(
        session,
        current.master,
        read_body=lambda: request.get_data(cache=False),
        authorization=request.headers.get("Authorization"),
        now=utcnow(),
        accepts=current.accepts,
    )


@federation.post("/envelope-batches")
def receive_envelope_batch() -> Response:
    """Several envelopes in one POST, each answered on its own (docs/contract.md)."""
    require_json("Envelope batches")
    # Bounded before anything is read: a batch is for bursts of ordinary envelopes.
    if request.content_length is None or request.content_length > BATCH_MAX_BYTES:
        raise TooLarge(f"An envelope batch is at most {BATCH_MAX_BYTES} bytes, with its length.")
    current = node()
    with current.sessions() as session:
        answers = _after_rotation(session, _accept_batch)
    results = []
    for answer in answers:
        entry: dict[str, Any] = {"id": answer.envelope_id, "status": answer.status}
        if answer.receipt is not None:
            entry["receipt"] = answer.receipt
            if answer.status == 202:
                metrics.receipt_issued()
        else:
            entry["problem"] = answer.problem
        results.append(entry)
    log.info(
        "envelope batch answered envelopes=%s refused=%s",
        len(results),
        sum(answer.receipt is None for answer in answers),
    )
    return Response(json.dumps({"results": results}), status=200, mimetype="application/json")


def _accept_batch(session: Any) -> Any:
    current = node()
    return accept_batch(
        session,
        current.master,
        read_body=lambda: request.get_data(cache=False),
        authorization=request.headers.get("Authorization"),
        now=utcnow(),
        problem_base=problem_type_base(),
        accepts=current.accepts,
    )


@federation.get("/areas/<code>/bundle")
def bundle(code: str) -> Response:
    current = node()
    with current.sessions() as session:
        document = published_bundle(session, current.master, code, utcnow(), current.accepts)
    return Response(json.dumps(document), mimetype="application/json")


@federation.post("/audit/consistency")
def audit_consistency() -> Response:
    """A peer holding our checkpoints asks us to prove our log still extends them."""
    require_json()
    current = node()
    with current.sessions() as session:
        answer = witness.answer_consistency(
            session,
            current.master,
            request.get_data(cache=False),
            request.headers.get("Authorization"),
            utcnow(),
        )
    return Response(json.dumps(answer), mimetype="application/json")


def _flag_role(serve: Any, status: int = 200, **options: Any) -> Response:
    require_json()
    current = node()
    with current.sessions() as session:
        answer = serve(
            session,
            current.flag_roles,
            request.get_data(cache=False),
            request.headers.get("Authorization"),
            utcnow(),
            **options,
        )
    if answer is None:
        return Response(status=204)
    return Response(json.dumps(answer), status=status, mimetype="application/json")


@federation.post("/linkage/evaluate")
def linkage_evaluate() -> Response:
    """The linkage authority: blinded elements in, evaluated elements out."""
    return _flag_role(serving.serve_evaluate)


@federation.post("/flags/tokens")
def flag_tokens() -> Response:
    """The flag index: an area publishes set, extend or clear for one of its flags."""
    return _flag_role(serving.serve_publish)


@federation.post("/flags/match")
def flag_match() -> Response:
    """The flag index: which active tokens of other areas equal these (and, for a caller
    that asks for scored matches, which of its tokens met each flag)."""
    # Named exactly: "*/*" (which HTTP clients send by default) does not ask for it.
    scored = any(v == SCORED_MATCH_MEDIA_TYPE and q > 0 for v, q in request.accept_mimetypes)
    return _flag_role(serving.serve_match, scored=scored)


@federation.post("/flags/verifications")
def flag_verifications() -> Response:
    """A sealed verification request: relayed by the index, kept by the holding area."""
    return _flag_role(serving.serve_verification, status=202)


@federation.post("/flags/verifications/answers")
def flag_verification_answers() -> Response:
    """A holder's sealed answer: relayed back by the index, kept by the asking area."""
    return _flag_role(serving.serve_answer, status=202)


@federation.post("/audit/cosignatures")
def audit_cosignature() -> Response:
    """A peer that verified our log co-signs a checkpoint of it (witnessing)."""
    require_json()
    current = node()
    with current.sessions() as session:
        witness.accept_cosignature(
            session, request.get_data(cache=False), request.headers.get("Authorization"), utcnow()
        )
    return Response(status=201)
