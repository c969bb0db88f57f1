"""Retention: an idle case's content is purged (envelopes reduced to their headers, the
audit commitments' salts shredded) while the audit log still verifies; a recent case and
one still waiting to be delivered are left alone; a dry run changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from support.local_nodes import NORTH, SOUTH, LocalNode, carry

from gateway.domain import retention
from gateway.domain.audit.verify import verify_area
from gateway.domain.clock import utcnow
from gateway.domain.identity.actors import Actor
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading
from gateway.errors import NotFound
from keys.envelope import HEADER_FIELDS


def purge(node: LocalNode, now: datetime, **kw: Any) -> list[retention.PurgeReport]:
    with node.session() as session:
        return retention.purge(session, now=now, actor=Actor.operator(), **kw)


def bodies(node: LocalNode) -> dict[str, str]:
    with node.node.engine.connect() as db:
        rows = db.execute(text("SELECT envelope_id, body FROM envelopes"))
        return {str(envelope_id): str(body) for envelope_id, body in rows}


@pytest.fixture
def now() -> datetime:
    """The nodes and their areas were set up long ago."""
    return utcnow() - timedelta(days=400)


@pytest.fixture
def cases(linked: Any, now: datetime) -> tuple[str, str]:
    """South received one case 400 days ago and one today: (idle, recent) ids at south."""
    long_ago, now = now, utcnow()
    idle = linked.north.send(NORTH, SOUTH, long_ago)
    carry(linked.north, linked.south, long_ago)
    recent = linked.north.send(NORTH, SOUTH, now)
    carry(linked.north, linked.south, now + timedelta(minutes=2))
    return inbound(linked.south, idle.envelope_id), inbound(linked.south, recent.envelope_id)


def inbound(node: LocalNode, envelope_id: str) -> str:
    found = node.scalar(
        "SELECT id FROM transfers WHERE direction = 'inbound' AND envelope_id = :e", e=envelope_id
    )
    assert found is not None
    return str(found)


def test_an_idle_case_is_purged_and_the_log_still_verifies(
    linked: Any, cases: tuple[str, str]
) -> None:
    now = utcnow()
    south: LocalNode = linked.south
    idle, recent = cases
    envelope_of = {
        t: str(south.scalar("SELECT envelope_id FROM transfers WHERE id = :t", t=t)) for t in cases
    }
    before = bodies(south)
    assert south.count("audit_salts") == 2
    (report,) = purge(south, now, area=SOUTH)
    assert (report.transfers, report.envelopes, report.salts) == (1, 1, 1)
    assert report.transfer_ids == [idle]
    after = bodies(south)
    # The idle case keeps its header only; the recent one is untouched.
    assert set(json.loads(after[envelope_of[idle]])) == set(HEADER_FIELDS)
    assert after[envelope_of[recent]] == before[envelope_of[recent]]
    assert south.scalar("SELECT purged_at FROM transfers WHERE id = :t", t=recent) is None
    assert south.count("audit_salts") == 1
    with south.session() as session:
        report_after = verify_area(session, SOUTH, deep=True)
        assert report_after.ok
        with pytest.raises(NotFound, match="purged"):
            reading.open_transfer(session, south.master, Principal.operator(), idle, now=now)
        opened = reading.open_transfer(session, south.master, Principal.operator(), recent, now=now)
    assert opened.content["from_area"] == NORTH
    # Done once: a second run finds nothing more.
    (again,) = purge(south, now, area=SOUTH)
    assert again.transfers == 0


def test_a_case_still_waiting_to_be_delivered_is_kept(linked: Any, cases: tuple[str, str]) -> None:
    now = utcnow()
    north: LocalNode = linked.north
    # North never heard the receipts back here: both envelopes are still in its outbox.
    assert north.count("outbox", "status = 'pending'") == 2
    before = bodies(north)
    (report,) = purge(north, now, area=NORTH)
    assert report.transfers == 0 and bodies(north) == before


def test_a_dry_run_changes_nothing(linked: Any, cases: tuple[str, str]) -> None:
    now = utcnow()
    south: LocalNode = linked.south
    before = (bodies(south), south.counts("audit_salts", "audit_events"))
    (report,) = purge(south, now, area=SOUTH, dry_run=True)
    assert report.transfers == 1
    assert (bodies(south), south.counts("audit_salts", "audit_events")) == before


def test_purging_an_unknown_area_is_refused(north: LocalNode, now: datetime) -> None:
    before = north.count("audit_events")
    with pytest.raises(NotFound):
        purge(north, now, area="nowhere")
    assert north.count("audit_events") == before
