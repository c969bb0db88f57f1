"""How the pages word a transfer's metadata: its short reference, its direction and status
in plain English (a status is a GOV.UK tag with text, never colour alone), dates as GOV.UK
writes them, and the other area's name. Nothing here is a rule: the states are the
domain's (gateway/domain/transfers/states.py), these are only their words.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from gateway.domain.areas import local_areas, peers
from gateway.domain.transfers import states
from gateway.web import node
from gateway.web.ui.layout import UK

# (words, GOV.UK tag colour class) for each state; both directions share most.
STATUSES: dict[str, tuple[str, str]] = {
    states.DRAFT: ("Draft", "govuk-tag--grey"),
    states.AWAITING_APPROVAL: ("Waiting for a chair", "govuk-tag--purple"),
    states.QUEUED: ("Sending", "govuk-tag--light-blue"),
    states.DELIVERED: ("Delivered", "govuk-tag--blue"),
    states.FAILED: ("Not delivered", "govuk-tag--red"),
    states.INFORMATION_REQUESTED: ("More information asked for", "govuk-tag--yellow"),
    states.ACKNOWLEDGED: ("Accepted", "govuk-tag--green"),
    states.REDIRECTED: ("Sent elsewhere", "govuk-tag--orange"),
    states.WITHDRAWN: ("Withdrawn", "govuk-tag--grey"),
    states.RECEIVED: ("To acknowledge", "govuk-tag--blue"),
}
assert set(STATUSES) == set(states.STATUSES)  # noqa: S101 - every state has words
DIRECTIONS = {states.INBOUND: "Received", states.OUTBOUND: "Sent"}
# A short reference people can read out: the start of the opaque id, never a case reference.
SHORT = 8


def short_reference(transfer_id: str) -> str:
    return transfer_id[:SHORT].upper()


def status_tag(status: str) -> dict[str, str]:
    """The GOV.UK tag for a state: its words and its colour."""
    words, colour = STATUSES.get(status, (status.replace("_", " ").capitalize(), ""))
    return {"text": words, "classes": colour}


def long_date(day: date | datetime | None) -> str:
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(UK).date()
    return f"{day.day} {day:%B %Y}"


def area_names(codes: Iterable[str]) -> dict[str, str]:
    """The names of these areas by code: this node's own, then its pinned peers; a code
    this node does not know stands for itself."""
    wanted = set(codes)
    with node().sessions() as db:
        known = local_areas.area_names(db, wanted)
    if wanted - set(known):
        with node().sessions() as db:
            known.update(
                (peer.code, peer.name) for peer in peers.list_peers(db) if peer.code in wanted
            )
    return {code: known.get(code, code) for code in wanted}
