"""Users: accounts, roles per area, password and second-factor checks, single sign-on.

A login is two steps. `check_password` (Argon2id) and then `check_second_factor` (TOTP,
or a single-use recovery code); a user who has never confirmed an authenticator is sent
through `confirm_enrolment` instead. Every failure looks the same to the caller ("wrong
email, password or code"), counts against the account (lockout after N in a row) and
against the source address and the email tried (a database-backed rate limit, so all
gunicorn workers share it). Nothing here logs an email or a password.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.db.models import RecoveryCode, Transfer, User, UserRole
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.identity import rate_limits
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import ROLES, Principal
from gateway.domain.transaction import owns_transaction
from gateway.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from keys import (
    MasterKey,
    WeakPassword,
    hash_password,
    keyed_digest,
    match_totp,
    new_recovery_codes,
    new_totp_secret,
    normalise_recovery_code,
    totp_uri,
    verify_password,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ISSUER = "MARAC Gateway"
FAILED = "The email, password or code is wrong, or the account is locked for a while."


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int  # consecutive failures before the account locks
    lockout: timedelta
    failures_per_source: rate_limits.RateLimit  # failed attempts per address and per email


@dataclass(frozen=True)
class Enrolment:
    """Shown once, to the operator who creates the account or the user enrolling."""

    totp_secret: str
    totp_uri: str
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    user_id: str
    area: str
    role: str
    enrolment: Enrolment | None  # only for a new user


@dataclass(frozen=True)
class PasswordAccepted:
    user_id: str
    enrolled: bool  # False: the authenticator is still to be confirmed


def normalise_email(email: str) -> str:
    normal = email.strip().lower()
    if not EMAIL.match(normal) or len(normal) > 320:
        raise Invalid("The email address is not valid.", errors={"email": ["Not an email."]})
    return normal


def totp_context(user_id: str) -> str:
    return f"totp:{user_id}"


def _recovery_digest(master: MasterKey, user_id: str, code: str) -> str:
    return keyed_digest(master.subkey("recovery-code"), f"{user_id}:{code}")


@owns_transaction
def find_user_id(session: Session, email: str) -> str | None:
    with session.begin():
        return session.scalar(select(User.id).where(User.email == normalise_email(email)))


@owns_transaction
def add_user_role(
    session: Session,
    master: MasterKey,
    *,
    email: str,
    area: str,
    role: str,
    password: str | None,
    now: datetime,
) -> Grant:
    """Create the user with the role, or add the role (in another area) to an existing
    user. A new user gets a TOTP secret and recovery codes, returned once."""
    normal = normalise_email(email)
    if role not in ROLES:
        raise Invalid("Unknown role.", errors={"role": [f"One of: {', '.join(ROLES)}."]})
    with session.begin():
        get_area(session, area)
        user = session.scalar(select(User).where(User.email == normal))
        enrolment = None
        if user is None:
            user, enrolment = _new_user(session, master, normal, password, now, area)
        elif session.get(UserRole, (user.id, area, role)) is not None:
            raise Conflict("The user already holds this role in this area.")
        session.add(UserRole(user_id=user.id, area_code=area, role=role, created_at=now))
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.USER_ROLE_GRANTED,
                actor=Actor.operator(),
                objects={"user": user.id},
                details={"role": role, "new_user": enrolment is not None},
            ),
            now,
        )
        return Grant(user.id, area, role, enrolment)


def _new_user(
    session: Session,
    master: MasterKey,
    email: str,
    password: str | None,
    now: datetime,
    area: str,
) -> tuple[User, Enrolment]:
    if password is None:
        raise Invalid("A new user needs a password.", errors={"password": ["Required."]})
    try:
        hashed = hash_password(password)
    except WeakPassword as exc:
        raise Invalid("The password is too weak.", errors={"password": [str(exc)]}) from exc
    user_id = str(uuid.uuid4())
    secret = new_totp_secret()
    codes = new_recovery_codes()
    user = User(
        id=user_id,
        email=email,
        password_hash=hashed,
        totp_secret_sealed=master.seal(secret.encode("ascii"), totp_context(user_id)),
        totp_confirmed_at=None,
        totp_last_step=None,
        failed_logins=0,
        locked_until=None,
        created_at=now,
    )
    session.add(user)
    session.flush()
    for code in codes:
        session.add(RecoveryCode(digest=_recovery_digest(master, user_id, code), user_id=user_id))
    uri = totp_uri(secret, account=_account_label(session, user_id, area), issuer=ISSUER)
    return user, Enrolment(secret, uri, tuple(codes))


def _account_label(session: Session, user_id: str, area: str | None = None) -> str:
    """What the authenticator app shows: the areas, never the email (the URI is shown on a
    page and printed by the CLI; it must not carry staff contact data)."""
    held = {a for a, _ in roles_of(session, user_id)} | ({area} if area else set())
    return "+".join(sorted(held)) or "account"


def roles_of(session: Session, user_id: str) -> frozenset[tuple[str, str]]:
    """Read inside the caller's transaction, on every request, so a removed role ends
    access at once rather than at the next login."""
    rows = session.execute(
        select(UserRole.area_code, UserRole.role).where(UserRole.user_id == user_id)
    )
    return frozenset((area, role) for area, role in rows)


# --- login ------------------------------------------------------------------------------


def _limit_keys(source: str, email: str) -> tuple[str, str]:
    return f"login-source:{source}", f"login-account:{email.strip().lower()}"


def _check_limits(
    session: Session, keys: Iterable[str], policy: LoginPolicy, now: datetime
) -> None:
    for key in keys:
        decision = rate_limits.peek(session, key, policy.failures_per_source, now)
        if not decision.allowed:
            raise TooManyRequests(
                "Too many failed sign-in attempts. Wait and try again.",
                retry_after=decision.retry_after,
            )


def _locked(user: Any, now: datetime) -> bool:
    until = user.locked_until
    return until is not None and until > now


def _record_failure(
    session: Session,
    keys: Iterable[str],
    user_id: str | None,
    policy: LoginPolicy,
    now: datetime,
) -> None:
    """Inside a transaction: count a failure against the limits and the account."""
    for key in keys:
        rate_limits.hit(session, key, policy.failures_per_source, now)
    if user_id is None:
        return
    failures = session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    if failures >= policy.max_failures:
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_logins=0, locked_until=now + policy.lockout)
        )
    # Known accounts only: a failure for an unknown email belongs to no area's log (it is
    # rate limited, and logged without the email).
    _audit_user(
        session, user_id, actions.LOGIN_FAILED, {"locked": failures >= policy.max_failures}, now
    )


@owns_transaction
def check_password(
    session: Session,
    *,
    email: str,
    password: str,
    source: str,
    policy: LoginPolicy,
    now: datetime,
) -> PasswordAccepted:
    keys = _limit_keys(source, email)
    with session.begin():
        _check_limits(session, keys, policy, now)
        user = session.execute(
            select(User.id, User.password_hash, User.locked_until, User.totp_confirmed_at).where(
                User.email == email.strip().lower()
            )
        ).first()
    usable = user is not None and not _locked(user, now)
    # Argon2id runs outside any transaction: it takes a while and must not hold a lock.
    ok = verify_password(user.password_hash if user is not None and usable else None, password)
    with session.begin():
        if not ok or user is None:
            _record_failure(session, keys, user.id if user and usable else None, policy, now)
        else:
            session.execute(update(User).where(User.id == user.id).values(failed_logins=0))
    if not ok or user is None:
        raise Unauthorized(FAILED)
    return PasswordAccepted(user.id, enrolled=user.totp_confirmed_at is not None)


@owns_transaction
def check_second_factor(
    session: Session,
    master: MasterKey,
    *,
    user_id: str,
    code: str,
    source: str,
    policy: LoginPolicy,
    now: datetime,
    enrolling: bool = False,
) -> None:
    """A TOTP code (each time step accepted once: a code seen cannot be replayed within
    its window) or, unless enrolling, an unused recovery code (then spent)."""
    keys = (f"login-source:{source}", f"login-user:{user_id}")
    with session.begin():
        _check_limits(session, keys, policy, now)
        # Row lock on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers), so
        # two requests with the same code cannot both see the step as unused.
        user = session.scalar(select(User).where(User.id == user_id).with_for_update())
        accepted = (
            user is not None
            and not _locked(user, now)
            and (enrolling == (user.totp_confirmed_at is None))
            and _spend_code(session, master, user, code, now, allow_recovery=not enrolling)
        )
        if accepted and user is not None:
            user.failed_logins = 0
            if enrolling:
                user.totp_confirmed_at = now
            _audit_user(session, user.id, actions.LOGIN, {"method": "local"}, now)
        else:
            usable = user is not None and not _locked(user, now)
            _record_failure(session, keys, user_id if usable else None, policy, now)
    if not accepted:
        raise Unauthorized(FAILED)


def _spend_code(
    session: Session,
    master: MasterKey,
    user: User,
    code: str,
    now: datetime,
    *,
    allow_recovery: bool,
) -> bool:
    if user.totp_secret_sealed is not None:
        secret = master.open(user.totp_secret_sealed, totp_context(user.id)).decode("ascii")
        step = match_totp(secret, code, now)
        if step is not None:
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # already used (or an older one): a replay
            user.totp_last_step = step
            return True
    normal = normalise_recovery_code(code) if allow_recovery else None
    if normal is None:
        return False
    row = session.get(RecoveryCode, _recovery_digest(master, user.id, normal))
    if row is None or row.user_id != user.id or row.used_at is not None:
        return False
    row.used_at = now
    return True


@owns_transaction
def enrolment_for(session: Session, master: MasterKey, user_id: str) -> Enrolment:
    """The authenticator secret, only while it has not been confirmed with a first code."""
    with session.begin():
        user = session.get(User, user_id)
        if user is None or user.totp_secret_sealed is None or user.totp_confirmed_at is not None:
            raise Conflict("The authenticator is already set up.")
        secret = master.open(user.totp_secret_sealed, totp_context(user_id)).decode("ascii")
        label = _account_label(session, user_id)
        return Enrolment(secret, totp_uri(secret, account=label, issuer=ISSUER))


# --- single sign-on ---------------------------------------------------------------------


@dataclass(frozen=True)
class SsoRules:
    """One area's identity-provider rules (from GATEWAY_OIDC_CONFIG)."""

    allowed_domains: frozenset[str]
    role_claim: str | None
    role_mapping: Mapping[str, str]  # claim value -> role


