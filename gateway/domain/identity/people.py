"""People of an area, managed by its admins (README "Identity and access"): add a person
with a role, add or remove roles, lift a lock, reset a lost second factor.

A person added here has no password and no confirmed authenticator. They get a single-use
link (an invitation) with which they set their password (the password rules of
`keys.passwords`) and then enrol their authenticator on the existing enrolment page. A
reset of a lost second factor clears the password and the authenticator and makes a new
link: otherwise whoever knew the password alone could enrol an authenticator of their own.

The link's token is 256 random bits shown once to the admin (and mailed to the person);
only its keyed digest is stored, it expires after `INVITATION_LIFETIME` and is spent when
the password is set. Every change is audited in the area's log, naming ids only: the
person's name and email are staff contact data, shown on the admin's pages and never
logged.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from adapters.db.models import Invitation, RecoveryCode, User, UserRole
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import ADMIN, ROLES, Principal
from gateway.domain.identity.users import normalise_email, totp_context
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Invalid, NotFound
from keys import MasterKey, WeakPassword, hash_password, keyed_digest, new_totp_secret

INVITATION_LIFETIME = timedelta(hours=72)
WELCOME, RESET = "welcome", "reset"
NAME_MAX = 200
LINK_GONE = (
    "This link has expired or has already been used. Ask an admin of your area for a new one."
)


@dataclass(frozen=True)
class PersonView:
    id: str
    name: str
    email: str
    roles: tuple[str, ...]  # in the area asked about
    locked: bool
    enrolled: bool  # an authenticator is confirmed
    waiting: bool  # an unused, unexpired link is out


@dataclass(frozen=True)
class Added:
    user_id: str
    token: str | None  # None: the person already had an account on this node
    expires_at: datetime | None


@dataclass(frozen=True)
class InvitationView:
    id: str
    purpose: str


def _digest(master: MasterKey, token: str) -> str:
    return keyed_digest(master.subkey("invitation"), token)


def _record(
    session: Session,
    area: str,
    action: str,
    actor: Actor,
    user_id: str,
    now: datetime,
    **details: str,
) -> None:
    audit.record(
        session,
        area,
        audit.Event(action=action, actor=actor, objects={"user": user_id}, details=details),
        now,
    )


def _view(session: Session, user: User, area: str, now: datetime) -> PersonView:
    roles = tuple(
        sorted(
            session.scalars(
                select(UserRole.role).where(UserRole.user_id == user.id, UserRole.area_code == area)
            )
        )
    )
    waiting = session.scalar(
        select(Invitation.id).where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
    )
    return PersonView(
        id=user.id,
        name=user.name or "",
        email=user.email,
        roles=roles,
        locked=user.locked_until is not None and user.locked_until > now,
        enrolled=user.totp_confirmed_at is not None,
        waiting=waiting is not None,
    )


def _person_in(session: Session, area: str, user_id: str) -> User:
    """A person holding a role in `area`; anyone else answers as one that does not exist."""
    held = session.scalar(
        select(UserRole.user_id).where(UserRole.user_id == user_id, UserRole.area_code == area)
    )
    user = session.get(User, user_id) if held else None
    if user is None:
        raise NotFound("No such person in this area.")
    return user


def _role(role: str) -> str:
    if role not in ROLES:
        raise Invalid("Unknown role.", errors={"role": ["Not a valid choice."]})
    return role


@owns_transaction
def list_people(
    session: Session, principal: Principal, area: str, now: datetime
) -> list[PersonView]:
    """Everyone holding a role in the area, by name."""
    principal.admin_actor(area)
    with session.begin():
        get_area(session, area)
        ids = set(session.scalars(select(UserRole.user_id).where(UserRole.area_code == area)))
        people = [
            _view(session, user, area, now)
            for user in session.scalars(select(User).where(User.id.in_(ids)))
        ]
    return sorted(people, key=lambda p: (p.name.lower(), p.id))


@owns_transaction
def person(
    session: Session, principal: Principal, area: str, user_id: str, now: datetime
) -> PersonView:
    principal.admin_actor(area)
    with session.begin():
        return _view(session, _person_in(session, area, user_id), area, now)


def _new_invitation(
    session: Session, master: MasterKey, user_id: str, area: str, purpose: str, now: datetime
) -> tuple[str, datetime]:
    """A fresh link for the person; any earlier unused one stops working."""
    session.execute(
        update(Invitation)
        .where(Invitation.user_id == user_id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires = now + INVITATION_LIFETIME
    session.add(
        Invitation(
            id=str(uuid.uuid4()),
            token_digest=_digest(master, token),
            user_id=user_id,
            area_code=area,
            purpose=purpose,
            created_at=now,
            expires_at=expires,
            used_at=None,
        )
    )
    return token, expires


def _check_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise Invalid("Give the person's name.", errors={"name": ["Required."]})
    if len(clean) > NAME_MAX:
        raise Invalid(
            "The name is too long.",
            errors={"name": [f"Longer than maximum length {NAME_MAX}."]},
        )
    return clean


@owns_transaction
def add_person(
    session: Session,
    master: MasterKey,
    principal: Principal,
    area: str,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
) -> Added:
    """A new account with the role and a link to set it up; or, for an email that already
    has an account on this node (a shared node's other area), the role alone."""
    actor = principal.admin_actor(area)
    problems: dict[str, list[str]] = {}
    for field, check, value in (
        ("name", _check_name, name),
        ("email", normalise_email, email),
        ("role", _role, role),
    ):
        try:
            check(value)
        except Invalid as exc:
            problems[field] = list((exc.errors or {}).get(field) or [exc.detail])
    if problems:
        raise Invalid("The person could not be added.", errors=problems)
    normal, clean = normalise_email(email), _check_name(name)
    with session.begin():
        get_area(session, area)
        user = session.scalar(select(User).where(User.email == normal))
        if user is not None:
            if session.get(UserRole, (user.id, area, role)) is not None:
                raise Conflict("This person already holds this role in this area.")
            session.add(UserRole(user_id=user.id, area_code=area, role=role, created_at=now))
            _record(session, area, actions.USER_ROLE_GRANTED, actor, user.id, now, role=role)
            return Added(user.id, None, None)
        user_id = str(uuid.uuid4())
        session.add(
            User(
                id=user_id,
                email=normal,
                name=clean,
                password_hash=None,
                totp_secret_sealed=master.seal(
                    new_totp_secret().encode("ascii"), totp_context(user_id)
                ),
                totp_confirmed_at=None,
                totp_last_step=None,
                failed_logins=0,
                locked_until=None,
                created_at=now,
            )
        )
        session.flush()
        session.add(UserRole(user_id=user_id, area_code=area, role=role, created_at=now))
        token, expires = _new_invitation(session, master, user_id, area, WELCOME, now)
        _record(session, area, actions.USER_ROLE_GRANTED, actor, user_id, now, role=role)
        _record(session, area, actions.USER_INVITED, actor, user_id, now, purpose=WELCOME)
        return Added(user_id, token, expires)


@owns_transaction
def grant_role(
    session: Session, principal: Principal, area: str, user_id: str, role: str, now: datetime
) -> None:
    actor = principal.admin_actor(area)
    _role(role)
    with session.begin():
        _person_in(session, area, user_id)
        if session.get(UserRole, (user_id, area, role)) is not None:
            raise Conflict("This person already holds this role in this area.")
        session.add(UserRole(user_id=user_id, area_code=area, role=role, created_at=now))
        _record(session, area, actions.USER_ROLE_GRANTED, actor, user_id, now, role=role)


@owns_transaction
def remove_role(
    session: Session, principal: Principal, area: str, user_id: str, role: str, now: datetime
) -> None:
    """The role ends at once (roles are read afresh on every request). An admin may not
    remove their own admin role: the area would risk having no admin left."""
    actor = principal.admin_actor(area)
    _role(role)
    if role == ADMIN and user_id == principal.id:
        raise Conflict("You cannot remove your own admin role. Ask another admin of your area.")
    with session.begin():
        _person_in(session, area, user_id)
        row = session.get(UserRole, (user_id, area, role))
        if row is None:
            raise Conflict("This person does not hold this role in this area.")
        session.delete(row)
        _record(session, area, actions.USER_ROLE_REMOVED, actor, user_id, now, role=role)


@owns_transaction
def unlock(session: Session, principal: Principal, area: str, user_id: str, now: datetime) -> None:
    actor = principal.admin_actor(area)
    with session.begin():
        user = _person_in(session, area, user_id)
        if user.locked_until is None or user.locked_until <= now:
            raise Conflict("This account is not locked.")
        user.locked_until, user.failed_logins = None, 0
        _record(session, area, actions.USER_UNLOCKED, actor, user_id, now)


@owns_transaction
def reset_second_factor(
    session: Session,
    master: MasterKey,
    principal: Principal,
    area: str,
    user_id: str,
    now: datetime,
) -> tuple[str, datetime]:
    """A lost authenticator: the old one and the recovery codes stop working at once, the
    password too (so the password alone cannot enrol a new authenticator), and a new
    single-use link lets the person set a password and enrol again."""
    actor = principal.admin_actor(area)
    if user_id == principal.id:
        raise Conflict("You cannot reset your own second factor. Ask another admin of your area.")
    with session.begin():
        user = _person_in(session, area, user_id)
        user.password_hash = None
        user.totp_secret_sealed = master.seal(
            new_totp_secret().encode("ascii"), totp_context(user_id)
        )
        user.totp_confirmed_at, user.totp_last_step = None, None
        user.locked_until, user.failed_logins = None, 0
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        token, expires = _new_invitation(session, master, user_id, area, RESET, now)
        _record(session, area, actions.USER_SECOND_FACTOR_RESET, actor, user_id, now)
        _record(session, area, actions.USER_INVITED, actor, user_id, now, purpose=RESET)
        return token, expires


def _usable(session: Session, row: Invitation | None, now: datetime) -> Invitation:
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise NotFound(LINK_GONE)
    return row


@owns_transaction
def open_invitation(
    session: Session, master: MasterKey, token: str, now: datetime
) -> InvitationView:
    """The invitation behind a link, while it is unused and unexpired (NotFound otherwise,
    with one message whatever the reason)."""
    if not 20 <= len(token) <= 100:
        raise NotFound(LINK_GONE)
    with session.begin():
        row = session.scalar(
            select(Invitation).where(Invitation.token_digest == _digest(master, token))
        )
        found = _usable(session, row, now)
        return InvitationView(found.id, found.purpose)


@owns_transaction
def accept_invitation(session: Session, invitation_id: str, password: str, now: datetime) -> str:
    """Set the person's password and spend the link; the person then enrols their
    authenticator (the login's enrolment stage). Returns the user id."""
    try:
        hashed = hash_password(password)  # Argon2id: outside any transaction
    except WeakPassword as exc:
        raise Invalid("The password is too weak.", errors={"password": [str(exc)]}) from exc
    with session.begin():
        row = _usable(session, session.get(Invitation, invitation_id, with_for_update=True), now)
        row.used_at = now
        user = session.get(User, row.user_id)
        if user is None:  # pragma: no cover - a foreign key holds it
            raise NotFound(LINK_GONE)
        user.password_hash = hashed
        user.failed_logins, user.locked_until = 0, None
        _record(
            session, row.area_code, actions.USER_PASSWORD_SET, Actor.user(user.id), user.id, now
        )
        return user.id
