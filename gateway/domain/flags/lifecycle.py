"""A flag's life in one area (DESIGN section 2): set after a meeting (or on a transfer),
extended by each review to 12 calendar months after it, cleared, or expired by the
worker; and the index told of each change.

Subject details are sealed under a master-key AEAD bound to the area and flag id (not to
the area's X25519 key): a flag must stay readable for as long as it lives, across area key
rotations whose old keys are retired, and the area's X25519 secret is itself held under the
same master key, so sealing to it would protect against no one the AEAD does not.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from marshmallow import Schema, ValidationError
from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from adapters.db.models import Area, Envelope, Flag, FlagToken, Transfer
from gateway.domain import audit
from gateway.domain.areas.local_areas import secret_keys_by_id
from gateway.domain.audit import actions
from gateway.domain.federation import envelope_writer
from gateway.domain.flags import roles as role_calls
from gateway.domain.flags.months import expiry, today
from gateway.domain.flags.roles import Roles, RoleUnavailable
from gateway.domain.flags.token_derivation import person_tokens, spaces_label
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import (
    CHAIR,
    COORDINATOR,
    FLAGS_QUERY,
    FLAGS_WRITE,
    Principal,
)
from gateway.domain.linkage import SPACES, Token
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers.states import INBOUND, OUTBOUND
from gateway.errors import Conflict, Invalid, NotFound, TooManyRequests, field_errors
from keys import CryptoError, MasterKey, b64url_encode, open_envelope, open_own_copy, parse_envelope
from keys.boxes import new_box_keypair
from schemas.wire.flags import (
    ACTIVE,
    CHILD,
    CLEAR,
    CLEAR_ACTION,
    CLEARED,
    EXPIRED,
    EXTEND_ACTION,
    PAYLOAD_TYPE,
    PERPETRATOR,
    SCHEMA_VERSION,
    SET,
    VICTIM,
    FlagNotice,
    FlagQuery,
    NewFlag,
    NewFlagSchema,
    Person,
    Publication,
    Review,
    ReviewSchema,
    WireToken,
    dump_flag_notice,
    load,
)

log = logging.getLogger("gateway.flags")
WRITE_ROLES = (COORDINATOR,)
READ_ROLES = (COORDINATOR, CHAIR)


@dataclass(frozen=True)
class FlagView:
    id: str
    area_code: str
    case_ref: str | None  # None once purged (listings leave purged flags out)
    status: str
    reviewed_at: date
    expires_at: date
    transfer_id: str | None
    origin_area: str | None
    sits_with: str
    subject_roles: list[str]
    shared: bool


# What `view` reads; the list selects these and nothing else.
_VIEW_COLUMNS = (
    Flag.id,
    Flag.area_code,
    Flag.case_ref,
    Flag.status,
    Flag.reviewed_at,
    Flag.expires_at,
    Flag.transfer_id,
    Flag.origin_area,
    Flag.held_by,
    Flag.subject_roles,
)


def view(row: Flag, shared: bool) -> FlagView:
    """From an entity, or from a row of `_VIEW_COLUMNS` (same attribute names)."""
    return FlagView(
        id=row.id,
        area_code=row.area_code,
        case_ref=row.case_ref,
        status=row.status,
        reviewed_at=row.reviewed_at,
        expires_at=row.expires_at,
        transfer_id=row.transfer_id,
        origin_area=row.origin_area,
        sits_with=row.held_by or row.area_code,
        subject_roles=row.subject_roles.split(",") if row.subject_roles else [],
        shared=shared,
    )


def _load(schema: Schema, data: Mapping[str, Any], kind: type[Any]) -> Any:
    try:
        return load(schema, data, kind)
    except ValidationError as exc:
        raise Invalid("The request is not valid.", errors=field_errors(exc.messages)) from exc


def shared_roles(area: Area) -> frozenset[str]:
    """Area policy (seed 004 2.5): victims always; children unless turned off;
    perpetrators only when turned on."""
    shared = {VICTIM}
    if area.flags_share_children is not False:
        shared.add(CHILD)
    if area.flags_share_perpetrators:
        shared.add(PERPETRATOR)
    return frozenset(shared)


def verify_context(area: str, flag_id: str) -> str:
    return f"flag-verify:v1:{area}:{flag_id}"


def _subjects_context(area: str, flag_id: str) -> str:
    return f"flag-subjects:v1:{area}:{flag_id}"


# --- set ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    transfer: Transfer | None
    origin_area: str | None
    origin_case_ref: str | None
    held_by: str | None


@owns_transaction
def set_flag(
    session: Session,
    roles: Roles,
    principal: Principal,
    requested_area: str | None,
    data: Mapping[str, Any],
    now: datetime,
) -> FlagView:
    area = principal.choose_area(requested_area, WRITE_ROLES, FLAGS_WRITE)
    new: NewFlag = _load(NewFlagSchema(), data, NewFlag)
    with session.begin():
        _check_free(session, area, new.case_ref)
        origin = _origin(session, roles.master, area, new.source)
        area_row = session.get(Area, area)
        if area_row is None:
            raise NotFound("No such area.")
        sharing = shared_roles(area_row)
    # Derived before anything is written: if the authority cannot be reached, nothing is.
    derived = [person_tokens(roles, area, subject, now) for subject in new.subjects]
    expires = expiry(new.reviewed_at)
    flag_id = str(uuid.uuid4())
    verify_secret, verify_public = new_box_keypair()
    with session.begin():
        _check_free(session, area, new.case_ref)
        row = Flag(
            id=flag_id,
            area_code=area,
            case_ref=new.case_ref,
            status=ACTIVE if expires > today(now) else EXPIRED,
            reviewed_at=new.reviewed_at,
            expires_at=expires,
            source="local" if new.source is None else "transfer",
            transfer_id=new.source,
            origin_area=origin.origin_area,
            origin_case_ref=origin.origin_case_ref,
            held_by=origin.held_by,
            index_ref=b64url_encode(verify_public),
            verify_secret_sealed=roles.master.seal(verify_secret, verify_context(area, flag_id)),
            subject_roles=",".join(s.role for s in new.subjects),
            subjects_sealed=None,
            index_dirty=True,
            token_spaces=spaces_label(),
            created_at=now,
            updated_at=now,
        )
        subjects = [_subject_dict(s) for s in new.subjects]
        row.subjects_sealed = roles.master.seal(
            json.dumps(subjects, sort_keys=True).encode("utf-8"),
            _subjects_context(area, flag_id),
        )
        session.add(row)
        session.flush()
        for subject, tokens in zip(new.subjects, derived, strict=True):
            _add_tokens(session, flag_id, tokens, subject.role in sharing)
        actor = principal.actor(area, WRITE_ROLES)
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.FLAG_SET,
                actor=actor,
                peer_area=origin.origin_area,
                objects={"flag": flag_id, **({"transfer": new.source} if new.source else {})},
                details={
                    "subjects": len(new.subjects),
                    "expires_at": expires.isoformat(),
                    "source": row.source,
                },
            ),
            now,
        )
        if origin.transfer is not None and origin.transfer.direction == INBOUND:
            _notify(session, roles.master, row, origin.transfer, "set", actor, now)
        shared = any(s.role in sharing for s in new.subjects)
        result = view(row, shared)
    sync(session, roles, flag_id, now, hint=SET)
    return result


def _add_tokens(session: Session, flag_id: str, tokens: list[Token], shared: bool) -> None:
    session.add_all(
        FlagToken(flag_id=flag_id, token=t.token, kind=t.kind, shared=shared)
        for t in {t.token: t for t in tokens}.values()
    )


def _subject_dict(subject: Any) -> dict[str, Any]:
    return {
        "role": subject.role,
        "given_names": subject.given_names,
        "family_name": subject.family_name,
        "date_of_birth": subject.date_of_birth.isoformat() if subject.date_of_birth else None,
        "aliases": list(subject.aliases),
        "previous_family_names": list(subject.previous_family_names),
    }


def _check_free(session: Session, area: str, case_ref: str) -> None:
    taken = session.scalar(select(Flag.id).where(Flag.area_code == area, Flag.case_ref == case_ref))
    if taken is not None:
        raise Conflict("This case is already flagged in this area; record a review instead.")


def _origin(session: Session, master: MasterKey, area: str, transfer_id: str | None) -> _Origin:
    if transfer_id is None:
        return _Origin(None, None, None, None)
    row = session.get(Transfer, transfer_id)
    if row is None or row.area_code != area:
        raise Invalid("The source is not valid.", errors={"source": ["No such transfer."]})
    if row.direction == OUTBOUND:
        # We sent the case away: it now sits in the receiving area.
        return _Origin(row, None, None, row.peer_area)
    payload = _transfer_payload(session, master, row)
    ref = payload.get("originating_case_ref")
    return _Origin(row, row.peer_area, ref if isinstance(ref, str) else None, None)


def _transfer_payload(session: Session, master: MasterKey, row: Transfer) -> dict[str, Any]:
    """The transfer's payload, in memory only, for the originating case reference."""
    envelope = session.scalars(
        select(Envelope).where(
            Envelope.envelope_id == row.envelope_id, Envelope.area_code == row.area_code
        )
    ).one()
    wire = json.loads(envelope.body)
    parts = parse_envelope(wire)
    keys = secret_keys_by_id(
        session, master, parts.from_key if row.direction == OUTBOUND else parts.to_key
    )
    try:
        if keys is None:
            raise CryptoError("keys gone")
        if row.direction == OUTBOUND and envelope.self_sealed_key is not None:
            return dict(open_own_copy(wire, envelope.self_sealed_key, keys))
        return dict(open_envelope(wire, keys))
    except CryptoError as exc:
        raise Conflict("That transfer can no longer be opened (purged or keys retired).") from exc


