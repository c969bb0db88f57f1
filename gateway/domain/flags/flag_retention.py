"""Flag retention (seed 004 ISP; DESIGN section 7): an expired or cleared flag keeps its
subjects for the area's retention period after it ended, then loses them.

What goes: the sealed subjects, the sealed verification key, both case references (the
area's and the originating area's: each ties the row to a person through a case file,
and a purged transfer keeps none either), the flag's linkage tokens (so the area's own
lookups stop finding it), the verification requests other areas sent about it, and, when
this node plays the flag index, any index token still held under the flag's reference.
What stays: id, status, dates, source, areas (origin, where the case sat) and the random
index reference, so the audit's `flag` objects still point at a row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from adapters.db.models import Flag, FlagToken, FlagVerification, IndexToken
from gateway.domain.flags.months import today
from schemas.wire.flags import CLEARED, EXPIRED


def purge_flags(session: Session, area: str, cutoff: datetime, now: datetime, dry_run: bool) -> int:
    """Purge the area's flags that ended before `cutoff`; the count (also on a dry run).
    Runs in the caller's transaction."""
    due = list(session.scalars(_ended_before(area, cutoff, now).with_for_update()))
    if dry_run or not due:
        return len(due)
    ids = [row.id for row in due]
    session.execute(delete(FlagToken).where(FlagToken.flag_id.in_(ids)))
    session.execute(delete(FlagVerification).where(FlagVerification.flag_id.in_(ids)))
    session.execute(
        delete(IndexToken).where(
            IndexToken.area == area, IndexToken.ref.in_([row.index_ref for row in due])
        )
    )
    for row in due:
        row.subjects_sealed = None
        row.verify_secret_sealed = None
        row.case_ref = None
        row.origin_case_ref = None
        row.purged_at = row.updated_at = now
    return len(due)


def _ended_before(area: str, cutoff: datetime, now: datetime) -> Select[Flag]:
    """Cleared, or expired on or before the cutoff date; untouched since the cutoff (a
    notice or review after that restarts the period); and either the index has heard the
    flag ended or its tokens there have lapsed by themselves, so nothing is left behind."""
    return (
        select(Flag)
        .where(Flag.area_code == area, Flag.purged_at.is_(None))
        .where(Flag.status.in_((EXPIRED, CLEARED)))
        .where(Flag.updated_at < cutoff)
        .where(or_(Flag.status == CLEARED, Flag.expires_at <= cutoff.date()))
        .where(or_(Flag.index_dirty.is_(False), Flag.expires_at <= today(now)))
        .order_by(Flag.id)
    )
