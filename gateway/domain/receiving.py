"""Accepting an envelope from a peer (DESIGN section 3, step 3).

Everything is checked before anything is stored: the request token (signature, claims,
binding to this request), the addressee, the envelope signature against the sender's
pinned key, and the payload itself (opened in memory, validated, then dropped). Storage
is idempotent by envelope id: a retry gets the byte-identical receipt and creates nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaKey, Envelope, Transfer, UsedToken
from gateway.domain.areas import secret_keys_by_id
from gateway.domain.peers import pinned_key
from gateway.domain.transfers import INBOUND, RECEIVED, TRANSFER_REQUEST
from gateway.errors import Conflict, DomainError, Malformed, Refused, Unauthorized, field_errors
from keys import (
    AreaSecretKeys,
    CryptoError,
    EnvelopeParts,
    ExpiredKey,
    MasterKey,
    PublicAreaKey,
    canonical_json,
    envelope_digest,
    format_time,
    open_envelope,
    parse_envelope,
    sign_document,
    token_key_id,
    verify_envelope,
    verify_request_token,
)
from schemas.envelope import EnvelopeSchema
from schemas.receipt import RECEIPT_KIND
from schemas.transfer_request import load_transfer_request

ENVELOPES_PATH = "/federation/v1/envelopes"

# Payload types this node can validate today; the others arrive with their issues and are
# refused until then rather than stored unchecked.
PAYLOAD_LOADERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    TRANSFER_REQUEST: load_transfer_request,
}


@dataclass(frozen=True)
class Accepted:
    receipt: str
    duplicate: bool


def receive_envelope(
    session: Session,
    master: MasterKey,
    *,
    body: bytes,
    authorization: str | None,
    now: datetime,
) -> Accepted:
    wire = _parse_body(body)
    header = _load_header(wire)
    sender_token_key = _token_key(session, authorization, now)
    to_area = header.recipient.area
    expected_url = _endpoint_url(session, to_area)
    try:
        claims = verify_request_token(
            _bearer(authorization),
            sender_token_key,
            audience=to_area,
            method="POST",
            url=expected_url,
            body=body,
            now=int(now.timestamp()),
        )
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc
    if header.sender.area != claims.iss:
        raise Unauthorized("The token's issuer is not the envelope's sender.")
    recipient = _recipient_keys(session, master, to_area, header.recipient.key, now)
    parts = _parse_parts(wire)
    _verify_and_validate(session, wire, parts, recipient, now)
    return _store(session, wire, envelope_digest(parts), recipient, claims.jti, claims.exp, now)


def _parse_parts(wire: dict[str, Any]) -> EnvelopeParts:
    try:
        return parse_envelope(wire)
    except CryptoError as exc:
        raise Refused(f"The envelope is malformed: {exc}.", reason="malformed") from exc


def _parse_body(body: bytes) -> dict[str, Any]:
    try:
        wire = json.loads(body)
    except ValueError as exc:
        raise Malformed("The body is not JSON.") from exc
    if not isinstance(wire, dict):
        raise Malformed("The body must be a JSON object.")
    return wire


def _load_header(wire: dict[str, Any]) -> Any:
    try:
        return EnvelopeSchema().load(wire)
    except ValidationError as exc:
        raise Malformed("The envelope is not valid.", errors=field_errors(exc.messages)) from exc


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer request token is required.")
    return token.strip()


def _token_key(session: Session, authorization: str | None, now: datetime) -> PublicAreaKey:
    try:
        key_id = token_key_id(_bearer(authorization))
    except CryptoError as exc:
        raise Unauthorized(f"Request token refused: {exc}.") from exc
    with session.begin():
        key = pinned_key(session, key_id)
    if key is None:
        raise Unauthorized("The token's key is not pinned on this node; import the bundle.")
    try:
        key.check_valid(now)
    except ExpiredKey as exc:
        raise Unauthorized("The token's key is outside its validity period.") from exc
    return key


def _endpoint_url(session: Session, area: str) -> str:
    """The URL a sender must have bound its token to: the addressed area's published URL."""
    with session.begin():
        local = session.get(Area, area)
        if local is None:
            raise Refused("No such area on this node.", reason="wrong-addressee")
        return local.url + ENVELOPES_PATH


def _recipient_keys(
    session: Session, master: MasterKey, area: str, key_id: str, now: datetime
) -> AreaSecretKeys:
    with session.begin():
        row = session.get(AreaKey, key_id)
        if row is None or row.area_code != area:
            raise Refused(
                "The envelope is sealed to a key this area does not hold.", reason="wrong-addressee"
            )
        if row.valid_until is not None and row.valid_until <= now:
            raise Refused("The envelope is sealed to a retired key.", reason="expired-key")
        keys = secret_keys_by_id(session, master, key_id)
    if keys is None:
        raise Refused(
            "The envelope is sealed to a key this area does not hold.", reason="wrong-addressee"
        )
    return keys


