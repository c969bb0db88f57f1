"""Emails to an area's coordinator mailbox, or to its chairs.

The perpetrator is never informed (DESIGN section 2): an email carries a fixed text naming
only the area and the kind of event, never a person, a case reference, a transfer id or a
link with any of them; an urgent transfer's may add the word "urgent" and nothing more.
A notification is queued in the transaction of the event it announces (a transfer
received, a reminder, a reply from the other area, a delivery given up) and sent by the
worker, with retries, so an outage of the mail server loses nothing and a rolled-back
event sends nothing.

Most go to the coordinator mailbox (the area's `mailbox`). A transfer waiting for a chair's
approval goes to the area's chairs, their addresses read from their user accounts when the
worker sends it (not when it is queued): a chair who lost the role in between is not told,
and no address is ever copied into the queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.db.models import Area, Notification, User, UserRole
from adapters.db.session import insert_now
from adapters.mail import Mail, Mailer, MailError
from gateway.domain.identity.principals import CHAIR
from gateway.domain.transaction import owns_transaction

log = logging.getLogger("gateway.notifications")

NEW_TRANSFER = "new_transfer"
ACK_REMINDER = "ack_reminder"  # to the receiving area: acknowledge it
ACK_OVERDUE = "ack_overdue"  # to the sending area: the receiving area has not answered
# Replies from the other area of a transfer (to the area they arrive at).
INFORMATION_REQUEST = "information_request"
FORWARD_REQUEST = "forward_request"  # the originating area is asked for permission
FORWARD_ANSWER = "forward_answer"  # the receiving area learns the answer
REPEAT_INCIDENT = "repeat_incident"  # either area of a transfer (seed 001 5.0)
REDIRECTED = "redirected"
# To the sending area: a document its transfer said would follow is past its date.
DOCUMENT_OVERDUE = "document_overdue"
VERIFICATION_REQUEST = "verification_request"  # a possible flag match to check
# The outbox gave up: the transfer itself, or a reply about it.
DELIVERY_FAILED = "delivery_failed"
REPLY_FAILED = "reply_failed"
# To the area's chairs: a transfer decided after the meeting waits for one of them.
APPROVAL_NEEDED = "approval_needed"
CHAIR_KINDS = frozenset({APPROVAL_NEEDED})
PENDING, SENT, NOT_SENT, FAILED = "pending", "sent", "not_sent", "failed"
URGENT_PREFIX = "Urgent: "

# kind -> (subject, body). `{area}` is the local area's name: an area is not personal data.
TEXTS: dict[str, tuple[str, str]] = {
    NEW_TRANSFER: (
        "New MARAC transfer",
        "A new transfer has arrived for {area}. Sign in to view it.",
    ),
    ACK_REMINDER: (
        "MARAC transfer awaiting acknowledgement",
        "A transfer received by {area} is overdue for acknowledgement. Sign in to acknowledge it.",
    ),
    ACK_OVERDUE: (
        "MARAC transfer not yet acknowledged",
        "A transfer sent by {area} has not been acknowledged in time by the receiving "
        "area. Sign in to view it.",
    ),
    INFORMATION_REQUEST: (
        "MARAC information request",
        "Another area has asked {area} for more information about a transfer. Sign in to view it.",
    ),
    FORWARD_REQUEST: (
        "MARAC forwarding request",
        "Another area has asked {area} for permission to forward a case. Sign in to answer it.",
    ),
    FORWARD_ANSWER: (
        "MARAC forwarding answer",
        "Another area has answered a forwarding request from {area}. Sign in to view it.",
    ),
    REPEAT_INCIDENT: (
        "MARAC repeat incident",
        "Another area has reported a repeat incident on a case shared with {area}. "
        "Sign in to view it.",
    ),
    REDIRECTED: (
        "MARAC transfer redirected",
        "A transfer sent by {area} was redirected by the receiving area. Sign in to view it.",
    ),
    DOCUMENT_OVERDUE: (
        "MARAC document overdue",
        "A document that {area} said would follow a transfer has not been sent by the date "
        "given. Sign in to send it.",
    ),
    VERIFICATION_REQUEST: (
        "MARAC flag verification request",
        "Another area has asked {area} to verify a possible flag match. Sign in to answer it.",
    ),
    DELIVERY_FAILED: (
        "MARAC transfer not delivered",
        "A transfer sent by {area} could not be delivered. Sign in to view it.",
    ),
    REPLY_FAILED: (
        "MARAC message not delivered",
        "A message sent by {area} about a transfer could not be delivered. Sign in to view it.",
    ),
    APPROVAL_NEEDED: (
        "MARAC transfer awaiting approval",
        "A transfer from {area} is waiting for a chair's approval. Sign in to review it.",
    ),
}
LEASE = timedelta(minutes=2)
BACKOFF_BASE, BACKOFF_CAP = 30.0, 1800.0
BATCH = 20


def is_urgent(request: object) -> bool:
    """Whether a transfer request is marked urgent: the hook for `transfer_request` v2's
    `urgent` field (docs/contract.md), read by name so that this module works before and
    after it lands; a request without the field is not urgent."""
    return getattr(request, "urgent", False) is True


def text_of(kind: str, area_name: str, *, urgent: bool = False) -> tuple[str, str]:
    subject, body = TEXTS[kind]
    return (URGENT_PREFIX + subject if urgent else subject), body.format(area=area_name)


def queue(
    session: Session,
    area: str,
    kind: str,
    now: datetime,
    *,
    transfer_id: str | None = None,
    dedup: str | None = None,
    urgent: bool = False,
) -> bool:
    """Queue one notification in the caller's transaction; False if `dedup` was queued
    before for this area (the caller holds a lock that makes the check race-free).
    `urgent`: the event concerns an urgent transfer (the subject says so, nothing more)."""
    if kind not in TEXTS:
        raise ValueError(f"unknown notification kind {kind}")
    if dedup is not None and session.scalar(
        select(Notification.id).where(Notification.area_code == area, Notification.dedup == dedup)
    ):
        return False
    # Nothing reads it back as an object in the transaction that queues it.
    insert_now(
        session,
        Notification,
        [
            {
                "area_code": area,
                "kind": kind,
                "transfer_id": transfer_id,
                "dedup": dedup,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
                "urgent": urgent or None,
            }
        ],
    )
    return True


@dataclass(frozen=True)
class Claimed:
    id: int
    area: str
    kind: str
    mail: Mail | None  # None: nobody to send it to (an area without chairs)


def _recipients(session: Session, area: Area, kind: str) -> tuple[str, ...]:
    if kind not in CHAIR_KINDS:
        return (area.mailbox,)
    return tuple(
        session.scalars(
            select(User.email)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.area_code == area.code, UserRole.role == CHAIR)
            .order_by(User.email)
            .distinct()
        )
    )


@owns_transaction
def _claim(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Claim due notifications under a lease (concurrent workers skip each other's rows on
    PostgreSQL; a worker that dies mid-send lets the lease lapse and the mail is retried)."""
    with session.begin():
        rows = session.execute(
            select(Notification, Area)
            .join(Area, Area.code == Notification.area_code)
            .where(Notification.status == PENDING, Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Notification)
        ).all()
        claimed = []
        for row, area in rows:
            row.next_attempt_at = now + LEASE
            subject, body = text_of(row.kind, area.name, urgent=bool(row.urgent))
            to = _recipients(session, area, row.kind)
            mail = Mail(to, subject, body) if to else None
            claimed.append(Claimed(row.id, area.code, row.kind, mail))
        return claimed