# --- review, clear, expire --------------------------------------------------------------------


@owns_transaction
def review(
    session: Session,
    roles: Roles,
    principal: Principal,
    flag_id: str,
    data: Mapping[str, Any],
    now: datetime,
) -> FlagView:
    """A new review extends the flag to 12 calendar months after it; `clear` ends it."""
    body: Review = _load(ReviewSchema(), data, Review)
    with session.begin():
        row = session.get(Flag, flag_id, with_for_update=True)
        if row is None or row.area_code not in principal.areas_for(WRITE_ROLES, FLAGS_WRITE):
            raise NotFound("No such flag.")
        if row.status == CLEARED:
            raise Conflict("This flag was cleared; set a new flag for a new referral.")
        if row.purged_at is not None:
            raise Conflict("This flag's details were purged; set a new flag.")
        if body.reviewed_at < row.reviewed_at:
            raise Invalid(
                "The review is older than the last one.",
                errors={"reviewed_at": ["Must not be before the last review."]},
            )
        actor = principal.actor(row.area_code, WRITE_ROLES)
        if body.outcome == CLEAR:
            row.status = CLEARED
            action, event = actions.FLAG_CLEARED, "cleared"
        else:
            row.reviewed_at = body.reviewed_at
            row.expires_at = expiry(body.reviewed_at)
            row.status = ACTIVE if row.expires_at > today(now) else EXPIRED
            action, event = actions.FLAG_EXTENDED, "reviewed"
        row.updated_at, row.index_dirty = now, True
        _record(session, row, action, actor, now)
        _tell_origin(session, roles.master, row, event, actor, now)
        result = view(row, _shared(session, row))
    sync(session, roles, flag_id, now, hint=EXTEND_ACTION)
    return result


