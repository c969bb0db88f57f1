"""Server time of the inbound case page (GET /cases/<id>) with many transfers in the area,
against a bare Flask app rendering the same template with the same context, in the same
run (DESIGN section 9: figures with a baseline measured alongside).

Two nodes in this process on loopback (SQLite files in a temp directory): the peer seals a
real transfer and delivers it over HTTP; the receiving area is then filled to
`--transfers` with copies of that transfer's rows (transfer, stored envelope, timeline
step) under new ids, so the tables the page's queries touch are the size they would be.
Only the real transfer is opened. A coordinator signs in through the real login pages;
each request goes through the whole app (guard, session, domain services, audit of the
content opened, template) via the Flask test client: server time, no network.

    .venv/bin/python bench/case_page.py [--transfers 10000] [--requests 200]

Prints JSON lines: the machine, then one line per measured page with p50/p95/mean in ms,
then a summary with the ratio (case page p95 / bare p95) and whether p95 is under 100 ms.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import emit, environment, note, percentile, r
from flask import Flask, render_template, template_rendered
from sqlalchemy import text
from werkzeug.serving import make_server

from adapters.db import make_engine, upgrade
from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, sending
from gateway.node import Node, build_node
from gateway.web.ui import ui
from gateway.web.ui.cases import cases
from gateway.web.ui.layout import install_layout
from gateway.worker import run_worker
from keys import MasterKey, fingerprint, totp_code

AREA, PEER = "northshire", "south-vale"
PASSWORD = "Correct horse battery 42"  # noqa: S105 - the bench user on a temp node
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GOAL_MS = 100.0


class Running:
    def __init__(self, home: Path, name: str) -> None:
        home.mkdir(parents=True)
        settings = Settings.from_env(
            {
                "GATEWAY_INSTANCE_DIR": str(home),
                "GATEWAY_DATABASE_URL": f"sqlite:///{home / 'gateway.db'}",
                "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
                "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
                "GATEWAY_DELIVERY_BACKOFF": "0.05",
            }
        )
        MasterKey.create_file(settings.master_key_file)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        engine.dispose()
        self.node: Node = build_node(settings)
        self.app = create_app(settings, self.node)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.name = name

    def area(self, code: str) -> dict[str, Any]:
        with self.node.sessions() as db:
            local_areas.create_area(
                db,
                self.node.master,
                code=code,
                name=f"{code.title()} MARAC",
                url=self.url,
                mailbox=f"marac@{code}.example",
                now=utcnow(),
            )
        with self.node.sessions() as db, db.begin():
            return local_areas.export_bundle(db, self.node.master, code, utcnow())

    def pin(self, bundle: dict[str, Any]) -> None:
        with self.node.sessions() as db:
            peers.import_peer(db, bundle, fingerprint(bundle["body"]), utcnow())

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.node.close()


def fill(north: Running, transfer_id: str, total: int) -> None:
    """Copies of the real transfer's rows under new ids until the area holds `total`."""
    copies = max(0, total - 1)
    with north.node.engine.begin() as connection:
        row = (
            connection.execute(text("SELECT * FROM transfers WHERE id = :id"), {"id": transfer_id})
            .mappings()
            .one()
        )
        envelope = (
            connection.execute(
                text("SELECT * FROM envelopes WHERE envelope_id = :e AND area_code = :a"),
                {"e": row["envelope_id"], "a": AREA},
            )
            .mappings()
            .one()
        )
        event = (
            connection.execute(
                text("SELECT * FROM transfer_events WHERE transfer_id = :id"), {"id": transfer_id}
            )
            .mappings()
            .first()
        )
        for start in range(0, copies, 1000):
            batch = range(start, min(copies, start + 1000))
            ids = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in batch]
            connection.execute(
                text(_insert("transfers", row)),
                [{**row, "id": new, "envelope_id": env} for new, env in ids],
            )
            connection.execute(
                text(_insert("envelopes", envelope, frozenset({"pk"}))),
                [{**envelope, "envelope_id": env} for _new, env in ids],
            )
            if event is not None:
                connection.execute(
                    text(_insert("transfer_events", event, frozenset({"id"}))),
                    [{**event, "transfer_id": new} for new, _env in ids],
                )


