"""Subject access and court orders (seed 004 ISP 9): every disclosure concerning a person,
found by opening the area's own sealed records in memory (the audit holds no names to
search), with the legal basis, the consent position and the recipients.

The search itself is audited with the request's own reference, who asked and its match
counts, never with the name searched for; so is the decision taken on the request
afterwards (`decide`). A match where the person is a perpetrator is marked: the MARAC must
not be disclosed to a perpetrator (seed 004 ISP 6.2), and the agencies that supplied the
information must be consulted before anything is shared (ISP 9.2-9.4).
"""

from __future__ import annotations

import json
import re
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
from gateway.domain.audit.log import Detail
from gateway.domain.identity.actors import Actor
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Invalid, NotFound
from keys import CryptoError, MasterKey, open_envelope, open_own_copy, parse_envelope
from schemas.api.audit import REFERENCE_HELP, SUBJECT_DECISIONS, SUBJECT_REFERENCE
from schemas.wire.grounds import LEGAL_GROUNDS
from schemas.wire.transfer_request import TransferRequest, load_transfer_request

OUTBOUND = "outbound"
PERPETRATOR = "perpetrator"
# What was done with the request (seed 004 ISP 9): disclosed in full, in part, withheld,
# or referred to the agency that supplied the information (ISP 9.4).
DECISIONS = SUBJECT_DECISIONS
# The request's own reference (a data protection team's or a court's number): letters,
# digits and a few separators, so it cannot carry a sentence about the person.
REFERENCE = re.compile(SUBJECT_REFERENCE)


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


@dataclass(frozen=True)
class Answer:
    """The disclosures found, and the search's own audit entry (`seq`), which a decision
    on the request names."""

    seq: int
    reference: str | None
    disclosures: list[dict[str, Any]]

    @property
    def perpetrator(self) -> bool:
        return any(item["perpetrator"] for item in self.disclosures)

    @property
    def suppliers(self) -> list[str]:
        """The areas whose information was found: each must be consulted (ISP 9.2)."""
        return sorted({item["disclosed_by"] for item in self.disclosures})


def check_reference(reference: str | None) -> None:
    if reference is not None and not REFERENCE.match(reference):
        raise Invalid(
            "The request's reference is not valid.",
            errors={"reference": [REFERENCE_HELP]},
        )


@owns_transaction
def search(
    session: Session,
    master: MasterKey,
    area: str,
    person: Person,
    *,
    actor: Actor,
    now: datetime,
    reference: str | None = None,
) -> Answer:
    check_reference(reference)
    with session.begin():
        get_area(session, area)
        found = [
            _disclosure(session, envelope, request, roles)
            for envelope, request in _opened(session, master, area)
            if (roles := _roles(request, person))
        ]
        details: dict[str, Detail] = {
            "matches": len(found),
            "as_perpetrator": sum(1 for item in found if item["perpetrator"]),
        }
        if reference is not None:
            details["reference"] = reference
        recorded = audit.record(
            session,
            area,
            audit.Event(action=actions.SUBJECT_ACCESS, actor=actor, details=details),
            now,
        )
    return Answer(recorded.seq, reference, found)


@owns_transaction
def decide(
    session: Session,
    area: str,
    search_seq: int,
    reference: str,
    decision: str,
    *,
    actor: Actor,
    now: datetime,
) -> int:
    """Record what was done with the request found by the search at `search_seq` (whose
    reference must be the one given); once per search. Returns the decision's entry."""
    check_reference(reference)
    if decision not in DECISIONS:
        raise Invalid("Unknown decision.", errors={"decision": ["Not a valid choice."]})
    with session.begin():
        get_area(session, area)
        searched = _leaf(session, area, search_seq)
        if (
            searched is None
            or searched["action"] != actions.SUBJECT_ACCESS
            or searched["details"].get("reference") != reference
        ):
            raise NotFound("No subject access search with this reference.")
        if _decided(session, area, search_seq):
            raise Conflict("A decision on this request is already recorded.")
        recorded = audit.record(
            session,
            area,
            audit.Event(
                action=actions.SUBJECT_ACCESS_DECIDED,
                actor=actor,
                details={"search": search_seq, "reference": reference, "decision": decision},
            ),
            now,
        )
    return recorded.seq


def _leaf(session: Session, area: str, seq: int) -> dict[str, Any] | None:
    leaf = session.scalar(
        select(AuditEvent.leaf).where(AuditEvent.area_code == area, AuditEvent.seq == seq)
    )
    return None if leaf is None else dict(json.loads(leaf))


def _decided(session: Session, area: str, search_seq: int) -> bool:
    leaves = session.scalars(
        select(AuditEvent.leaf).where(
            AuditEvent.area_code == area, AuditEvent.action == actions.SUBJECT_ACCESS_DECIDED
        )
    )
    return any(json.loads(leaf)["details"].get("search") == search_seq for leaf in leaves)


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
            PERPETRATOR,
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
        "perpetrator": PERPETRATOR in roles,
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