@owns_transaction
def expire_due(session: Session, roles: Roles, now: datetime) -> int:
    """The daily chore: flags whose 12 months have lapsed expire, the index hears of it
    (and of any change it missed), and the originating area of a transferred case too."""
    with session.begin():
        due = list(
            session.scalars(
                select(Flag)
                .where(Flag.status == ACTIVE, Flag.expires_at <= today(now))
                .with_for_update()
            )
        )
        for row in due:
            row.status, row.updated_at, row.index_dirty = EXPIRED, now, True
            actor = Actor.system()
            _record(session, row, actions.FLAG_EXPIRED, actor, now)
            _tell_origin(session, roles.master, row, "expired", actor, now)
    with session.begin():
        dirty = list(session.scalars(select(Flag.id).where(Flag.index_dirty.is_(True))))
    for flag_id in dirty:
        if not sync(session, roles, flag_id, now):
            break  # the index is unreachable: the next pass retries, none waits on each
    return len(due)


def _record(session: Session, row: Flag, action: str, actor: Actor, now: datetime) -> None:
    audit.record(
        session,
        row.area_code,
        audit.Event(
            action=action,
            actor=actor,
            objects={"flag": row.id},
            details={"status": row.status, "expires_at": row.expires_at.isoformat()},
        ),
        now,
    )


