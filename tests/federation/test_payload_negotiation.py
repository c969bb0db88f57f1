"""Payload-version negotiation between real nodes (docs/contract.md, "Payload versions"): a
node that accepts only transfer_request version 1 (its bundle says so) and an upgraded node
exchange transfers both ways; version 2 content that fits version 1 is down-converted, other
content is refused before anything is sealed, naming the versions the peer accepts."""

from __future__ import annotations

from typing import Any

import pytest
from support.nodes import RunningNode

from gateway.devtools.samples import sample_transfer, sample_transfer_v1
from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading
from gateway.errors import Conflict

OLD, NEW = "oldshire", "newvale"


def fits_v1(from_area: str, to_area: str) -> dict[str, Any]:
    """Version 2 content with nothing version 1 lacks a place for."""
    data = sample_transfer(from_area, to_area)
    data["referral"] = dict.fromkeys(data["referral"])
    data["documents"] = data["idva"] = None
    return data


def opened(node: RunningNode, transfer_id: str) -> dict[str, Any]:
    with node.node.sessions() as session:
        found = reading.open_transfer(
            session, node.node.master, Principal.operator(), transfer_id, now=utcnow()
        )
    return found.content


@pytest.fixture
def nodes(node_factory: Any) -> tuple[RunningNode, RunningNode]:
    old = node_factory("old", GATEWAY_PAYLOAD_VERSIONS="transfer_request=1")
    new = node_factory("new")
    old.create_area(OLD)
    new.create_area(NEW)
    old.import_peer(new.bundle(NEW))
    new.import_peer(old.bundle(OLD))
    return old, new


def test_each_bundle_lists_the_versions_its_node_accepts(
    nodes: tuple[RunningNode, RunningNode],
) -> None:
    old, new = nodes
    assert old.bundle(OLD)["body"]["accepts"]["transfer_request"] == [1]
    assert new.bundle(NEW)["body"]["accepts"]["transfer_request"] == [1, 2]
    # Capped for transfer_request only: the acknowledgement's version 2 (a redirect's
    # reason) is listed by both.
    assert old.bundle(OLD)["body"]["accepts"]["acknowledgement"] == [1, 2]
    assert old.bundle(OLD)["body"]["accepts"]["withdrawal"] == [1]


def test_a_version_1_node_and_an_upgraded_node_exchange_transfers_both_ways(
    nodes: tuple[RunningNode, RunningNode],
) -> None:
    old, new = nodes
    # Upgraded to version 1 only: fitting content goes down-converted, and reads so on
    # both sides (the sender keeps what it sent).
    sent = new.send(fits_v1(NEW, OLD), NEW, OLD)
    assert new.deliver() >= 1
    assert opened(new, sent.id)["schema_version"] == 1
    [arrived] = old.transfers(OLD)
    content = opened(old, arrived.id)
    assert content["schema_version"] == 1 and "contact" not in content
    assert content["move"]["safe_contact"]["notes"] == "Via the refuge key worker only."
    # Version 1 only to upgraded: what an older node sends is accepted as it was; and the
    # upgraded node is sent the newest version it accepts.
    old.send(sample_transfer_v1(OLD, NEW), OLD, NEW)
    old.send(sample_transfer(OLD, NEW), OLD, NEW)
    assert old.deliver() >= 2
    inbound = [t for t in new.transfers(NEW) if t.direction == "inbound"]
    versions = sorted(opened(new, t.id)["schema_version"] for t in inbound)
    assert versions == [1, 2]


def test_content_only_version_2_can_carry_is_refused_naming_the_versions(
    nodes: tuple[RunningNode, RunningNode],
) -> None:
    _, new = nodes
    envelopes = new.count("envelopes")
    with pytest.raises(Conflict) as refused:
        new.send(sample_transfer(NEW, OLD), NEW, OLD)
    assert refused.value.status == 409
    assert "transfer_request version(s) 1 only" in refused.value.detail
    assert "referral.incident" in (refused.value.errors or {})
    assert "Ada" not in refused.value.detail
    assert new.count("envelopes") == envelopes and new.transfers(NEW) == []


def test_the_version_1_node_refuses_version_2_whatever_a_bundle_said(
    nodes: tuple[RunningNode, RunningNode],
) -> None:
    old, new = nodes
    # A bundle claiming more than the node accepts (exported without its cap).
    with old.node.sessions() as session, session.begin():
        claimed = local_areas.export_bundle(session, old.node.master, OLD, utcnow())
    new.import_peer(claimed)
    sent = new.send(sample_transfer(NEW, OLD), NEW, OLD)
    new.deliver()
    [row] = [t for t in new.transfers(NEW) if t.id == sent.id]
    assert row.status == "failed" and old.transfers(OLD) == []
