"""Shared flags across three real nodes: two areas (north, south) and a hub node playing the
linkage authority and the flag index, on real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text
from support.clock import pin_clock
from support.nodes import RunningNode

from gateway.cli import main
from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.flags import lifecycle
from gateway.domain.flags.months import expiry
from gateway.domain.identity import clients

NORTH, SOUTH, HUB = "northshire", "south-vale", "hub"
SCOPES = "flags:query flags:write transfers:read transfers:write"
CANARIES = ("Zebedee", "Quillfeather", "1987-03-14", "19870314", "Zeb ")


@dataclass
class Three:
    hub: RunningNode
    north: RunningNode
    south: RunningNode
    headers: dict[str, dict[str, str]]

    def post(self, area: str, path: str, body: dict[str, Any]) -> Any:
        node = self.north if area == NORTH else self.south
        return node.app.test_client().post(f"/api/v1{path}", json=body, headers=self.headers[area])

    def get(self, area: str, path: str) -> Any:
        node = self.north if area == NORTH else self.south
        return node.app.test_client().get(f"/api/v1{path}", headers=self.headers[area])


def bearer(node: RunningNode, area: str) -> dict[str, str]:
    with node.node.sessions() as session:
        made, secret = clients.create_client(
            session, node.node.master, name="cms", area=area, scopes=SCOPES, now=utcnow()
        )
    answer = node.app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(made.id, secret)
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": "Bearer " + answer.json["access_token"]}


def start_three(node_factory: Callable[..., RunningNode], **area_settings: Any) -> Three:
    hub = node_factory("hub", **area_settings.pop("hub", {}))
    hub.create_area(HUB)
    roles = {
        "GATEWAY_LINKAGE_AUTHORITY": f"{HUB}@{hub.url}",
        "GATEWAY_FLAG_INDEX": f"{HUB}@{hub.url}",
    }
    north = node_factory("north", **roles, **area_settings)
    south = node_factory("south", **roles, **area_settings)
    north.create_area(NORTH)
    south.create_area(SOUTH)
    pairs = ((north, south, SOUTH), (south, north, NORTH), (hub, north, NORTH), (hub, south, SOUTH))
    for importer, exporter, code in (*pairs, (north, hub, HUB), (south, hub, HUB)):
        importer.import_peer(exporter.bundle(code))
    return Three(hub, north, south, {NORTH: bearer(north, NORTH), SOUTH: bearer(south, SOUTH)})


@pytest.fixture
def three(node_factory: Callable[..., RunningNode]) -> Three:
    return start_three(node_factory)


def subject(role: str = "victim", **overrides: Any) -> dict[str, Any]:
    return {
        "role": role,
        "given_names": "Zebedee",
        "family_name": "Quillfeather",
        "date_of_birth": "1987-03-14",
        "aliases": [],
        "previous_family_names": [],
        **overrides,
    }


def person(**overrides: Any) -> dict[str, Any]:
    found = subject(**overrides)
    del found["role"]
    return found


def recent() -> str:
    return (utcnow().date() - timedelta(days=30)).isoformat()


def set_flag(three: Three, area: str, case_ref: str, *subjects: dict[str, Any], **body: Any) -> Any:
    answer = three.post(
        area,
        "/flags",
        {
            "case_ref": case_ref,
            "reviewed_at": body.get("reviewed_at", recent()),
            "source": body.get("source", "local"),
            "subjects": list(subjects) or [subject()],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json


def lookup(three: Three, area: str, **overrides: Any) -> Any:
    return three.post(area, "/flags/lookups", person(**overrides))


def test_lookup_finds_local_strong_and_possible_matches(three: Three) -> None:
    made = set_flag(three, NORTH, "NS-1")
    assert made["status"] == "active" and made["shared"] is True
    assert made["expires_at"] == expiry(date.fromisoformat(recent())).isoformat()

    strong = lookup(three, SOUTH)
    assert strong.status_code == 200, strong.text
    [found] = strong.json["matches"]
    assert found["kind"] == "remote" and found["strength"] == "strong"
    assert found["area"] == NORTH and found["mailbox"] == f"marac@{NORTH}.example"
    assert found["case_ref"] is None and found["repeat"] is True
    assert found["expires_at"] == made["expires_at"]

    # A married name: only weak tokens meet, and no area is named.
    weak = lookup(three, SOUTH, family_name="Harrowgate")
    [possible] = weak.json["matches"]
    assert possible["kind"] == "possible" and possible["strength"] == "weak"
    assert possible["area"] is None and possible["mailbox"] is None
    assert possible["expires_at"] is None and possible["case_ref"] is None
    # The reference is fresh on every answer: lookups cannot be linked by it.
    again = lookup(three, SOUTH, family_name="Harrowgate").json["matches"][0]
    assert again["ref"] != possible["ref"] and again["area"] is None

    # Nobody else: nothing.
    assert lookup(three, SOUTH, given_names="Ottoline", family_name="Brack").json["matches"] == []

    own = lookup(three, NORTH).json["matches"]
    assert [(m["kind"], m["case_ref"], m["repeat"], m["area"]) for m in own] == [
        ("local", "NS-1", True, NORTH)
    ]


def test_policy_keeps_perpetrators_out_of_the_index(three: Three) -> None:
    set_flag(
        three,
        NORTH,
        "NS-2",
        subject(),
        subject(
            "perpetrator", given_names="Barnaby", family_name="Crook", date_of_birth="1980-01-02"
        ),
    )
    assert (
        lookup(
            three, SOUTH, given_names="Barnaby", family_name="Crook", date_of_birth="1980-01-02"
        ).json["matches"]
        == []
    )
    # Still found by the flagging area itself.
    own = lookup(
        three, NORTH, given_names="Barnaby", family_name="Crook", date_of_birth="1980-01-02"
    )
    assert [m["case_ref"] for m in own.json["matches"]] == ["NS-2"]


def _database_text(node: RunningNode) -> bytes:
    """Every row of every table, plus (SQLite) the raw database files."""
    found = b""
    url = node.settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for candidate in (path, Path(f"{path}-wal")):
            if candidate.exists():
                found += candidate.read_bytes()
    with node.node.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                found += repr(tuple(row)).encode("utf-8", "replace")
    return found


def test_index_and_authority_hold_no_name_or_date_of_birth(three: Three) -> None:
    set_flag(
        three,
        NORTH,
        "NS-3",
        subject(aliases=["Zeb Q"]),
        subject("child", given_names="Zebedee Junior", date_of_birth="2015-06-01"),
    )
    assert lookup(three, SOUTH).json["matches"]
    assert three.hub.count("index_tokens") > 0 and three.hub.count("linkage_keys") == 1
    hub = _database_text(three.hub)
    for canary in (*CANARIES, "2015-06-01"):
        assert canary.encode() not in hub, canary
    # The flagging node keeps the subjects sealed: no plaintext there either.
    north = _database_text(three.north)
    for canary in CANARIES[:2]:
        assert canary.encode() not in north, canary


def test_a_node_the_authority_does_not_know_cannot_derive_tokens(
    three: Three, node_factory: Callable[..., RunningNode]
) -> None:
    roles = {
        "GATEWAY_LINKAGE_AUTHORITY": f"{HUB}@{three.hub.url}",
        "GATEWAY_FLAG_INDEX": f"{HUB}@{three.hub.url}",
    }
    rogue = node_factory("rogue", **roles)
    rogue.create_area("rogue-area")
    rogue.import_peer(three.hub.bundle(HUB))
    answer = rogue.app.test_client().post(
        "/api/v1/flags/lookups", json=person(), headers=bearer(rogue, "rogue-area")
    )
    assert answer.status_code == 503, answer.text
    assert "linkage authority" in answer.json["detail"]
    assert "Zebedee" not in answer.text
    # No flag is set without tokens either, and nothing is half-written.
    made = rogue.app.test_client().post(
        "/api/v1/flags",
        json={
            "case_ref": "R-1",
            "reviewed_at": recent(),
            "source": "local",
            "subjects": [subject()],
        },
        headers=bearer(rogue, "rogue-area"),
    )
    assert made.status_code == 503 and rogue.count("flags") == 0
    # The authority down: a known area fails cleanly too.
    three.hub.stop()
    down = lookup(three, SOUTH)
    assert down.status_code == 503 and down.json["status"] == 503


def test_weak_only_matches_never_name_an_area(three: Three) -> None:
    set_flag(three, NORTH, "NS-4")
    for overrides in (
        {"given_names": "Zeb"},
        {"family_name": "Quilfeather"},
        {"date_of_birth": "1987-03-15", "family_name": "Other"},
        {"family_name": "Harrowgate"},
    ):
        for match in lookup(three, SOUTH, **overrides).json["matches"]:
            if match["strength"] == "weak":
                assert match["area"] is None and match["mailbox"] is None, overrides


def test_expiry_at_exactly_twelve_calendar_months(three: Three) -> None:
    leap = set_flag(three, NORTH, "NS-LEAP", reviewed_at="2024-02-29")
    assert leap["expires_at"] == "2025-02-28" and leap["status"] == "expired"
    # Lapsed flags reach no other area.
    reviewed = (utcnow().date() - timedelta(days=364)).isoformat()
    made = set_flag(three, NORTH, "NS-5", subject(given_names="Perpetua"), reviewed_at=reviewed)
    due = date.fromisoformat(made["expires_at"])
    assert made["status"] == "active"
    roles = three.north.node.flag_roles
    eve = datetime(due.year, due.month, due.day, tzinfo=UTC) - timedelta(microseconds=1)
    with three.north.node.sessions() as session:
        assert lifecycle.expire_due(session, roles, eve) == 0
        assert lifecycle.expire_due(session, roles, eve + timedelta(microseconds=1)) == 1
        # Our clock jumped a day ahead, so the hub refused that request token; the
        # worker's next pass (at the real time) brings the index up to date.
        assert lifecycle.expire_due(session, roles, utcnow()) == 0
    listed = three.get(NORTH, f"/flags?status=expired&lapsed_since={due.isoformat()}").json["items"]
    assert [f["case_ref"] for f in listed] == ["NS-5"]
    assert lookup(three, SOUTH, given_names="Perpetua").json["matches"] == []
    own = lookup(three, NORTH, given_names="Perpetua").json["matches"]
    # NS-LEAP (same family name and date of birth) may meet as weak; the strong one is NS-5.
    strong = [(m["case_ref"], m["repeat"]) for m in own if m["strength"] == "strong"]
    assert strong == [("NS-5", False)]


def test_extension_after_a_transfer_reaches_the_originating_area(three: Three) -> None:
    set_flag(
        three, NORTH, "DEMO-0001", reviewed_at=(utcnow().date() - timedelta(days=200)).isoformat()
    )
    three.north.send(sample_transfer(NORTH, SOUTH), NORTH, SOUTH)
    assert three.north.deliver() >= 1
    inbound = next(t for t in three.south.transfers(SOUTH) if t.direction == "inbound")
    received = set_flag(three, SOUTH, "SV-9", source={"transfer": inbound.id}, reviewed_at=recent())
    assert received["origin_area"] == NORTH and received["sits_with"] == SOUTH
    assert three.south.deliver() >= 1  # the flag_notice
    north = three.get(NORTH, "/flags").json["items"]
    assert [(f["case_ref"], f["sits_with"], f["expires_at"]) for f in north] == [
        ("DEMO-0001", SOUTH, received["expires_at"])
    ]
    # South reviews: the extension reaches north, whose flag follows.
    today = utcnow().date().isoformat()
    reviewed = three.post(SOUTH, f"/flags/{received['id']}/reviews", {"reviewed_at": today})
    assert reviewed.status_code == 200, reviewed.text
    assert three.south.deliver() >= 1
    [follows] = three.get(NORTH, "/flags").json["items"]
    assert follows["expires_at"] == expiry(utcnow().date()).isoformat()
    assert follows["reviewed_at"] == today
    kinds = three.north.scalar(
        "SELECT count(*) FROM transfer_events WHERE kind = 'flag_notice_received'"
    )
    assert kinds == 2


def test_lookup_rate_limit_holds(
    node_factory: Callable[..., RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    three = start_three(node_factory, GATEWAY_LOOKUP_RATE_LIMIT="2/hour")
    pin_clock(monkeypatch)  # every lookup in one hour's window
    assert lookup(three, SOUTH).status_code == 200
    assert lookup(three, SOUTH).status_code == 200
    refused = lookup(three, SOUTH)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    # The audit counts lookups, never the query.
    leaves = three.south.scalar("SELECT count(*) FROM audit_events WHERE action = 'lookup'")
    assert leaves == 2
    assert b"Zebedee" not in _database_text(three.south)


def test_authority_rate_limit_per_area(
    node_factory: Callable[..., RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    three = start_three(node_factory, hub={"GATEWAY_LINKAGE_RATE_LIMIT": "3/hour"})
    pin_clock(monkeypatch)  # every evaluation in one hour's window
    assert all(lookup(three, SOUTH).status_code == 200 for _ in range(3))
    limited = lookup(three, SOUTH)
    assert limited.status_code == 503 and "rate-limiting" in limited.json["detail"]
    # Another area has its own allowance.
    assert lookup(three, NORTH).status_code == 200
    evaluated = three.hub.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'linkage.evaluated'"
    )
    assert evaluated == 4


def test_cli_policy_and_expire(three: Three) -> None:
    runner = CliRunner(env=three.north.env)
    shown = runner.invoke(main, ["flags", "policy", NORTH, "--perpetrators"])
    assert shown.exit_code == 0 and "perpetrator" in shown.output
    set_flag(
        three,
        NORTH,
        "NS-P",
        subject("perpetrator", given_names="Barnaby", family_name="Crook"),
    )
    found = lookup(three, SOUTH, given_names="Barnaby", family_name="Crook").json["matches"]
    assert [m["area"] for m in found] == [NORTH]
    done = runner.invoke(main, ["flags", "expire"])
    assert done.exit_code == 0 and "expired 0 flag(s)" in done.output
    missing = runner.invoke(main, ["flags", "policy", "nowhere"])
    assert missing.exit_code == 1 and "No such area" in missing.output


def test_verification_request_reaches_the_holder_sealed(three: Three) -> None:
    made = set_flag(three, NORTH, "NS-V")
    [possible] = lookup(three, SOUTH, family_name="Harrowgate").json["matches"]
    assert possible["area"] is None
    sent = three.post(
        SOUTH,
        "/flags/verifications",
        {
            "ref": possible["ref"],
            "person": person(family_name="Harrowgate"),
            "note": "Moved here in May; is this your case?",
        },
    )
    assert sent.status_code == 202, sent.text
    # The index relayed what it could not read: nothing of it on the hub.
    hub = _database_text(three.hub)
    assert b"Harrowgate" not in hub and b"Moved here" not in hub
    # The holder's coordinator reads who asks, about which flag, and how to answer.
    [item] = three.get(NORTH, "/flags/verifications").json["items"]
    assert item["id"] == sent.json["id"] and item["flag_id"] == made["id"]
    assert item["from_area"] == SOUTH and item["mailbox"] == f"marac@{SOUTH}.example"
    assert item["person"]["family_name"] == "Harrowgate" and item["case_ref"] == "NS-V"
    # At rest on the holder it is sealed.
    assert b"Harrowgate" not in _database_text(three.north)
    # A reference is only good for the area whose lookup it came from, and is not forged.
    assert (
        three.post(
            NORTH, "/flags/verifications", {"ref": possible["ref"], "person": person()}
        ).status_code
        == 404
    )
    forged = possible["ref"][:-4] + ("AAAA" if not possible["ref"].endswith("AAAA") else "BBBB")
    assert (
        three.post(SOUTH, "/flags/verifications", {"ref": forged, "person": person()}).status_code
        == 404
    )
    assert three.get(SOUTH, "/flags/verifications").json["items"] == []


def test_the_holders_answer_comes_back_through_the_index(three: Three) -> None:
    """North holds, south asks, the hub relays both ways on real HTTP: south learns north
    only from a confirmed answer; the hub reads neither the request nor the answer."""
    set_flag(three, NORTH, "NS-A")
    set_flag(three, NORTH, "NS-B", subject(given_names="Ottoline", family_name="Brackwater"))
    ids = []
    for family, given in (("Harrowgate", "Zebedee"), ("Brackwaterly", "Ottoline")):
        found = lookup(three, SOUTH, given_names=given, family_name=family).json["matches"]
        [possible] = [m for m in found if m["kind"] == "possible"]
        body = {"ref": possible["ref"], "person": person(given_names=given, family_name=family)}
        sent = three.post(SOUTH, "/flags/verifications", body)
        assert sent.status_code == 202, sent.text
        ids.append(sent.json["id"])
    confirm, deny = ids
    assert three.post(
        NORTH, f"/flags/verifications/{confirm}/answer", {"answer": "confirmed"}
    ).json == {
        "id": confirm,
        "answer": "confirmed",
    }
    denied = three.post(NORTH, f"/flags/verifications/{deny}/answer", {"answer": "not_a_match"})
    assert denied.status_code == 200, denied.text
    again = three.post(NORTH, f"/flags/verifications/{deny}/answer", {"answer": "confirmed"})
    assert again.status_code == 409
    # South cannot answer north's requests, nor its own.
    assert (
        three.post(
            SOUTH, f"/flags/verifications/{deny}/answer", {"answer": "confirmed"}
        ).status_code
        == 404
    )
    items = {i["id"]: i for i in three.get(SOUTH, "/flags/verifications/sent").json["items"]}
    assert (items[confirm]["answer"], items[confirm]["area"]) == ("confirmed", NORTH)
    assert items[confirm]["mailbox"] == f"marac@{NORTH}.example"
    assert (items[deny]["answer"], items[deny]["area"], items[deny]["mailbox"]) == (
        "not_a_match",
        None,
        None,
    )
    received = {
        i["id"]: i["answer"] for i in three.get(NORTH, "/flags/verifications").json["items"]
    }
    assert received == {confirm: "confirmed", deny: "not_a_match"}
    # The hub relayed sealed answers, once each, keeping neither them nor their words.
    relayed = "SELECT count(*) FROM index_relays WHERE answered_at IS NOT NULL"
    assert three.hub.scalar(relayed) == 2
    hub = _database_text(three.hub)
    assert b"not_a_match" not in hub and b"Ottoline" not in hub
    audited = "SELECT count(*) FROM audit_events WHERE action = 'index.answer_relayed'"
    assert three.hub.scalar(audited) == 2


def test_the_holder_takes_relays_only_from_its_index(three: Three) -> None:
    """South signs a delivery itself, pretending to be the index: refused."""
    from gateway.domain.areas.local_areas import current_secret_keys
    from keys import canonical_json, issue_request_token

    made = set_flag(three, NORTH, "NS-W")
    flag_ref = three.north.scalar("SELECT index_ref FROM flags WHERE id = :id", id=made["id"])
    body = canonical_json(
        {
            "to": NORTH,
            "id": "00000000-0000-4000-8000-000000000001",
            "flag_ref": flag_ref,
            "from_area": SOUTH,
            "sealed": "AAAA",
        }
    )
    url = three.north.url + "/federation/v1/flags/verifications"
    with three.south.node.sessions() as session, session.begin():
        keys = current_secret_keys(session, three.south.node.master, SOUTH, utcnow())
    token = issue_request_token(keys, audience=NORTH, method="POST", url=url, body=body)
    answer = three.north.app.test_client().post(
        "/federation/v1/flags/verifications",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 409 and three.north.count("flag_verifications") == 0


def test_the_asker_takes_answers_only_from_its_index(three: Three) -> None:
    """North signs an answer delivery itself, pretending to be the index: refused."""
    from gateway.domain.areas.local_areas import current_secret_keys
    from keys import canonical_json, issue_request_token

    set_flag(three, NORTH, "NS-X")
    [possible] = lookup(three, SOUTH, family_name="Harrowgate").json["matches"]
    body = {"ref": possible["ref"], "person": person(family_name="Harrowgate")}
    request_id = three.post(SOUTH, "/flags/verifications", body).json["id"]
    raw = canonical_json({"to": SOUTH, "in_reply_to": request_id, "sealed": "AAAA"})
    path = "/federation/v1/flags/verifications/answers"
    with three.north.node.sessions() as session, session.begin():
        keys = current_secret_keys(session, three.north.node.master, NORTH, utcnow())
    token = issue_request_token(
        keys, audience=SOUTH, method="POST", url=three.south.url + path, body=raw
    )
    answer = three.south.app.test_client().post(
        path,
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 409
    [item] = three.get(SOUTH, "/flags/verifications/sent").json["items"]
    assert item["answer"] is None


def test_one_node_plays_both_roles_by_default(node_factory: Callable[..., RunningNode]) -> None:
    """The embedded default: no role settings, two areas on one node."""
    node = node_factory("solo")
    node.create_area(NORTH)
    node.create_area("eastmoor")
    north, east = bearer(node, NORTH), bearer(node, "eastmoor")
    client = node.app.test_client()
    made = client.post(
        "/api/v1/flags",
        headers=north,
        json={
            "case_ref": "S-1",
            "reviewed_at": recent(),
            "source": "local",
            "subjects": [subject()],
        },
    )
    assert made.status_code == 201, made.text
    [strong] = client.post("/api/v1/flags/lookups", headers=east, json=person()).json["matches"]
    assert (strong["kind"], strong["area"]) == ("remote", NORTH)
    [weak] = client.post(
        "/api/v1/flags/lookups", headers=east, json=person(family_name="Harrowgate")
    ).json["matches"]
    assert weak["kind"] == "possible" and weak["area"] is None
    sent = client.post(
        "/api/v1/flags/verifications", headers=east, json={"ref": weak["ref"], "person": person()}
    )
    assert sent.status_code == 202, sent.text
    [item] = client.get("/api/v1/flags/verifications", headers=north).json["items"]
    assert item["from_area"] == "eastmoor" and item["case_ref"] == "S-1"
    [own] = client.post("/api/v1/flags/lookups", headers=north, json=person()).json["matches"]
    assert (own["kind"], own["case_ref"], own["repeat"]) == ("local", "S-1", True)
    actions = {
        row[0]
        for row in node.node.engine.connect().execute(
            text("SELECT action FROM audit_events WHERE area_code = 'eastmoor'")
        )
    }
    assert {"lookup", "linkage.evaluated", "index.matched", "flag.verification_sent"} <= actions
