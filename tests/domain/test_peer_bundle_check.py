"""An uploaded peer bundle is checked before its fingerprint is confirmed (the import
page's first step: gateway/domain/areas/peers.read_bundle), and the peers list gives each
pinned key's validity (the peers page)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH

from gateway.domain.areas import local_areas, peers
from gateway.errors import Conflict, Invalid


def test_a_bundle_is_read_before_its_fingerprint_is_confirmed(linked: Any, now: datetime) -> None:
    north, south = linked.north, linked.south
    bundle = south.bundle(SOUTH, now)
    with north.session() as session:
        summary = peers.read_bundle(session, bundle)
        assert (summary.code, summary.name) == (SOUTH, "South-Vale MARAC")
        with pytest.raises(Conflict):
            peers.read_bundle(session, north.bundle(NORTH, now))  # hosted here
        forged = copy.deepcopy(bundle)
        forged["body"]["url"] = "https://elsewhere.example"
        with pytest.raises(Invalid):
            peers.read_bundle(session, forged)  # the signature no longer verifies
        with pytest.raises(Invalid):
            peers.read_bundle(session, {"kind": "nonsense"})


def test_the_peers_list_gives_each_key_s_validity(linked: Any, now: datetime) -> None:
    north, south = linked.north, linked.south
    with south.session() as session:
        local_areas.rotate_keys(session, south.master, SOUTH, grace=timedelta(days=30), now=now)
    north.import_peer(south.bundle(SOUTH, now), now)
    with north.session() as session:
        (view,) = peers.list_peers(session)
    ends = sorted((end is None, end) for _, _, end in view.validity)
    assert len(view.validity) == 2
    assert ends[0][1] == (now + timedelta(days=30)).replace(microsecond=0) and ends[1] == (
        True,
        None,
    )