def _shared(session: Session, row: Flag) -> bool:
    return (
        session.scalar(
            select(FlagToken.id).where(FlagToken.flag_id == row.id, FlagToken.shared.is_(True))
        )
        is not None
    )


# --- the index ----------------------------------------------------------------------------


@owns_transaction
def sync(session: Session, roles: Roles, flag_id: str, now: datetime, hint: str = SET) -> bool:
    """Tell the index the flag's current state. A failure leaves it dirty for the worker."""
    with session.begin():
        row = session.get(Flag, flag_id)
        if row is None:
            return False
        stamp = row.updated_at
        tokens = list(
            session.execute(
                select(FlagToken.kind, FlagToken.token).where(
                    FlagToken.flag_id == flag_id, FlagToken.shared.is_(True)
                )
            )
        )
        publication = _publication(row, tokens, hint, roles)
        area = row.area_code
    try:
        role_calls.publish(roles, area, publication, now)
    except (RoleUnavailable, Conflict, NotFound, TooManyRequests) as exc:
        log.warning("flag index not updated (%s); the worker retries", type(exc).__name__)
        return False
    with session.begin():
        row = session.get(Flag, flag_id, with_for_update=True)
        if row is not None and row.updated_at == stamp:
            row.index_dirty = False
    return True


def _publication(row: Flag, tokens: list[Any], hint: str, roles: Roles) -> Publication:
    to = roles.index.area if roles.index else row.area_code
    if row.status != ACTIVE or not tokens:
        return Publication(
            to=to, action=CLEAR_ACTION, ref=row.index_ref, expires_at=None, tokens=()
        )
    if hint == EXTEND_ACTION:
        return Publication(
            to=to, action=EXTEND_ACTION, ref=row.index_ref, expires_at=row.expires_at, tokens=()
        )
    wire = tuple(WireToken(kind=kind, token=b64url_encode(token)) for kind, token in tokens)
    return Publication(to=to, action=SET, ref=row.index_ref, expires_at=row.expires_at, tokens=wire)


# --- new linkage rules -----------------------------------------------------------------------

REDERIVE_BATCH = 50


