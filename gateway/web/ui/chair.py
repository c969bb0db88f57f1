"""Chair approval in the browser (DESIGN section 2; seed 001 5.1): the queue of transfers
held for a chair's approval (no names), a read-only check-answers view of one (opened
through the domain, audited as content opened), approval (refused by the domain for
whoever drafted or sent it: the page shows its reason) and a confirmation saying what
happens next. Withdrawing a held transfer is the one withdrawal page (outbound.withdraw),
for the area's coordinators.

Pages:
  /approvals                         "Transfers waiting for approval"   chairs
  /approvals/<id>                    "Check the transfer"               chairs
  POST /approvals/<id>/approve                                          chairs
  /approvals/<id>/approved           "Transfer approved"                chairs
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway.domain.casework import chair_approval
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import CHAIR, TRANSFERS_READ
from gateway.domain.schedule import meetings
from gateway.domain.transfers import reading, states
from gateway.errors import Conflict, Forbidden, NotFound
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui import send_sections
from gateway.web.ui.forms import value_at
from gateway.web.ui.layout import FORM, current_area
from gateway.web.ui.pages import go, refusal, render
from gateway.web.ui.transfer_words import area_names, long_date, short_reference, status_tag
from schemas.api.pages import encode_cursor
from schemas.api.transfers import load_transfer_query

chair = Blueprint("chair", __name__)

QUEUE_SIZE = 50
# The timeline step a chair's approval leaves (gateway/domain/casework/chair_approval.py).
APPROVED = "approved"


def _chair_area() -> str:
    principal = current_principal()
    return principal.choose_area(current_area(principal), [CHAIR], TRANSFERS_READ)


@chair.get("/approvals")
@requires(roles=[CHAIR])
def queue() -> Response:
    area = _chair_area()
    cursor = request.args.get("cursor")
    try:
        query = load_transfer_query({"cursor": cursor} if cursor else {})
    except ValidationError:
        return render(
            "chair/queue.html",
            400,
            rows=[],
            errors={
                FORM: "This page of results no longer exists. Start again from the first page."
            },
        )
    with node().sessions() as db:
        page = reading.list_transfer_page(
            db,
            area,
            direction=states.OUTBOUND,
            status=states.AWAITING_APPROVAL,
            after=query.cursor,
            limit=QUEUE_SIZE,
        )
    names = area_names({item.to_area for item in page.items})
    rows = [
        {
            "id": item.id,
            "reference": short_reference(item.id),
            "to_area": names.get(item.to_area, item.to_area),
            "held_since": long_date(item.updated_at),
        }
        for item in page.items
    ]
    next_url = url_for("chair.queue", cursor=encode_cursor(*page.next)) if page.next else None
    return render("chair/queue.html", rows=rows, next_url=next_url, first=cursor is None)


def _review(transfer_id: str, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    principal = current_principal()
    current = node()
    with current.sessions() as db:
        opened = reading.open_transfer(db, current.master, principal, transfer_id, now=utcnow())
    transfer = opened.transfer
    if transfer.direction != states.OUTBOUND:
        raise NotFound("No such transfer.")
    names = area_names({transfer.to_area})
    return render(
        "chair/review.html",
        status,
        transfer=transfer,
        reference=short_reference(transfer.id),
        to_area=names.get(transfer.to_area, transfer.to_area),
        status_tag=status_tag(transfer.status),
        waiting=transfer.status == states.AWAITING_APPROVAL,
        created=long_date(transfer.created_at),
        sections=[s for s in send_sections.SECTIONS if s.applies(opened.content.get("reason"))],
        content=opened.content,
        value_at=value_at,
        reason=send_sections.REASON_WORDS.get(str(opened.content.get("reason")), ""),
        may_withdraw=principal.may_send(transfer.from_area),
        errors=errors or {},
    )


@chair.get("/approvals/<transfer_id>")
@requires(roles=[CHAIR])
def review(transfer_id: str) -> Response:
    return _review(transfer_id)


@chair.post("/approvals/<transfer_id>/approve")
@requires(roles=[CHAIR])
def approve(transfer_id: str) -> Response:
    current = node()
    try:
        with current.sessions() as db:
            chair_approval.approve(db, current.master, current_principal(), transfer_id, utcnow())
    except (Forbidden, Conflict) as exc:
        return _review(transfer_id, exc.status, refusal(exc))
    return go("chair.approved", transfer_id=transfer_id)


@chair.get("/approvals/<transfer_id>/approved")
@requires(roles=[CHAIR])
def approved(transfer_id: str) -> Response:
    principal = current_principal()
    with node().sessions() as db:
        transfer, steps = reading.transfer_timeline(db, principal, transfer_id)
    if transfer.direction != states.OUTBOUND or not any(s.kind == APPROVED for s in steps):
        raise NotFound("This transfer has not been approved.")
    with node().sessions() as db:
        schedule = meetings.schedule(db, principal, transfer.from_area)
    names = area_names({transfer.to_area})
    return render(
        "chair/approved.html",
        reference=short_reference(transfer.id),
        to_area=names.get(transfer.to_area, transfer.to_area),
        status_tag=status_tag(transfer.status),
        working_days=schedule.ack_working_days,
        transfer=transfer,
    )