def mapped_roles(claims: Mapping[str, Any], rules: SsoRules) -> frozenset[str] | None:
    """The roles the provider's claim grants, or None when no mapping is configured."""
    if not rules.role_claim:
        return None
    raw = claims.get(rules.role_claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return frozenset(
        rules.role_mapping[v] for v in values if isinstance(v, str) and v in rules.role_mapping
    )


@owns_transaction
def sso_login(
    session: Session, *, area: str, claims: Mapping[str, Any], rules: SsoRules, now: datetime
) -> tuple[str, frozenset[tuple[str, str]]]:
    """Let a provider-authenticated person in only as an existing user of that area.

    The email must be verified (when the provider says) and in an allowed domain; the user
    must already hold a role in the area (an admin created it: nobody is provisioned by
    the provider alone); and when a role mapping is configured, the session gets only the
    roles that BOTH the node and the provider's claim grant, so the provider can withdraw
    a role at once but never add one.
    """
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        raise Unauthorized("The identity provider did not give a verified email.")
    normal = email.strip().lower()
    if normal.rsplit("@", 1)[-1] not in rules.allowed_domains:
        raise Unauthorized("This email domain may not sign in to this area.")
    with session.begin():
        user_id = session.scalar(select(User.id).where(User.email == normal))
        held = roles_of(session, user_id) if user_id else frozenset()
    granted = {role for a, role in held if a == area}
    mapping = mapped_roles(claims, rules)
    if mapping is not None:
        granted &= mapping
    with session.begin():
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.LOGIN if user_id and granted else actions.LOGIN_FAILED,
                actor=Actor.user(user_id) if user_id else Actor.system("oidc"),
                details={"method": "oidc", "roles": ",".join(sorted(granted))},
            ),
            now,
        )
    if user_id is None or not granted:
        raise Unauthorized("No account with a role in this area matches this sign-in.")
    return user_id, frozenset((area, role) for role in granted)


