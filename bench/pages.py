"""Server time of the coordinator pages with many transfers in the area (SQLite).

Two real nodes in this process (werkzeug on loopback, the real app): South Vale sends
Northshire one real transfer, delivered over HTTP by the worker; Northshire's area then
gets --transfers metadata rows in all directions and states (what a busy area accumulates;
the list pages read metadata only). A coordinator signs in through the real pages.

    transfers  GET /transfers, the first page of the area's transfers
    case       GET /cases/<id>, the inbound case page (content opened, audited)
    home       GET /, "Your work": the area's counts
    baseline   the same template rendered with the same context by Flask alone (captured
               from the real request), in the same run: what the page costs beyond
               drawing it (authentication, the session, the database, the audit)

Server time is measured in process around the WSGI call (Flask's test client), so no
socket or client time is in it. Prints one JSON object per line; the goal is p95 under
100 ms for both pages at 10,000 transfers.
Run: .venv/bin/python bench/pages.py [--transfers 10000] [--count 200]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import render_template, template_rendered
from sqlalchemy import insert
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

from adapters.db import make_engine, upgrade
from adapters.db.models import Transfer
from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, sending
from gateway.node import build_node
from gateway.worker import run_worker
from keys import MasterKey, fingerprint, totp_code

NORTH, SOUTH = "northshire", "south-vale"
PASSWORD = "bench password, not real"  # noqa: S105
STATES = ("received", "acknowledged", "queued", "delivered", "redirected", "failed")


def start(home: Path, name: str) -> tuple[Any, str, Any]:
    home.mkdir(parents=True)
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(home),
            "GATEWAY_DATABASE_URL": f"sqlite:///{home / 'gateway.db'}",
            "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
            "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        }
    )
    MasterKey.create_file(settings.master_key_file)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    node = build_node(settings)
    app = create_app(settings, node)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    with node.sessions() as db:
        local_areas.create_area(
            db, node.master, code=name, name=name.title(), url=url,
            mailbox=f"marac@{name}.example", now=utcnow(),
        )  # fmt: skip
    return node, url, app


def bundle(node: Any, code: str) -> dict[str, Any]:
    with node.sessions() as db, db.begin():
        return local_areas.export_bundle(db, node.master, code, utcnow())


def fill(node: Any, count: int) -> None:
    now = utcnow()
    rows = [
        {
            "id": str(uuid.uuid4()),
            "envelope_id": str(uuid.uuid4()),
            "area_code": NORTH,
            "peer_area": SOUTH,
            "direction": "inbound" if i % 2 else "outbound",
            "status": STATES[i % len(STATES)] if i % 2 else STATES[2 + i % 4],
            "failure_reason": None,
            "created_at": now - timedelta(minutes=i + 5),
            "updated_at": now - timedelta(minutes=i + 5),
            "delivered_at": None,
            "purged_at": None,
        }
        for i in range(count)
    ]
    with node.engine.begin() as connection:
        for start_at in range(0, count, 2000):
            connection.execute(insert(Transfer), rows[start_at : start_at + 2000])


def signed_in(node: Any, app: Any) -> Any:
    with node.sessions() as db:
        grant = users.add_user_role(
            db, node.master, email="coord@northshire.example", area=NORTH,
            role="coordinator", password=PASSWORD, now=utcnow(),
        )  # fmt: skip
    assert grant.enrolment is not None
    browser = app.test_client()
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    page = browser.get("/login")
    browser.post("/login", data={"email": "coord@northshire.example", "password": PASSWORD,
                                 "csrf_token": token.findall(page.text)[0]})  # fmt: skip
    page = browser.get("/login/enrol")
    code = totp_code(grant.enrolment.totp_secret, utcnow())
    done = browser.post(
        "/login/enrol", data={"code": code, "csrf_token": token.findall(page.text)[0]}
    )
    assert done.status_code == 303, done.text
    return browser


def timed(browser: Any, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        answer = browser.get(path)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return times


def rendering(app: Any, browser: Any, path: str, count: int) -> list[float]:
    """The same template and context as the real page, drawn by Flask alone."""
    captured: list[tuple[Any, dict[str, Any]]] = []

    def keep(sender: Any, template: Any, context: dict[str, Any], **_: Any) -> None:
        captured.append((template.name, dict(context)))

    with template_rendered.connected_to(keep, app):
        browser.get(path)
    name, context = captured[-1]
    times = []
    with app.test_request_context(path):
        for key in ("g", "request", "session", "config", "url_for", "get_flashed_messages"):
            context.pop(key, None)
        for _ in range(count):
            began = time.perf_counter()
            render_template(name, **context)
            times.append((time.perf_counter() - began) * 1000)
    return times


def summary(label: str, times: list[float], transfers: int) -> dict[str, Any]:
    return {
        "kind": label,
        "transfers": transfers,
        "count": len(times),
        "p50_ms": r(percentile(times, 50), 2),
        "p95_ms": r(percentile(times, 95), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    emit({"kind": "environment", **environment()})
    with tempfile.TemporaryDirectory() as scratch:
        north, _, app = start(Path(scratch) / "north", NORTH)
        south, _, _ = start(Path(scratch) / "south", SOUTH)
        for here, there, code in ((north, south, SOUTH), (south, north, NORTH)):
            body = bundle(there, code)
            with here.sessions() as db:
                peers.import_peer(db, body, fingerprint(body["body"]), utcnow())
        request = sending.addressed(sample_transfer(SOUTH, NORTH), SOUTH, NORTH)
        with south.sessions() as db:
            sending.send(db, south.master, Principal.operator(), request, utcnow())
        run_worker(south, once=True)
        with north.sessions() as db:
            case = reading.list_transfers(db, NORTH)[0].id
        note(f"filling {args.transfers} transfers")
        fill(north, args.transfers)
        browser = signed_in(north, app)
        results = []
        pages = (("transfers", "/transfers"), ("case", f"/cases/{case}"), ("home", "/"))
        for label, path in pages:
            timed(browser, path, 10)  # warm-up
            page = summary(label, timed(browser, path, args.count), args.transfers)
            bare = summary(label + "_baseline", rendering(app, browser, path, args.count),
                           args.transfers)  # fmt: skip
            page["ratio_p50"] = r(page["p50_ms"] / bare["p50_ms"], 2)
            page["goal_met"] = page["p95_ms"] < 100
            emit(page)
            emit(bare)
            results.append(page)
        emit({"kind": "summary", "goal_met": all(p["goal_met"] for p in results)})
        north.close()
        south.close()


if __name__ == "__main__":
    main()
