"""Flag operations: retention purges ended flags, `GET /flags` pages, the index limits
publications per calling area. Real nodes, real HTTP for the federation path, SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.clock import pin_clock
from support.nodes import RunningNode
from test_flags import HUB, NORTH, SOUTH, bearer, person, recent, start_three, subject

from gateway.cli import main
from gateway.domain.clock import utcnow
from gateway.domain.flags import index
from gateway.domain.flags.roles import TOKENS_PATH
from gateway.domain.identity.rate_limits import RateLimit
from keys import b64url_encode, canonical_json, issue_request_token
from schemas.wire.flags import Publication, WireToken

EAST = "eastmoor"


def solo(node_factory: Callable[..., RunningNode], **settings: Any) -> RunningNode:
    """The embedded default: one node, two areas, playing both roles itself."""
    node = node_factory("solo", **settings)
    node.create_area(NORTH)
    node.create_area(EAST)
    return node


def flag(node: RunningNode, headers: dict[str, str], case_ref: str, **body: Any) -> Any:
    made = node.app.test_client().post(
        "/api/v1/flags",
        headers=headers,
        json={
            "case_ref": case_ref,
            "reviewed_at": body.get("reviewed_at", recent()),
            "source": "local",
            "subjects": body.get("subjects", [subject()]),
        },
    )
    assert made.status_code == 201, made.text
    return made.json


def raw_files(node: RunningNode) -> bytes:
    url = node.settings.database_url
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


# --- retention --------------------------------------------------------------------------------


def test_retention_purges_ended_flags_and_their_tokens(
    node_factory: Callable[..., RunningNode],
) -> None:
    node = solo(node_factory)
    north, east = bearer(node, NORTH), bearer(node, EAST)
    client = node.app.test_client()
    two_years_ago = utcnow() - timedelta(days=730)
    old = flag(node, north, "OLD-EXPIRED", reviewed_at="2023-01-10")  # expired 2024-01-10
    cleared = flag(node, north, "CLEARED")
    other = [subject(given_names="Ottilie", family_name="Brackwater", date_of_birth="1990-05-05")]
    live = flag(node, north, "LIVE", subjects=other)
    # Expired a few weeks ago: its retention period has not run since it ended.
    ended = (utcnow().date() - timedelta(days=400)).isoformat()
    recent_end = flag(node, north, "RECENT-END", reviewed_at=ended, subjects=other)
    assert (old["status"], recent_end["status"]) == ("expired", "expired")

    # Another area asks the holder of the cleared flag about a person: a sealed request.
    [weak] = client.post(
        "/api/v1/flags/lookups", headers=east, json=person(family_name="Harrowgate")
    ).json["matches"]
    assert weak["kind"] == "possible"
    sent = client.post(
        "/api/v1/flags/verifications", headers=east, json={"ref": weak["ref"], "person": person()}
    )
    assert sent.status_code == 202, sent.text
    assert node.count("flag_verifications") == 1
    today = utcnow().date().isoformat()
    done = client.post(
        f"/api/v1/flags/{cleared['id']}/reviews",
        headers=north,
        json={"reviewed_at": today, "outcome": "clear"},
    )
    assert done.status_code == 200 and done.json["status"] == "cleared"
    # An index token the index still holds for the expired flag (a clear it never heard):
    # the purge takes it too.
    old_ref = node.scalar("SELECT index_ref FROM flags WHERE id = :id", id=old["id"])
    lingering = Publication(
        to=NORTH,
        action="set",
        ref=old_ref,
        expires_at=utcnow().date() + timedelta(days=30),
        tokens=(WireToken(kind="strong", token=b64url_encode(bytes(range(32)))),),
    )
    with node.node.sessions() as session:
        index.publish(
            session,
            node.node.master,
            NORTH,
            NORTH,
            lingering,
            RateLimit.parse("9/minute"),
            utcnow(),
        )
    assert node.scalar("SELECT count(*) FROM index_tokens WHERE ref = :r", r=old_ref) == 1

    gone = [old["id"], cleared["id"]]
    kept = [live["id"], recent_end["id"]]
    sealed = {
        fid: (
            node.scalar("SELECT subjects_sealed FROM flags WHERE id = :id", id=fid),
            node.scalar("SELECT verify_secret_sealed FROM flags WHERE id = :id", id=fid),
        )
        for fid in gone
    }
    request_blob = node.scalar("SELECT sealed FROM flag_verifications")
    assert all(len(bytes(blob)) > 32 for pair in sealed.values() for blob in pair)
    with node.node.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE flags SET updated_at = :t"), {"t": two_years_ago})

    runner = CliRunner(env=node.env)
    dry = runner.invoke(main, ["retention", "purge", "--area", NORTH, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would purge" in dry.output and "2 flag(s)" in dry.output
    assert node.scalar("SELECT count(*) FROM flags WHERE purged_at IS NOT NULL") == 0
    assert node.scalar("SELECT count(*) FROM flags WHERE subjects_sealed IS NULL") == 0

    done_cli = runner.invoke(main, ["retention", "purge", "--area", NORTH])
    assert done_cli.exit_code == 0, done_cli.output
    assert "purged" in done_cli.output and "2 flag(s)" in done_cli.output

    for fid in gone:
        row = _flag(node, fid)
        assert row["purged_at"] is not None and row["case_ref"] is None
        assert row["subjects_sealed"] is None and row["verify_secret_sealed"] is None
        assert row["status"] in ("expired", "cleared") and row["expires_at"] is not None
        assert node.scalar("SELECT count(*) FROM flag_tokens WHERE flag_id = :f", f=fid) == 0
    assert node.scalar("SELECT count(*) FROM index_tokens WHERE ref = :r", r=old_ref) == 0
    assert node.count("flag_verifications") == 0
    for fid in kept:
        row = _flag(node, fid)
        assert row["purged_at"] is None and row["subjects_sealed"] is not None
        assert node.scalar("SELECT count(*) FROM flag_tokens WHERE flag_id = :f", f=fid) > 0

    # The audit counts it; the leaf holds counts only.
    leaf = json.loads(
        node.scalar(
            "SELECT leaf FROM audit_events WHERE area_code = :a AND action = 'retention.purged'",
            a=NORTH,
        )
    )
    assert '"flags":2' in json.dumps(leaf, separators=(",", ":"))
    # Purged flags no longer list, match, or take reviews; the case reference is free again.
    listed = client.get("/api/v1/flags", headers=north).json["items"]
    assert {f["id"] for f in listed} == set(kept)
    own = client.post("/api/v1/flags/lookups", headers=north, json=person()).json["matches"]
    assert {m["case_ref"] for m in own} <= {"LIVE", "RECENT-END"}
    refused = client.post(
        f"/api/v1/flags/{old['id']}/reviews", headers=north, json={"reviewed_at": today}
    )
    assert refused.status_code == 409
    flag(node, north, "OLD-EXPIRED")
    # A second pass finds nothing more.
    again = runner.invoke(main, ["retention", "purge", "--area", NORTH, "--dry-run"])
    assert "0 flag(s)" in again.output

    if node.settings.database_url.startswith("sqlite"):
        files = raw_files(node)
        for blob in (*[b for pair in sealed.values() for b in pair], request_blob):
            assert bytes(blob) not in files
            assert bytes(blob)[8:40] not in files  # not even a fragment


def _flag(node: RunningNode, fid: str) -> dict[str, Any]:
    with node.node.engine.connect() as connection:
        from sqlalchemy import text

        found = connection.execute(text("SELECT * FROM flags WHERE id = :id"), {"id": fid})
        return dict(found.mappings().one())


# --- paging -----------------------------------------------------------------------------------


def test_flags_page_through_with_an_opaque_cursor(
    node_factory: Callable[..., RunningNode],
) -> None:
    node = solo(node_factory)
    north = bearer(node, NORTH)
    client = node.app.test_client()
    base = utcnow().date()
    # Two share a review date (the id breaks the tie), the others spread out.
    days = (10, 40, 40, 90, 200)
    made = [
        flag(
            node,
            north,
            f"P-{n}",
            reviewed_at=(base - timedelta(days=d)).isoformat(),
            subjects=[subject(given_names=f"Page{n}")],
        )
        for n, d in enumerate(days)
    ]
    expected = [f["id"] for f in sorted(made, key=lambda f: (f["expires_at"], f["id"]))]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "/api/v1/flags?limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(query, headers=north)
        assert answer.status_code == 200, answer.text
        assert set(answer.json) == {"items", "next"}
        assert len(answer.json["items"]) <= 2
        seen += [item["id"] for item in answer.json["items"]]
        pages += 1
        cursor = answer.json["next"]
        if cursor is None:
            break
        assert "P-" not in cursor and made[0]["id"] not in cursor  # opaque, not an id
    assert seen == expected and pages == 3
    # Default page holds them all; filters still apply with a cursor.
    whole = client.get("/api/v1/flags", headers=north).json
    assert [i["id"] for i in whole["items"]] == expected and whole["next"] is None
    first = client.get("/api/v1/flags?status=active&limit=1", headers=north).json
    rest = client.get(f"/api/v1/flags?status=active&cursor={first['next']}", headers=north).json
    assert [i["id"] for i in first["items"] + rest["items"]] == expected

    for bad, name in (("limit=0", "limit"), ("limit=201", "limit"), ("cursor=nonsense", "cursor")):
        refused = client.get(f"/api/v1/flags?{bad}", headers=north)
        assert refused.status_code == 422, bad
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert name in refused.json["errors"] and "nonsense" not in refused.text


# --- publication rate limit -------------------------------------------------------------------


def _publish(three: Any, area: str, node: RunningNode, ref: str) -> Any:
    body = canonical_json(
        {"to": HUB, "action": "clear", "ref": ref, "expires_at": None, "tokens": []}
    )
    url = three.hub.url + TOKENS_PATH
    from gateway.domain.areas.local_areas import current_secret_keys

    with node.node.sessions() as session, session.begin():
        keys = current_secret_keys(session, node.node.master, area, utcnow())
    token = issue_request_token(keys, audience=HUB, method="POST", url=url, body=body)
    return three.hub.app.test_client().post(
        TOKENS_PATH,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_index_limits_publications_per_calling_area(
    node_factory: Callable[..., RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    three = start_three(node_factory, hub={"GATEWAY_LINKAGE_RATE_LIMIT": "3/hour"})
    pin_clock(monkeypatch)  # every publication in one hour's window
    refs = [b64url_encode(bytes([n]) * 32) for n in range(4)]
    for ref in refs[:3]:
        assert _publish(three, NORTH, three.north, ref).status_code == 204
    refused = _publish(three, NORTH, three.north, refs[3])
    assert refused.status_code == 429, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1 and refused.json["status"] == 429
    # Another area has its own allowance, and lookups their own counter.
    assert _publish(three, SOUTH, three.south, refs[3]).status_code == 204
    published = three.hub.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'index.published'"
    )
    assert published == 4
    # A flag set while north is limited: the evaluation still runs, the publication is
    # refused, the flag stays marked for the worker to retry and the index holds nothing.
    made = three.post(
        NORTH,
        "/flags",
        {"case_ref": "RL-1", "reviewed_at": recent(), "source": "local", "subjects": [subject()]},
    )
    assert made.status_code == 201, made.text
    assert three.north.scalar("SELECT index_dirty FROM flags WHERE id = :id", id=made.json["id"])
    assert three.hub.count("index_tokens") == 0
    assert three.post(SOUTH, "/flags/lookups", person()).json["matches"] == []
