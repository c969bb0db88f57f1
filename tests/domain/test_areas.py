"""Areas: creating one (with its keys and its audit log), URL rules, pinning a peer only
on the fingerprint its coordinator read out, key rotation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.local_nodes import NORTH, SOUTH, LocalNode

from gateway.domain.areas import local_areas, peers
from gateway.domain.audit.verify import verify_area
from gateway.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from keys import fingerprint

AREA_TABLES = ("areas", "area_keys", "audit_heads", "audit_events")
PEER_TABLES = ("peers", "peer_keys", "audit_events")


def create(node: LocalNode, now: datetime, **changes: str) -> local_areas.AreaView:
    fields = {
        "code": "east-fen",
        "name": "East Fen MARAC",
        "url": "https://east.example",
        "mailbox": "marac@east.example",
        **changes,
    }
    with node.session() as session:
        return local_areas.create_area(session, node.master, now=now, **fields)


def test_a_new_area_has_a_key_and_a_verifying_log(north: LocalNode, now: datetime) -> None:
    made = create(north, now)
    assert made.url == "https://east.example" and made.key_id
    assert north.count("area_keys", "area_code = :a", a="east-fen") == 1
    with north.session() as session:
        report = verify_area(session, "east-fen")
    assert report.ok and report.entries == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "East Fen"}, "code"),
        ({"code": "x"}, "code"),
        ({"name": "  "}, "name"),
        ({"mailbox": "nobody"}, "mailbox"),
        ({"url": "http://east.example"}, "url"),  # plain http only on loopback
        ({"url": "ftp://east.example"}, "url"),
        ({"url": "https://east.example/?case=1"}, "url"),
        ({"url": "https://user@east.example"}, "url"),
    ],
)
def test_a_bad_area_is_refused_and_nothing_is_written(
    north: LocalNode, now: datetime, changes: dict[str, str], field: str
) -> None:
    before = north.counts(*AREA_TABLES)
    with pytest.raises(Invalid) as refused:
        create(north, now, **changes)
    assert refused.value.errors is not None and list(refused.value.errors) == [field]
    assert north.counts(*AREA_TABLES) == before


def test_plain_http_is_allowed_on_loopback(north: LocalNode, now: datetime) -> None:
    assert create(north, now, url="http://127.0.0.1:8999/").url == "http://127.0.0.1:8999"


def test_an_area_code_is_taken_once(linked: Any, now: datetime) -> None:
    north = linked.north
    before = north.counts(*AREA_TABLES)
    for taken in (NORTH, SOUTH):  # hosted here, or already pinned as a peer
        with pytest.raises(Conflict):
            create(north, now, code=taken)
    assert north.counts(*AREA_TABLES) == before


def test_a_peer_is_pinned_with_its_keys(
    make_node: Callable[[str, str], LocalNode], north: LocalNode, now: datetime
) -> None:
    south = make_node("south", SOUTH)
    bundle = south.bundle(SOUTH, now)
    before = north.count("audit_events")
    north.import_peer(bundle, now)
    with north.session() as session:
        (pinned,) = peers.list_peers(session)
    assert pinned.code == SOUTH and pinned.fingerprint == fingerprint(bundle["body"])
    assert north.count("peer_keys") == 1
    assert north.count("audit_events") == before + 1  # one event in each local area's log


def _import(node: LocalNode, bundle: dict[str, Any], confirmed: str, now: datetime) -> None:
    with node.session() as session:
        peers.import_peer(session, bundle, confirmed, now)


def _resigned_elsewhere(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    changed["body"]["url"] = "https://attacker.example"
    return changed


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        # The coordinator read out another fingerprint (here: another area's).
        (lambda b, other: (b, fingerprint(other["body"])), Forbidden),
        # Not a fingerprint at all.
        (lambda b, other: (b, "not-hex"), Invalid),
        # The body was changed in transit and the fingerprint of the change confirmed: the
        # signature over it no longer verifies.
        (
            lambda b, other: (_resigned_elsewhere(b), fingerprint(_resigned_elsewhere(b)["body"])),
            Invalid,
        ),
        # A bundle that is not one.
        (lambda b, other: ({"body": {"area": SOUTH}}, fingerprint({"area": SOUTH})), Invalid),
    ],
)
def test_a_peer_import_is_refused_and_nothing_is_pinned(
    make_node: Callable[[str, str], LocalNode],
    north: LocalNode,
    now: datetime,
    tamper: Callable[[dict[str, Any], dict[str, Any]], tuple[dict[str, Any], str]],
    error: type[DomainError],
) -> None:
    south = make_node("south", SOUTH)
    other = make_node("west", "west-moor")
    bundle, confirmed = tamper(south.bundle(SOUTH, now), other.bundle("west-moor", now))
    before = north.counts(*PEER_TABLES)
    with pytest.raises(error) as refused:
        _import(north, bundle, confirmed, now)
    assert type(refused.value) is error
    assert north.counts(*PEER_TABLES) == before


def test_an_area_hosted_here_needs_no_import(north: LocalNode, now: datetime) -> None:
    bundle = north.bundle(NORTH, now)
    before = north.counts(*PEER_TABLES)
    with pytest.raises(Conflict):
        _import(north, bundle, fingerprint(bundle["body"]), now)
    assert north.counts(*PEER_TABLES) == before


def test_rotation_keeps_the_old_key_for_its_grace(linked: Any, now: datetime) -> None:
    north, now = linked.north, now + timedelta(minutes=1)
    with north.session() as session:
        old = local_areas.published_bundle(session, north.master, NORTH, now)["body"]["key_id"]
        retired, new, until = local_areas.rotate_keys(
            session, north.master, NORTH, grace=timedelta(days=7), now=now
        )
    assert retired == old != new and until == now + timedelta(days=7)
    bundle = north.bundle(NORTH, now)
    assert bundle["body"]["key_id"] == new
    assert [k["key_id"] for k in bundle["body"]["previous_keys"]] == [old]
    # The peer re-imports and then seals to the new key only.
    linked.south.import_peer(bundle, now)
    with linked.south.session() as session, session.begin():
        assert peers.recipient_key(session, NORTH, now).key_id == new
        assert peers.recipient_key(session, NORTH, now + timedelta(days=30)).key_id == new
        with pytest.raises(NotFound):
            peers.recipient_key(session, "nowhere", now)


def test_a_rotation_in_the_same_instant_makes_the_new_key_current(
    north: LocalNode, now: datetime
) -> None:
    """The area was created at `now`; rotating at that very instant (a script, a coarse
    clock) must still publish the new key and sign with it."""
    with north.session() as session:
        old, new, _ = local_areas.rotate_keys(
            session, north.master, NORTH, grace=timedelta(days=7), now=now
        )
    body = north.bundle(NORTH, now)["body"]
    assert body["key_id"] == new
    assert [k["key_id"] for k in body["previous_keys"]] == [old]