def _verify_and_validate(
    session: Session,
    wire: dict[str, Any],
    parts: EnvelopeParts,
    recipient: AreaSecretKeys,
    now: datetime,
) -> None:
    sender_key_id = wire["from"]["key"]
    with session.begin():
        sender_key = pinned_key(session, sender_key_id)
    if sender_key is None or sender_key.area != wire["from"]["area"]:
        raise Refused(
            "The envelope's signing key is not pinned for its sender.", reason="unknown-key"
        )
    try:
        verify_envelope(parts, sender_key, now)
        payload = open_envelope(parts, recipient)
    except ExpiredKey as exc:
        raise Refused("The envelope's signing key has expired.", reason="expired-key") from exc
    except CryptoError as exc:
        raise Refused(f"The envelope does not verify: {exc}.", reason=exc.code) from exc
    loader = PAYLOAD_LOADERS.get(wire["type"])
    if loader is None:
        raise Refused("This node does not yet accept that payload type.", reason="unsupported-type")
    try:
        loader(payload)
    except ValidationError as exc:
        raise Refused("The payload is not valid.", reason="invalid-payload") from exc
    finally:
        del payload  # plaintext lives only for this check


def _store(
    session: Session,
    wire: dict[str, Any],
    digest: str,
    recipient: AreaSecretKeys,
    jti: str,
    token_exp: int,
    now: datetime,
) -> Accepted:
    try:
        with session.begin():
            session.add(
                UsedToken(
                    jti=jti,
                    issuer=wire["from"]["area"],
                    expires_at=datetime.fromtimestamp(token_exp, now.tzinfo)
                    + timedelta(seconds=60),
                )
            )
            session.flush()
            existing = _existing(session, wire["id"], recipient.area)
            if existing is not None:
                return _duplicate(existing, digest)
            receipt = _sign_receipt(wire, digest, recipient, now)
            _insert(session, wire, digest, receipt, recipient.area, now)
            return Accepted(receipt=receipt, duplicate=False)
    except IntegrityError:
        pass
    # Lost a race: either the token was replayed, or a concurrent retry stored it first.
    with session.begin():
        if session.get(UsedToken, jti) is not None:
            raise Unauthorized("The request token has already been used.")
        existing = _existing(session, wire["id"], recipient.area)
        if existing is None:
            raise DomainError("The envelope could not be stored; retry.")
        return _duplicate(existing, digest)


def _existing(session: Session, envelope_id: str, area: str) -> Envelope | None:
    return session.scalar(
        select(Envelope).where(Envelope.envelope_id == envelope_id, Envelope.area_code == area)
    )


def _duplicate(existing: Envelope, digest: str) -> Accepted:
    if existing.digest != digest or existing.receipt is None:
        raise Conflict("An envelope with this id and different content was already received.")
    return Accepted(receipt=existing.receipt, duplicate=True)


def _sign_receipt(
    wire: dict[str, Any], digest: str, recipient: AreaSecretKeys, now: datetime
) -> str:
    body = {
        "kind": RECEIPT_KIND,
        "v": 1,
        "envelope_id": wire["id"],
        "envelope_digest": digest,
        "from_area": recipient.area,
        "to_area": wire["from"]["area"],
        "key": recipient.key_id,
        "received_at": format_time(now),
        "status": "received",
    }
    return canonical_json(sign_document(body, recipient)).decode("ascii")


def _insert(
    session: Session,
    wire: dict[str, Any],
    digest: str,
    receipt: str,
    area: str,
    now: datetime,
) -> None:
    session.add(
        Envelope(
            envelope_id=wire["id"],
            area_code=area,
            direction=INBOUND,
            type=wire["type"],
            peer_area=wire["from"]["area"],
            in_reply_to=wire["in_reply_to"],
            digest=digest,
            body=canonical_json(wire).decode("ascii"),
            self_sealed_key=None,
            receipt=receipt,
            created_at=now,
        )
    )
    if wire["type"] == TRANSFER_REQUEST:
        session.add(
            Transfer(
                id=str(uuid.uuid4()),
                envelope_id=wire["id"],
                area_code=area,
                peer_area=wire["from"]["area"],
                direction=INBOUND,
                status=RECEIVED,
                failure_reason=None,
                created_at=now,
                updated_at=now,
                delivered_at=now,
            )
        )
    # Audit hook (issue 3): append the 'receipt' disclosure event here, same transaction.
    session.flush()
