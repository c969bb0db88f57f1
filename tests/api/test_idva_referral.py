"""The IDVA referral reported after the acknowledgement (`idva_referral`, docs/contract.md),
across real nodes speaking real HTTP: the receiving coordinator reports it through the API
once the case is accepted; it travels sealed in reply to the transfer, is audited as a
disclosure on both sides, and shows on the sending area's timeline and among its messages.
A sending node whose bundle does not list `idva_referral` (it predates it) is never sent
one: the report is refused up front, naming the peer's versions, nothing sealed or queued."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from support.site import PEER, A, Site, make_site
from test_casework import back, inbound, steps
from test_workflow import LIST, accepted, assert_log_verifies, leaves, next_week, post

from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from keys import fingerprint

SERVICE = "Canaryvale IDVA Service"
NOTE = "Canary note about Hortensia"
PERSON = {"name": "Iolanthe Canaryreporter", "role": "MARAC coordinator"}


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def referral(**changes: Any) -> dict[str, Any]:
    return {
        "referred_on": (utcnow().date() - timedelta(days=1)).isoformat(),
        "idva_service": SERVICE,
        "outcome": "accepted",
        "note": NOTE,
        "reported_by": PERSON,
    } | changes


def pending(site: Site) -> int:
    return int(site.north.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'"))


def test_the_idva_referral_is_reported_after_the_acknowledgement(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    north_id, south_id = inbound(site)
    coordinator = site.login(site.add_user("coord", A, "coordinator"))
    path = f"{LIST}/{north_id}/idva-referral"
    # Not before the case is accepted.
    early = post(site, coordinator, path, referral())
    assert early.status_code == 409, early.text
    acked = post(site, coordinator, f"{LIST}/{north_id}/acknowledgement", accepted(next_week()))
    assert acked.status_code == 200, acked.text
    assert site.north.deliver() == 1
    # Every refusal names its field, never a value.
    for body, field in (
        (referral(referred_on=(utcnow().date() + timedelta(days=3)).isoformat()), "referred_on"),
        (referral(idva_service="  "), "idva_service"),
        (referral(outcome="maybe"), "outcome"),
        ({k: v for k, v in referral().items() if k != "reported_by"}, "reported_by"),
    ):
        invalid = post(site, coordinator, path, body)
        assert invalid.status_code == 422, invalid.text
        assert list(invalid.json["errors"]) == [field]
        assert SERVICE not in invalid.text
    reported = post(site, coordinator, path, referral())
    assert reported.status_code == 200, reported.text
    assert reported.json["status"] == "acknowledged"
    assert site.north.deliver() == 1

    # The sending area: on the timeline, among the messages, readable there.
    south = back(site)
    sender = south.login(south.add_user("sender", PEER, "coordinator"))
    kinds = [s["kind"] for s in steps(sender, south_id)]
    assert "idva_referral_received" in kinds
    assert "idva_referral_sent" in [s["kind"] for s in steps(coordinator, north_id)]
    items = sender.get(f"{LIST}/{south_id}/messages").json["items"]
    [message] = [i for i in items if i["type"] == "idva_referral"]
    opened = sender.get(f"{LIST}/{south_id}/messages/{message['envelope_id']}")
    assert opened.status_code == 200, opened.text
    content = opened.json["content"]
    assert content["idva_service"] == SERVICE and content["outcome"] == "accepted"
    # The case page of the sending area shows it in words.
    page = sender.get(f"/cases/{south_id}").text
    assert "Referral to the IDVA service reported by the receiving area" in page

    # Audited on both sides as a disclosure and its receipt; no content in any leaf.
    sent = [x for x in leaves(site.north, A) if x["action"] == "idva_referral.sent"]
    got = [x for x in leaves(site.south, PEER) if x["action"] == "idva_referral.received"]
    assert len(sent) == 1 and len(got) == 1
    for node, area in ((site.north, A), (site.south, PEER)):
        text = json.dumps(leaves(node, area))
        for canary in (SERVICE, NOTE, PERSON["name"]):
            assert canary not in text and canary not in caplog.text
        assert_log_verifies(node, area)


def test_a_sending_node_that_predates_the_report_is_never_sent_one(site: Site) -> None:
    north_id, _ = inbound(site)
    coordinator = site.login(site.add_user("coord", A, "coordinator"))
    acked = post(site, coordinator, f"{LIST}/{north_id}/acknowledgement", accepted(next_week()))
    assert acked.status_code == 200, acked.text
    assert site.north.deliver() == 1
    # The sending node's bundle as an older release publishes it: no `accepts`.
    with site.south.node.sessions() as session:
        older = local_areas.published_bundle(session, site.south.node.master, PEER, utcnow(), None)
    assert "accepts" not in older["body"]
    with site.north.node.sessions() as session:
        peers.import_peer(session, older, fingerprint(older["body"]), utcnow())
    before = (pending(site), len(leaves(site.north, A)))
    refused = post(site, coordinator, f"{LIST}/{north_id}/idva-referral", referral())
    assert refused.status_code == 409, refused.text
    assert "does not accept idva_referral" in refused.json["detail"]
    assert SERVICE not in refused.text
    assert (pending(site), len(leaves(site.north, A))) == before
