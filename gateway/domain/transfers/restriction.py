"""Restricted cases (honour-based violence, a person in a position of trust; seed 001
4.5.3, 004 5.15): an inbound transfer marked restricted is opened only by the users its
receiving area named. Everyone else who may list the area's transfers sees that it exists
and its state, nothing more; API clients never open one (a machine cannot be named).

Who names: the area's chair decides, and only a chair (seed 001 4.5.3: the circle can be
"as limited as the IDVA Service Manager and the MARAC Chair"). Any chair of the area may
name or un-name at any time, named or not; a coordinator, named or not, is refused (403
`chair-decides`), so nobody who works the case can widen or narrow its circle. The list
must always keep at least one coordinator, who works the case.

A chair of the area may also restrict a transfer that arrived unrestricted, and the
sending area's chair its own copy of one it sent (`restrict`): the restriction then binds
that node's copy exactly as a received restricted case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.db.models import Transfer, TransferAccess, User, UserRole
from gateway.domain import audit
from gateway.domain.audit import actions
from gateway.domain.identity.principals import (
    CHAIR,
    CONTENT_ROLES,
    COORDINATOR,
    Principal,
)
from gateway.domain.identity.users import normalise_email
from gateway.domain.transaction import owns_transaction
from gateway.domain.transfers import timeline
from gateway.domain.transfers.states import INBOUND
from gateway.errors import ChairDecides, Conflict, Invalid, NotFound, Restricted
from schemas.wire.transfer_request import RESTRICTED_REASONS

CHAIR_DECIDES_DETAIL = (
    "Only the area's MARAC chair decides who may open a restricted case. Ask your chair."
)
RESTRICTED_DETAIL = (
    "This is a restricted case: only the users its receiving area named may open it."
)


def is_restricted(row: Transfer) -> bool:
    """Restriction binds the receiving area; the sender wrote the case and keeps it,
    unless its own chair restricted its copy too."""
    return row.restricted_reason is not None and (
        row.direction == INBOUND or bool(row.restricted_here)
    )


def named_users(session: Session, transfer_id: str) -> list[str]:
    return list(
        session.scalars(
            select(TransferAccess.user_id)
            .where(TransferAccess.transfer_id == transfer_id)
            .order_by(TransferAccess.user_id)
        )
    )


def may_open(session: Session, principal: Principal, row: Transfer) -> bool:
    if not is_restricted(row) or principal.is_operator:
        # The operator holds the master key and could open any case anyway.
        return True
    if principal.kind != "user":
        return False
    return principal.id in named_users(session, row.id)


def check_may_open(session: Session, principal: Principal, row: Transfer) -> None:
    """Raise Restricted (403) unless the principal may open this transfer's content (or a
    document of it). Call after the area check, which answers 404 for other areas."""
    if not may_open(session, principal, row):
        raise Restricted(RESTRICTED_DETAIL)


@dataclass(frozen=True)
class Naming:
    transfer_id: str
    restricted: bool
    users: list[str]


@owns_transaction
def name_users(
    session: Session,
    principal: Principal,
    transfer_id: str,
    entries: Iterable[str],
    now: datetime,
) -> Naming:
    """Replace the users named on a restricted inbound transfer; audited with ids only."""
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        chair = principal.kind == "user" and row is not None and _is_chair(principal, row)
        if (
            row is None
            or principal.kind != "user"
            or not (chair or principal.may_send(row.area_code))
        ):
            raise NotFound("No such transfer.")
        if not chair:
            raise ChairDecides(CHAIR_DECIDES_DETAIL)
        if not is_restricted(row):
            raise Conflict("Only a restricted transfer has named users.")
        chosen = _resolve(session, row.area_code, list(entries))
        coordinators = _with_role(session, row.area_code, chosen, {COORDINATOR})
        if not coordinators:
            raise Invalid(
                "Name at least one coordinator of the area, or nobody could change the list.",
                errors={"users": ["Must include a coordinator of the receiving area."]},
            )
        session.execute(delete(TransferAccess).where(TransferAccess.transfer_id == row.id))
        actor = principal.actor(row.area_code, {CHAIR})
        for user_id in chosen:
            session.add(
                TransferAccess(transfer_id=row.id, user_id=user_id, named_by=actor.id, named_at=now)
            )
        timeline.note(session, row, "access_named", now, actor=actor, users=len(chosen))
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.ACCESS_NAMED,
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id},
                details={"users": ",".join(sorted(chosen)), "count": len(chosen)},
            ),
            now,
        )
        session.flush()
        return Naming(row.id, True, sorted(chosen))


def _is_chair(principal: Principal, row: Transfer) -> bool:
    return row.area_code in principal.areas_for({CHAIR})


@owns_transaction
def restrict(
    session: Session, principal: Principal, transfer_id: str, reason: str, now: datetime
) -> Naming:
    """A chair of the transfer's area restricts this node's copy (seed 001 4.5.3): a
    received case found to need it, or the sender's own copy. From then on only named
    users open it; naming follows. Restricting again changes only the reason."""
    if reason not in RESTRICTED_REASONS:
        raise Invalid(
            "The restriction is not valid.",
            errors={"reason": [f"Must be one of: {', '.join(RESTRICTED_REASONS)}."]},
        )
    with session.begin():
        row = session.get(Transfer, transfer_id, with_for_update=True)
        if row is None or principal.kind != "user" or not _is_chair(principal, row):
            raise NotFound("No such transfer.")
        row.restricted_reason, row.restricted_here, row.updated_at = reason, True, now
        actor = principal.actor(row.area_code, {CHAIR})
        timeline.note(session, row, "restricted", now, actor=actor, reason=reason)
        audit.record(
            session,
            row.area_code,
            audit.Event(
                action=actions.TRANSFER_RESTRICTED,
                actor=actor,
                peer_area=row.peer_area,
                objects={"transfer": row.id},
                details={"reason": reason},
            ),
            now,
        )
        return Naming(row.id, True, named_users(session, row.id))


def _resolve(session: Session, area: str, entries: list[str]) -> list[str]:
    """User ids for the entries (ids or emails) of users holding a content role in the
    area. A wrong entry is named by its position, never echoed."""
    found: list[str] = []
    errors: dict[str, list[str]] = {}
    for index, entry in enumerate(entries):
        user_id = entry if session.get(User, entry) is not None else None
        if user_id is None and "@" in entry:
            try:
                user_id = session.scalar(
                    select(User.id).where(User.email == normalise_email(entry))
                )
            except Invalid:
                user_id = None
        if user_id is None or not _with_role(session, area, [user_id], CONTENT_ROLES):
            errors[str(index)] = ["Not a coordinator or chair of the receiving area."]
        elif user_id not in found:
            found.append(user_id)
    if errors:
        raise Invalid("Some named users cannot open this area's cases.", errors={"users": errors})
    return found


def _with_role(session: Session, area: str, user_ids: list[str], roles: Iterable[str]) -> list[str]:
    if not user_ids:
        return []
    return list(
        session.scalars(
            select(UserRole.user_id)
            .where(
                UserRole.area_code == area,
                UserRole.user_id.in_(user_ids),
                UserRole.role.in_(list(roles)),
            )
            .distinct()
        )
    )


@owns_transaction
def view(session: Session, principal: Principal, transfer_id: str) -> Naming:
    """Who is named (ids), for anyone who may list the area's transfers."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_list_transfers(row.area_code):
            raise NotFound("No such transfer.")
        return Naming(row.id, is_restricted(row), named_users(session, row.id))