@owns_transaction
def rederive_stale(session: Session, roles: Roles, now: datetime) -> int:
    """Flags whose tokens were derived under other token spaces than this release's get
    new tokens from their sealed subjects (opened in memory under the master key, never
    written in clear), keep whether each subject was shared, and are marked for the index:
    the next sync replaces their tokens there. Nobody re-types anything. A batch a pass;
    stops at the first authority failure (the next pass retries)."""
    current = spaces_label()
    with session.begin():
        stale = list(
            session.scalars(
                select(Flag.id)
                .where(
                    Flag.status != CLEARED,
                    Flag.purged_at.is_(None),
                    Flag.subjects_sealed.is_not(None),
                    or_(Flag.token_spaces.is_(None), Flag.token_spaces != current),
                )
                .order_by(Flag.id)
                .limit(REDERIVE_BATCH)
            )
        )
    done = 0
    for flag_id in stale:
        try:
            done += _rederive(session, roles, flag_id, now)
        except (RoleUnavailable, TooManyRequests) as exc:
            log.warning("linkage re-derivation deferred (%s)", type(exc).__name__)
            break
    return done


@owns_transaction
def _rederive(session: Session, roles: Roles, flag_id: str, now: datetime) -> bool:
    with session.begin():
        row = session.get(Flag, flag_id)
        if row is None or row.subjects_sealed is None:
            return False
        area, stamp = row.area_code, row.updated_at
        old = {int(space) for space in (row.token_spaces or "1").split(",")}
        sealed = roles.master.open(row.subjects_sealed, _subjects_context(area, flag_id))
        was_shared = set(
            session.scalars(
                select(FlagToken.token).where(
                    FlagToken.flag_id == flag_id, FlagToken.shared.is_(True)
                )
            )
        )
    people = [_person(item) for item in json.loads(sealed)]
    # The old spaces are derived too, only to learn which subjects were shared.
    spaces = sorted(old | set(SPACES), reverse=True)
    derived = [person_tokens(roles, area, person, now, spaces=spaces) for person in people]
    with session.begin():
        row = session.get(Flag, flag_id, with_for_update=True)
        if row is None or row.updated_at != stamp or row.purged_at is not None:
            return False  # changed meanwhile: the next pass looks again
        session.execute(delete(FlagToken).where(FlagToken.flag_id == flag_id))
        keep = {f"v{space}" for space in SPACES}
        for tokens in derived:
            shared = any(bytes(t.token) in was_shared for t in tokens)
            current = [t for t in tokens if t.rule.split(":")[0] in keep]
            _add_tokens(session, flag_id, current, shared)
        row.token_spaces, row.index_dirty = spaces_label(), True
    return True


def _person(item: dict[str, Any]) -> Person:
    born = item.get("date_of_birth")
    return Person(
        given_names=item["given_names"],
        family_name=item["family_name"],
        date_of_birth=date.fromisoformat(born) if born else None,
        aliases=tuple(item.get("aliases", ())),
        previous_family_names=tuple(item.get("previous_family_names", ())),
    )


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagPage:
    items: list[FlagView]
    next: tuple[datetime, str] | None  # (expiry as midnight UTC, id) of the last item


@owns_transaction
def list_flags(session: Session, principal: Principal, query: FlagQuery, now: datetime) -> FlagPage:
    """Soonest expiry first, `query.limit` at a time (keyset paging, like transfers)."""
    area = principal.choose_area(query.area, READ_ROLES, FLAGS_QUERY)
    # One statement per page: the columns `view` reads (not the sealed subjects) and
    # whether any of the flag's tokens was shared, as a correlated EXISTS.
    shared = (
        select(FlagToken.flag_id)
        .where(FlagToken.flag_id == Flag.id, FlagToken.shared.is_(True))
        .exists()
        .label("shared")
    )
    statement = select(*_VIEW_COLUMNS, shared).where(
        Flag.area_code == area, Flag.purged_at.is_(None)
    )
    if query.status is not None:
        statement = statement.where(Flag.status == query.status)
    if query.expiring_within is not None:
        limit = today(now) + timedelta(days=query.expiring_within)
        statement = statement.where(Flag.status == ACTIVE, Flag.expires_at <= limit)
    if query.lapsed_since is not None:
        statement = statement.where(Flag.status == EXPIRED, Flag.expires_at >= query.lapsed_since)
    if query.cursor is not None:
        moment, ident = query.cursor
        after = moment.date()
        # A row value: a range on (area_code[, status], expires_at, id), see the models.
        statement = statement.where(tuple_(Flag.expires_at, Flag.id) > tuple_(after, ident))
    with session.begin():
        ordered = statement.order_by(Flag.expires_at, Flag.id).limit(query.limit + 1)
        rows = session.execute(ordered).all()
        items = [view(cast(Flag, row), bool(row.shared)) for row in rows[: query.limit]]
    last = items[-1] if len(rows) > query.limit and items else None
    cursor = (_midnight(last.expires_at), last.id) if last is not None else None
    return FlagPage(items, cursor)