def send_due(
    sessions: sessionmaker[Session], mailer: Mailer | None, now: datetime, limit: int = BATCH
) -> int:
    """Send what is due; returns how many were handled (sent, failed or not sent)."""
    with sessions() as session:
        claimed = _claim(session, now, limit)
    for item in claimed:
        outcome = _send(mailer, item)
        with sessions() as session, session.begin():
            row = session.get(Notification, item.id)
            if row is not None:
                _record(row, outcome, now)
        log.info("notification %s (%s) for %s: %s", item.id, item.kind, item.area, outcome.status)
    return len(claimed)


@dataclass(frozen=True)
class Outcome:
    status: str  # SENT, NOT_SENT, FAILED, or PENDING to retry
    detail: str | None = None


NO_MAILER = Outcome(NOT_SENT, "no SMTP host configured (GATEWAY_SMTP_HOST)")
NO_RECIPIENT = Outcome(NOT_SENT, "nobody to tell: the area has no chair accounts")


def _send(mailer: Mailer | None, item: Claimed) -> Outcome:
    if mailer is None:
        return NO_MAILER
    if item.mail is None:
        return NO_RECIPIENT
    try:
        mailer.send(item.mail)
    except MailError as exc:
        return Outcome(FAILED if exc.permanent else PENDING, exc.detail)
    return Outcome(SENT)


def _record(row: Notification, outcome: Outcome, now: datetime) -> None:
    row.attempts += 1
    row.status = outcome.status
    row.last_error = outcome.detail[:200] if outcome.detail else None
    if outcome.status == SENT:
        row.sent_at = now
    elif outcome.status == PENDING:
        # A mail server outage: keep it and try again later; nothing is lost.
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (row.attempts - 1))
        row.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("notification %s: %s; retrying in %.0f s", row.id, outcome.detail, delay)
    elif outcome.status == NOT_SENT:
        log.warning("notification %s not sent: %s", row.id, outcome.detail)
