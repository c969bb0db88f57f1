"""A coordinator's work (DESIGN section 8): the home page "Your work" (what the area has to
do, counted, with links) and the area's transfers as a table with filters and the API's
cursor paging. Metadata only: no name, no case reference, anywhere on these pages.

Pages:
  /            "Your work"   coordinators, chairs, auditors (counts); admins (what they do)
  /transfers   "Transfers"   coordinators, chairs, auditors of the area
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway.domain.casework import worklist
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import (
    ADMIN,
    AUDITOR,
    CHAIR,
    COORDINATOR,
    METADATA_ROLES,
    Principal,
)
from gateway.domain.transfers import reading, states
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui.forms import RADIOS, Question, problems
from gateway.web.ui.layout import current_area
from gateway.web.ui.pages import render
from gateway.web.ui.transfer_words import (
    DIRECTIONS,
    STATUSES,
    area_names,
    long_date,
    short_reference,
    status_tag,
)
from schemas.api.pages import encode_cursor
from schemas.api.transfers import load_transfer_query

work = Blueprint("work", __name__)

PAGE_SIZE = 25
FILTERS = ("direction", "status", "overdue", "cursor")
YES = "yes"


def _render(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("filter_questions", FILTER_QUESTIONS)
    return render(template, status, **context)


def roles_here(principal: Principal, area: str | None) -> frozenset[str]:
    return frozenset(role for held, role in principal.roles if held == area)


# --- Your work ------------------------------------------------------------------------------


def home_page() -> Response:
    """`ui.home`: the area's work for those who may see its transfers; for an admin, what
    an admin does here (no case, not even its metadata)."""
    principal = current_principal()
    area = current_area(principal)
    roles = roles_here(principal, area)
    if area is None or not roles & METADATA_ROLES:
        return _render("work/admin_home.html", admin=ADMIN in roles, roles=sorted(principal.roles))
    with node().sessions() as db:
        counts = worklist.work_counts(db, principal, area, utcnow())
    return _render(
        "work/home.html",
        counts=counts,
        coordinator=COORDINATOR in roles,
        chair=CHAIR in roles,
        auditor_only=roles & METADATA_ROLES == {AUDITOR},
        short_reference=short_reference,
        recent_days=worklist.RECENT_DAYS,
        roles=sorted(principal.roles),
    )


# --- the transfers table --------------------------------------------------------------------


FILTER_QUESTIONS = (
    Question(
        "direction",
        "Direction",
        kind=RADIOS,
        options=(("", "Sent and received"), *DIRECTIONS.items()),
    ),
    Question(
        "status",
        "Status",
        noun="a status from the list",
        kind=RADIOS,
        options=(("", "Any status"), *((code, words) for code, (words, _) in STATUSES.items())),
    ),
)
CURSOR_GONE = "This page of results no longer exists. Start again from the first page."


@work.get("/transfers")
@requires(roles=[COORDINATOR, CHAIR, AUDITOR])
def transfers() -> Response:
    args = {name: request.args.get(name, "") for name in FILTERS}
    given: dict[str, Any] = {name: value for name, value in args.items() if value}
    if len(given) != len(request.args):
        # Only the chosen codes stay in the address: drop empty and unknown fields.
        return redirect(url_for("work.transfers", **given), code=303)
    principal = current_principal()
    area = reading.listing_area(principal, current_area(principal))
    errors: dict[str, str] = {}
    if given.get("overdue", YES) != YES:
        errors["overdue"] = "Select whether to show only overdue acknowledgements"
    try:
        query = load_transfer_query({k: v for k, v in given.items() if k != "overdue"})
    except ValidationError as exc:
        messages = dict(exc.messages) if isinstance(exc.messages, dict) else {}
        if messages.pop("cursor", None):
            errors[""] = CURSOR_GONE
        errors.update(problems(messages, FILTER_QUESTIONS))
    if errors:
        return _render("work/transfers.html", 400, filters=given, errors=errors, page=None)
    now = utcnow()
    with node().sessions() as db:
        page = reading.list_transfer_page(
            db,
            area,
            direction=query.direction,
            status=query.status,
            after=query.cursor,
            limit=PAGE_SIZE,
            overdue_at=now if given.get("overdue") == YES else None,
            now=now,
        )
    names = area_names({item.peer_area for item in page.items})
    rows = [_row(item, page, names) for item in page.items]
    filters = {k: v for k, v in given.items() if k != "cursor"}
    return _render(
        "work/transfers.html",
        filters=given,
        page=page,
        rows=rows,
        next_url=url_for("work.transfers", **filters, cursor=encode_cursor(*page.next))
        if page.next
        else None,
        first_url=url_for("work.transfers", **filters) if query.cursor else None,
    )


def _row(item: reading.TransferView, page: reading.TransferPage, names: dict[str, str]) -> Any:
    draft = item.status == states.DRAFT
    return {
        "id": item.id,
        "reference": short_reference(item.id),
        "draft": draft,
        "direction": DIRECTIONS.get(item.direction, item.direction),
        "other_area": names.get(item.peer_area, item.peer_area),
        "status": status_tag(item.status),
        "overdue": item.id in page.overdue,
        "when": long_date(item.created_at),
        "due": long_date(page.due.get(item.id)),
        "listed_for": long_date(item.listed_for),
    }