@dataclass(frozen=True)
class Colleague:
    """A coordinator or chair of the transfer's area: who may be named on a restricted
    case, and whom to ask to be named. Staff contact data, never a subject's."""

    user_id: str
    email: str
    roles: tuple[str, ...]
    named: bool


@owns_transaction
def colleagues(session: Session, principal: Principal, transfer_id: str) -> list[Colleague]:
    """The area's coordinators and chairs with whether each is named on the transfer, for
    anyone who may list the area's transfers (NotFound for everyone else, as for a missing
    id): the page for naming offers them, the restricted page says whom to ask."""
    with session.begin():
        row = session.get(Transfer, transfer_id)
        if row is None or not principal.may_list_transfers(row.area_code):
            raise NotFound("No such transfer.")
        named = set(named_users(session, row.id))
        held: dict[str, set[str]] = {}
        for user_id, role in session.execute(
            select(UserRole.user_id, UserRole.role).where(
                UserRole.area_code == row.area_code, UserRole.role.in_(sorted(CONTENT_ROLES))
            )
        ):
            held.setdefault(user_id, set()).add(role)
        emails = {
            user_id: email
            for user_id, email in session.execute(
                select(User.id, User.email).where(User.id.in_(sorted(held)))
            )
        }
        found = [
            Colleague(user_id, emails.get(user_id, ""), tuple(sorted(roles)), user_id in named)
            for user_id, roles in held.items()
        ]
        return sorted(found, key=lambda c: c.email)
