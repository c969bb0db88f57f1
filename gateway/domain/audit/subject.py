"""Subject access and court orders (seed 004 ISP 9): every disclosure concerning a person,
found by opening the area's own sealed records in memory (the audit holds no names to
search), with the legal basis, the consent position and the recipients.

The search itself is audited with its match count, never with the name searched for.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.db.models import AuditEvent, AuditSalt, Envelope, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area, secret_keys_by_id
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from keys import CryptoError, MasterKey, open_envelope, open_own_copy, parse_envelope
from schemas.wire.grounds import LEGAL_GROUNDS
from schemas.wire.transfer_request import TransferRequest, load_transfer_request

OUTBOUND = "outbound"


@dataclass(frozen=True)
class Person:
    given_names: str
    family_name: str | None
    date_of_birth: date


@dataclass(frozen=True)
class Named:
    """One person named in a record, as the search compares them."""

    role: str
    given: str
    families: frozenset[str]
    born: date | None


def normalise(name: str | None) -> str:
    """Case, accents, punctuation and spacing never decide a match."""
    if not name:
        return ""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters.casefold())
    return " ".join(cleaned.split())


@owns_transaction
def search(
    session: Session,
    master: MasterKey,
    area: str,
    person: Person,
    *,
    actor: Actor,
    now: datetime,
) -> list[dict[str, Any]]:
    with session.begin():
        get_area(session, area)
        found = [
            _disclosure(session, envelope, request, roles)
            for envelope, request in _opened(session, master, area)
            if (roles := _roles(request, person))
        ]
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.SUBJECT_ACCESS, actor=actor, details={"matches": len(found)}
            ),
            now,
        )
    return found


def _opened(
    session: Session, master: MasterKey, area: str
) -> Iterator[tuple[Envelope, TransferRequest]]:
    rows = session.scalars(
        select(Envelope)
        .where(
            Envelope.area_code == area,
            Envelope.type == "transfer_request",
            Envelope.purged_at.is_(None),
        )
        .order_by(Envelope.created_at, Envelope.pk)
    )
    for envelope in rows:
        payload = _open(session, master, envelope)
        if payload is None:
            continue
        try:
            yield envelope, load_transfer_request(payload)
        except ValidationError:
            continue  # validated when stored; a record that no longer loads is skipped


def _open(session: Session, master: MasterKey, envelope: Envelope) -> dict[str, Any] | None:
    try:
        parts = parse_envelope(json.loads(envelope.body))
        if envelope.direction == OUTBOUND:
            keys = secret_keys_by_id(session, master, parts.from_key)
            if keys is None or envelope.self_sealed_key is None:
                return None
            return open_own_copy(parts, envelope.self_sealed_key, keys)
        keys = secret_keys_by_id(session, master, parts.to_key)
        return None if keys is None else open_envelope(parts, keys)
    except (CryptoError, ValueError):
        return None


def _named(request: TransferRequest) -> Iterator[Named]:
    victim = request.victim
    families = {victim.family_name, *victim.previous_family_names}
    yield Named("victim", normalise(victim.given_names), _fam(families), victim.date_of_birth)
    for alias in victim.aliases:
        given, _, family = alias.rpartition(" ")
        yield Named("victim", normalise(given or alias), _fam({family}), victim.date_of_birth)
    for perpetrator in request.perpetrators:
        yield Named(
            "perpetrator",
            normalise(perpetrator.given_names),
            _fam({perpetrator.family_name}),
            perpetrator.date_of_birth,
        )
    for child in request.children:
        yield Named(
            "child", normalise(child.given_names), _fam({child.family_name}), child.date_of_birth
        )


def _fam(names: Iterable[str | None]) -> frozenset[str]:
    return frozenset(n for n in (normalise(x) for x in names) if n)


def _roles(request: TransferRequest, person: Person) -> list[str]:
    """Date of birth must agree; the given names must agree in full or by first name;
    the family name, when asked for, must be one the record knows (current or previous)."""
    given = normalise(person.given_names)
    family = normalise(person.family_name)
    roles = []
    for named in _named(request):
        if named.born != person.date_of_birth or not named.given or not given:
            continue
        same_given = named.given == given or named.given.split()[0] == given.split()[0]
        if same_given and (not family or family in named.families):
            roles.append(named.role)
    return sorted(set(roles))


def _disclosure(
    session: Session, envelope: Envelope, request: TransferRequest, roles: list[str]
) -> dict[str, Any]:
    transfer = session.scalar(
        select(Transfer).where(
            Transfer.envelope_id == envelope.envelope_id, Transfer.area_code == envelope.area_code
        )
    )
    consent = request.consent
    return {
        "envelope": envelope.envelope_id,
        "transfer": transfer.id if transfer else None,
        "direction": envelope.direction,
        "disclosed_by": request.from_area,
        "disclosed_to": request.to_area,
        "created_at": envelope.created_at.isoformat(),
        "delivered_at": (
            transfer.delivered_at.isoformat() if transfer and transfer.delivered_at else None
        ),
        "status": transfer.status if transfer else None,
        "roles": roles,
        "consent": consent.consent,
        "victim_informed": consent.victim_informed,
        "decision_forum": consent.decision_forum,
        "legal_basis": [
            {"code": code, "label": LEGAL_GROUNDS.get(code, code)} for code in consent.grounds
        ],
        "restricted": request.restricted,
        "audit": _audit_ref(session, envelope),
    }


def _audit_ref(session: Session, envelope: Envelope) -> dict[str, Any] | None:
    """The leaf that recorded this disclosure, found through its commitment's salt row."""
    seq = session.scalar(
        select(AuditSalt.seq).where(
            AuditSalt.area_code == envelope.area_code,
            AuditSalt.envelope_id == envelope.envelope_id,
        )
    )
    if seq is None:
        return None
    leaf_hash = session.scalar(
        select(AuditEvent.leaf_hash).where(
            AuditEvent.area_code == envelope.area_code, AuditEvent.seq == seq
        )
    )
    return {"seq": seq, "leaf_hash": leaf_hash.hex() if leaf_hash else None}