@owns_transaction
def get_flag(session: Session, principal: Principal, flag_id: str) -> FlagView:
    """One flag of an area the principal reads flags in (the pages' confirmation and review
    pages); another area's flag, a purged one or no flag at all: the same NotFound."""
    with session.begin():
        row = session.get(Flag, flag_id)
        readable = principal.areas_for(READ_ROLES, FLAGS_QUERY)
        if row is None or row.area_code not in readable or row.purged_at is not None:
            raise NotFound("No such flag.")
        return view(row, _shared(session, row))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- after a transfer -------------------------------------------------------------------------


def _tell_origin(
    session: Session, master: MasterKey, row: Flag, event: str, actor: Actor, now: datetime
) -> None:
    if row.transfer_id is None or row.origin_area is None:
        return
    transfer = session.get(Transfer, row.transfer_id)
    if transfer is None or transfer.direction != INBOUND:
        return
    _notify(session, master, row, transfer, event, actor, now)


def _notify(
    session: Session,
    master: MasterKey,
    row: Flag,
    transfer: Transfer,
    event: str,
    actor: Actor,
    now: datetime,
) -> None:
    """A `flag_notice` to the area the case came from, so its flag follows ours."""
    if row.case_ref is None:
        return  # purged: its status can no longer change, there is nothing to tell
    notice = FlagNotice(
        schema_version=SCHEMA_VERSION,
        from_area=transfer.area_code,
        to_area=transfer.peer_area,
        event=event,
        case_ref=row.case_ref,
        originating_case_ref=row.origin_case_ref,
        status=row.status,
        reviewed_at=row.reviewed_at,
        expires_at=row.expires_at,
    )
    envelope_writer.write(
        session,
        master,
        transfer,
        envelope_writer.reply(
            transfer,
            PAYLOAD_TYPE,
            dump_flag_notice(notice),
            action=actions.FLAG_NOTICE_SENT,
            actor=actor,
            details={"event": event},
            objects={"flag": row.id},
            step=envelope_writer.Step("flag_notice_sent", {"event": event}),
        ),
        now,
    )


@owns_transaction
def purge_index(session: Session, now: datetime) -> int:
    """When this node plays the index: drop lapsed tokens (the index expires by itself)."""
    from gateway.domain.flags import index

    with session.begin():
        return index.purge_expired(session, now)


@owns_transaction
def set_policy(
    session: Session,
    area: str,
    perpetrators: bool | None,
    children: bool | None,
    actor: Actor,
    now: datetime,
) -> frozenset[str]:
    """Change what the area's new flags share (seed 004 2.5); None leaves a choice as is."""
    with session.begin():
        row = session.get(Area, area, with_for_update=True)
        if row is None:
            raise NotFound("No such area on this node.")
        if perpetrators is not None or children is not None:
            if perpetrators is not None:
                row.flags_share_perpetrators = perpetrators
            if children is not None:
                row.flags_share_children = children
            shared = shared_roles(row)
            audit.record(
                session,
                area,
                audit.Event(
                    action=actions.FLAG_POLICY,
                    actor=actor,
                    details={"shares": ",".join(sorted(shared))},
                ),
                now,
            )
        return shared_roles(row)