def _audit_user(
    session: Session,
    user_id: str,
    action: str,
    details: Mapping[str, str | int | bool | None],
    now: datetime,
) -> None:
    """An account event goes to the log of every area the account holds a role in."""
    areas = sorted({area for area, _ in roles_of(session, user_id)})
    audit.record_everywhere(
        session, areas, audit.Event(action=action, actor=Actor.user(user_id), details=details), now
    )


@owns_transaction
def current_roles(session: Session, user_id: str) -> frozenset[tuple[str, str]]:
    """The roles a signed-in user holds now, read afresh for every request."""
    with session.begin():
        return roles_of(session, user_id)


@owns_transaction
def acting_on_transfer(session: Session, email: str, transfer_id: str, role: str) -> Principal:
    """The principal of the user with `email`, who must hold `role` in the transfer's own
    area: how the command line acts as a named person (a chair approving, a coordinator
    acknowledging), under every rule the API applies to them."""
    with session.begin():
        user_id = session.scalar(select(User.id).where(User.email == normalise_email(email)))
        row = session.get(Transfer, transfer_id)
        if row is None:
            raise NotFound("No such transfer.")
        if user_id is None:
            raise NotFound("No user with that email on this node.")
        roles = roles_of(session, user_id)
    if (row.area_code, role) not in roles:
        raise Forbidden(f"That user is not a {role} of {row.area_code}.")
    return Principal.user(user_id, roles)
