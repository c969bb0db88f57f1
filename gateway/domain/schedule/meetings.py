"""An area's MARAC meeting dates, its acknowledgement limit and its referral deadline.

Set by an admin of the area (or the operator). Meeting dates are what an accepted transfer
is listed for: when an area has set any, an acknowledgement must name one of them, and
never a day already past. The limit is in working days (England and Wales,
`gateway.domain.schedule.working_calendar`), default 2. The referral deadline (working
days before each meeting, default none) picks the meeting an acknowledgement suggests:
the first whose deadline has not passed (seeds 001 4.3, 003).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.db.models import Area, AreaMeeting
from gateway.domain import audit
from gateway.domain.areas.local_areas import get_area
from gateway.domain.audit import actions
from gateway.domain.identity.principals import ADMIN, METADATA_ROLES, TRANSFERS_READ, Principal
from gateway.domain.schedule.working_calendar import london_day, working_days_before
from gateway.domain.transaction import owns_transaction
from gateway.errors import Invalid, NotFound
from schemas.api.areas import MAX_ACK_WORKING_DAYS, MAX_DEADLINE_WORKING_DAYS, MAX_MEETINGS

DEFAULT_ACK_WORKING_DAYS = 2
READ_ROLES = frozenset({*METADATA_ROLES, ADMIN})


@dataclass(frozen=True)
class Schedule:
    area: str
    ack_working_days: int
    meeting_dates: tuple[date, ...]
    referral_deadline_working_days: int = 0

    def suggested_listing(self, now: datetime) -> date | None:
        """The first meeting whose referral deadline is today or later (London); None
        when no meeting date is recorded that can still take the case."""
        today = london_day(now)
        return next(
            (
                day
                for day in self.meeting_dates
                if working_days_before(day, self.referral_deadline_working_days) >= today
            ),
            None,
        )


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
    deadline = row.referral_deadline_working_days or 0
    return Schedule(area, ack_working_days(row), _dates(session, area), deadline)


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
    actor = principal.admin_actor(area)
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
def set_settings(
    session: Session,
    principal: Principal,
    area: str,
    *,
    now: datetime,
    ack_working_days: int | None = None,
    referral_deadline_working_days: int | None = None,
) -> Schedule:
    """The acknowledgement limit and the referral deadline, in working days; each left as
    it is when not given. An admin of the area (or the operator); one audit event."""
    actor = principal.admin_actor(area)
    changed = _checked_settings(ack_working_days, referral_deadline_working_days)
    with session.begin():
        row = get_area(session, area)
        for name, value in changed.items():
            setattr(row, name, value)
        audit.record(
            session,
            area,
            audit.Event(action=actions.AREA_SETTINGS_SET, actor=actor, details=changed),
            now,
        )
        return _schedule(session, area)


def _checked_settings(ack: int | None, deadline: int | None) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    if ack is not None and not 1 <= ack <= MAX_ACK_WORKING_DAYS:
        errors["ack_working_days"] = [f"Between 1 and {MAX_ACK_WORKING_DAYS} working days."]
    if deadline is not None and not 0 <= deadline <= MAX_DEADLINE_WORKING_DAYS:
        errors["referral_deadline_working_days"] = [
            f"Between 0 and {MAX_DEADLINE_WORKING_DAYS} working days."
        ]
    if errors:
        raise Invalid("The settings are not valid.", errors=errors)
    given = {"ack_working_days": ack, "referral_deadline_working_days": deadline}
    return {name: value for name, value in given.items() if value is not None}


def check_listed_for(
    session: Session,
    area: str,
    listed_for: date | None,
    now: datetime,
    *,
    urgent: Callable[[], bool] = lambda: False,
) -> bool:
    """An acceptance never lists the case for a day already past (seed 000 4.5.2: the next
    meeting); when the area has set meeting dates, it lists it for one of them, unless the
    transfer is urgent: then another date is an emergency meeting (seed 000 4.22, within
    24 hours; 001 4.3.1). Answers whether the listing is such an emergency meeting.
    `urgent` is asked only for a date off the area's dates (it opens the sealed case)."""
    if listed_for is None:
        return False
    # London's day never trails UTC's: the UTC day is the earliest "today" of either clock.
    if listed_for < now.astimezone(UTC).date():
        raise Invalid(
            "The acknowledgement is not valid.",
            errors={"listed_for": ["Must not be in the past."]},
        )
    if _meeting_or_unknown(session, area, listed_for):
        return False
    if urgent():
        return True
    raise Invalid(
        "The acknowledgement is not valid.",
        errors={
            "listed_for": [
                "Not one of the area's meeting dates; only an urgent transfer may be "
                "listed for an emergency meeting."
            ]
        },
    )


def is_meeting_day(session: Session, area: str, day: date) -> bool:
    """Whether `day` is one of the area's recorded meeting dates; with none recorded the
    gateway cannot tell, and takes the decision as made at the meeting."""
    return _meeting_or_unknown(session, area, day)


def _meeting_or_unknown(session: Session, area: str, day: date) -> bool:
    """`day` is a recorded meeting date of the area, or none is recorded; one query that
    reads two index entries at most, however many meetings the area has recorded (every
    send asks)."""
    recorded = select(AreaMeeting.meeting_date).where(AreaMeeting.area_code == area)
    any_date, that_day = session.execute(
        select(recorded.exists(), recorded.where(AreaMeeting.meeting_date == day).exists())
    ).one()
    return not any_date or bool(that_day)
