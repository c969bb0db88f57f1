"""An area's MARAC meeting dates and its acknowledgement limit.

Set by an admin of the area (or the operator). Meeting dates are what an accepted transfer
is listed for: when an area has set any, an acknowledgement must name one of them. The
limit is in working days (England and Wales, `gateway.domain.schedule.working_calendar`), default 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaMeeting
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import ADMIN, METADATA_ROLES, TRANSFERS_READ, Principal
from gateway.domain.transaction import owns_transaction
from gateway.errors import Invalid, NotFound
from schemas.api.areas import MAX_ACK_WORKING_DAYS, MAX_MEETINGS

DEFAULT_ACK_WORKING_DAYS = 2
READ_ROLES = frozenset({*METADATA_ROLES, ADMIN})


@dataclass(frozen=True)
class Schedule:
    area: str
    ack_working_days: int
    meeting_dates: tuple[date, ...]


def ack_working_days(area: Area) -> int:
    return area.ack_working_days or DEFAULT_ACK_WORKING_DAYS


def _dates(session: Session, area: str) -> tuple[date, ...]:
    return tuple(
        session.scalars(
            select(AreaMeeting.meeting_date)
            .where(AreaMeeting.area_code == area)
            .order_by(AreaMeeting.meeting_date)
        )
    )


def _schedule(session: Session, area: str) -> Schedule:
    row = get_area(session, area)
    return Schedule(area, ack_working_days(row), _dates(session, area))


@owns_transaction
def schedule(session: Session, principal: Principal, area: str) -> Schedule:
    """The area's meeting dates and limit: for any role of the area, a client of it with
    transfers:read, or the operator; another area answers NotFound."""
    if not principal.is_operator and area not in principal.areas_for(READ_ROLES, TRANSFERS_READ):
        raise NotFound("No such area.")
    with session.begin():
        return _schedule(session, area)


@owns_transaction
def set_meetings(
    session: Session,
    principal: Principal,
    area: str,
    *,
    now: datetime,
    replace: Iterable[date] | None = None,
    add: Iterable[date] = (),
    remove: Iterable[date] = (),
) -> Schedule:
    """Replace the meeting dates (`replace`), or add and remove some; one audit event.
    An admin of the area (or the operator) sets them."""
    actor = _admin(principal, area)
    with session.begin():
        get_area(session, area)
        current = set(_dates(session, area))
        wanted = set(replace) if replace is not None else current
        wanted = (wanted | set(add)) - set(remove)
        if len(wanted) > MAX_MEETINGS:
            raise Invalid("Too many meeting dates.", errors={"dates": [f"At most {MAX_MEETINGS}."]})
        session.execute(
            delete(AreaMeeting).where(
                AreaMeeting.area_code == area, AreaMeeting.meeting_date.in_(current - wanted)
            )
        )
        session.add_all(AreaMeeting(area_code=area, meeting_date=d) for d in wanted - current)
        session.flush()
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.AREA_MEETINGS_SET,
                actor=actor,
                details={"meetings": len(wanted)},
            ),
            now,
        )
        return _schedule(session, area)


@owns_transaction
def set_ack_working_days(
    session: Session, principal: Principal, area: str, working_days: int, *, now: datetime
) -> Schedule:
    """The acknowledgement limit in working days; an admin of the area (or the operator)."""
    actor = _admin(principal, area)
    if not 1 <= working_days <= MAX_ACK_WORKING_DAYS:
        raise Invalid(
            "The acknowledgement limit is not valid.",
            errors={"ack_working_days": [f"Between 1 and {MAX_ACK_WORKING_DAYS} working days."]},
        )
    with session.begin():
        row = get_area(session, area)
        row.ack_working_days = working_days
        audit.record(
            session,
            area,
            audit.Event(
                action=actions.AREA_SETTINGS_SET,
                actor=actor,
                details={"ack_working_days": working_days},
            ),
            now,
        )
        return _schedule(session, area)


def check_listed_for(session: Session, area: str, listed_for: date | None) -> None:
    """When the area has set meeting dates, an acceptance lists the case for one of them."""
    if listed_for is None:
        return
    dates = _dates(session, area)
    if dates and listed_for not in dates:
        raise Invalid(
            "The acknowledgement is not valid.",
            errors={"listed_for": ["Not one of the area's meeting dates."]},
        )


def is_meeting_day(session: Session, area: str, day: date) -> bool:
    """Whether `day` is one of the area's recorded meeting dates; with none recorded the
    gateway cannot tell, and takes the decision as made at the meeting."""
    dates = _dates(session, area)
    return not dates or day in dates


def _admin(principal: Principal, area: str) -> Actor:
    """Admins of the area (never an API client) or the operator; another area answers
    NotFound, as one that does not exist."""
    if principal.is_operator:
        return principal.actor(area)
    if principal.kind != "user" or area not in principal.areas_for({ADMIN}):
        raise NotFound("No such area.")
    return principal.actor(area, [ADMIN])