def _insert(table: str, row: Any, omit: frozenset[str] = frozenset()) -> str:
    """An INSERT of the row's columns but `omit` (keys the database assigns)."""
    columns = [c for c in row if c not in omit]
    names, values = ", ".join(columns), ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608 - our own columns


def sign_in(north: Running) -> Any:
    with north.node.sessions() as db:
        grant = users.add_user_role(
            db,
            north.node.master,
            email="coord@northshire.example",
            area=AREA,
            role="coordinator",
            password=PASSWORD,
            now=utcnow(),
        )
    assert grant.enrolment is not None
    browser = north.app.test_client()
    page = browser.get("/login")
    browser.post(
        "/login",
        data={
            "email": "coord@northshire.example",
            "password": PASSWORD,
            "csrf_token": CSRF.search(page.text)[1],  # type: ignore[index]
        },
    )
    page = browser.get("/login/enrol")
    done = browser.post(
        "/login/enrol",
        data={
            "code": totp_code(grant.enrolment.totp_secret, utcnow()),
            "csrf_token": CSRF.search(page.text)[1],  # type: ignore[index]
        },
    )
    assert done.status_code == 303
    return browser


def timed(call: Any, count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        answer = call()
        found.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200
    return found


def stats(name: str, values: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "page": name,
        "requests": len(values),
        "p50_ms": r(percentile(values, 50)),
        "p95_ms": r(percentile(values, 95)),
        "mean_ms": r(sum(values) / len(values)),
        **extra,
    }


def bare_app(context: dict[str, Any]) -> Flask:
    """The same templates and macros, the same context; no guard, session or database."""
    app = Flask("bare", static_folder=str(Path(cases.root_path).parent / "static"))
    install_layout(app)
    app.register_blueprint(ui)
    app.register_blueprint(cases)

    @app.get("/bare")
    def bare() -> str:
        return render_template("cases/case.html", **context)

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    emit({"kind": "machine", **environment()})
    with tempfile.TemporaryDirectory(prefix="case-page-bench-") as work:
        north, south = (
            Running(Path(work) / "north", "north"),
            Running(Path(work) / "south", "south"),
        )
        try:
            south.pin(north.area(AREA))
            north.pin(south.area(PEER))
            with south.node.sessions() as db:
                sending.send(
                    db,
                    south.node.master,
                    Principal.operator(),
                    sending.addressed(sample_transfer(PEER, AREA), PEER, AREA),
                    utcnow(),
                )
            assert run_worker(south.node, once=True) == 1
            with north.node.sessions() as db:
                real = reading.list_transfers(db, AREA)[0].id
            note(f"filling {AREA} to {args.transfers} transfers")
            fill(north, real, args.transfers)
            browser = sign_in(north)
            captured: dict[str, Any] = {}

            def keep(_app: Any, template: Any, context: dict[str, Any], **_: Any) -> None:
                if template.name == "cases/case.html":
                    captured.update(context)

            template_rendered.connect(keep, north.app)
            page = lambda: browser.get(f"/cases/{real}")  # noqa: E731
            timed(page, args.warmup)
            template_rendered.disconnect(keep, north.app)
            bare = bare_app(dict(captured)).test_client()
            plain = lambda: bare.get("/bare")  # noqa: E731
            timed(plain, args.warmup)
            # Interleaved rounds so load on the machine falls on both alike.
            case_times: list[float] = []
            bare_times: list[float] = []
            for _ in range(10):
                case_times += timed(page, args.requests // 10)
                bare_times += timed(plain, args.requests // 10)
            case_line = stats("inbound case", case_times, transfers=args.transfers)
            bare_line = stats("bare Flask, same template and context", bare_times)
            emit(case_line)
            emit(bare_line)
            emit(
                {
                    "kind": "summary",
                    "ratio_p95": r(case_line["p95_ms"] / bare_line["p95_ms"], 2),
                    "goal_p95_ms": GOAL_MS,
                    "goal_met": case_line["p95_ms"] < GOAL_MS,
                }
            )
        finally:
            north.stop()
            south.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
