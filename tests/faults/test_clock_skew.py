"""Clocks skewed by minutes between two real nodes: the receiver refuses the request token
with a `clock-skew` problem carrying its own time, the sender records the reason on the
transfer (still queued, retried) and logs it; within the allowed skew delivery works."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from support.nodes import Pair, RunningNode

from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due, deliver
from keys import issue_request_token, parse_json
from schemas.wire.envelope import ENVELOPES_PATH

pytestmark = pytest.mark.slow


def deliver_with_clock(
    node: RunningNode, offset: timedelta, due_by: timedelta = timedelta(0)
) -> None:
    """One delivery pass by a worker whose clock is `offset` from the true time, taking
    what falls due within `due_by`."""

    def clock() -> datetime:
        return utcnow() + offset

    policy = node.node.delivery_policy
    with node.node.sessions() as session:
        for claim in claim_due(
            session, node.node.master, now=utcnow() + due_by, lease=policy.lease, limit=10
        ):
            deliver(session, node.node.master, node.node.client, claim, policy, clock)


def status_of(pair: Pair, transfer_id: str) -> tuple[str, str | None]:
    [row] = [t for t in pair.north.transfers("northshire") if t.id == transfer_id]
    return row.status, row.failure_reason


def test_minutes_of_skew_are_refused_with_the_reason_and_recorded(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    for minutes, side in ((5, "behind"), (-5, "ahead of")):
        sent = pair.send()
        with caplog.at_level(logging.WARNING, logger="gateway.delivery"):
            deliver_with_clock(pair.north, timedelta(minutes=minutes))
        status, reason = status_of(pair, sent.id)
        assert status == "queued"  # retried once the clocks agree, never failed for it
        assert reason is not None and "(clock-skew)" in reason
        assert "the peer's clock is" in reason and side in reason
        seconds = int(reason.split("clock is ")[1].split(" s ")[0])
        assert abs(seconds - 300) <= 5
        assert any("clock skew" in r.getMessage() for r in caplog.records)
        # The clock is put right; the retry, scheduled by the skewed clock, falls due.
        deliver_with_clock(pair.north, timedelta(0), due_by=timedelta(minutes=6))
        assert status_of(pair, sent.id) == ("delivered", None)

    for seconds in (25, -45):  # within the allowed skew (30 s ahead, 60 s behind)
        sent = pair.send()
        deliver_with_clock(pair.north, timedelta(seconds=seconds))
        assert status_of(pair, sent.id) == ("delivered", None)
    assert pair.south.count("envelopes") == 4


def test_the_refusal_names_the_reason_and_the_receivers_time(pair: Pair) -> None:
    url = pair.south.url + ENVELOPES_PATH
    with pair.north.node.sessions() as session, session.begin():
        keys = current_secret_keys(session, pair.north.node.master, "northshire", utcnow())
    ahead = int((utcnow() + timedelta(minutes=3)).timestamp())
    token = issue_request_token(
        keys, audience="south-vale", method="POST", url=url, body=b"{}", now=ahead
    )
    answer = pair.north.node.client.post(url, b"{}", token)
    problem = parse_json(answer.body)
    assert answer.status == 401
    assert problem["type"].endswith("/clock-skew")
    taken = datetime.fromisoformat(problem["server_time"].replace("Z", "+00:00"))
    assert abs((taken - utcnow()).total_seconds()) < 5
