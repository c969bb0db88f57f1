"""Server time of the coordinator pages with many transfers in the area (not a test).

One node in this process on a temp SQLite file (and, with GATEWAY_BENCH_DATABASE_URL or
GATEWAY_TEST_DATABASE_URL, a fresh PostgreSQL database too), `--transfers` transfer rows
(metadata only, as the list reads them: both directions, every state, arrivals spread
over a year) in one area, a coordinator signed in through the real pages. Each page is
requested `--rounds` times through the Flask test client (the whole request: guard,
session, domain queries, template), interleaved with the baseline: the same app serving
`work/transfers.html` rendered from rows computed once (guard, session and layout
included, no domain call), so the ratio is what the domain's queries add. p50 and p95 in
ms per page; the goal (issue) is p95 under 100 ms for the transfers page.
"""

from __future__ import annotations

import argparse
import re
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import emit, environment, note, percentile, r
from sqlalchemy import create_engine, text

from adapters.db import make_engine, upgrade
from adapters.db.models import Transfer
from adapters.db.session import normalise_url
from gateway.app import create_app
from gateway.config import Settings
from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity import users
from gateway.domain.identity.principals import COORDINATOR
from gateway.domain.transfers import states
from gateway.node import build_node
from gateway.web.guard import requires
from gateway.web.ui import work
from gateway.web.ui.pages import render
from keys import MasterKey, totp_code

AREA, PEER = "northshire", "south-vale"
PASSWORD = secrets.token_urlsafe(18)  # a fresh one each run
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = {
    "home": "/",
    "transfers": "/transfers",
    "transfers_inbound_overdue": "/transfers?direction=inbound&overdue=yes",
    "transfers_status": "/transfers?status=acknowledged",
}
MIX = (
    (states.INBOUND, states.RECEIVED),
    (states.INBOUND, states.ACKNOWLEDGED),
    (states.INBOUND, states.REDIRECTED),
    (states.OUTBOUND, states.DELIVERED),
    (states.OUTBOUND, states.ACKNOWLEDGED),
    (states.OUTBOUND, states.QUEUED),
    (states.OUTBOUND, states.WITHDRAWN),
    (states.OUTBOUND, states.AWAITING_APPROVAL),
    (states.OUTBOUND, states.DRAFT),
    (states.OUTBOUND, states.FAILED),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    emit({"kind": "machine", **environment()})
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.db", Path(tmp), args)
    admin = _admin_url()
    if admin:
        name = f"marac_bench_{secrets.token_hex(4)}"
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                url = admin.rsplit("/", 1)[0] + "/" + name
                run("postgresql", url, Path(tmp), args)
        finally:
            with engine.connect() as c:
                c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            engine.dispose()


def _admin_url() -> str | None:
    import os

    found = os.environ.get("GATEWAY_BENCH_DATABASE_URL") or os.environ.get(
        "GATEWAY_TEST_DATABASE_URL"
    )
    return normalise_url(found) if found else None


def run(backend: str, url: str, home: Path, args: argparse.Namespace) -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_INSTANCE_DIR": str(home),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
            "GATEWAY_SECRET_KEY": secrets.token_hex(32),
            "GATEWAY_BASE_URL": "http://127.0.0.1:5000",
        }
    )
    MasterKey.create_file(settings.master_key_file)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    node = build_node(settings)
    app = create_app(settings, node)
    for code in (AREA, PEER):
        with node.sessions() as db:
            local_areas.create_area(
                db,
                node.master,
                code=code,
                name=f"{code.title()} MARAC",
                url=settings.base_url,
                mailbox=f"marac@{code}.example",
                now=utcnow(),
            )
    note(f"[{backend}] loading {args.transfers} transfers")
    load(node, args.transfers)
    baseline_rows = baseline_route(app)
    browser = sign_in(app, node)
    note(f"[{backend}] timing {len(PAGES)} pages x {args.rounds} rounds")
    timings: dict[str, list[float]] = {name: [] for name in [*PAGES, "baseline"]}
    for _ in range(3):  # warm up every page once
        for path in [*PAGES.values(), "/bench-baseline"]:
            assert browser.get(path).status_code == 200, path
    for _ in range(args.rounds):
        for name, path in [*PAGES.items(), ("baseline", "/bench-baseline")]:
            started = time.perf_counter()
            answer = browser.get(path)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
    base_p50 = percentile(timings["baseline"], 50)
    for name, values in timings.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        record: dict[str, Any] = {
            "kind": "page",
            "backend": backend,
            "page": name,
            "transfers": args.transfers,
            "rounds": args.rounds,
            "p50_ms": r(p50),
            "p95_ms": r(p95),
            "ratio_p50": r(p50 / base_p50, 2),
        }
        if name.startswith("transfers"):
            record["goal_met"] = p95 < 100.0
        emit(record)
    note(f"[{backend}] baseline rows: {baseline_rows}")
    node.close()


def load(node: Any, count: int) -> None:
    now = utcnow()
    rows = []
    for n in range(count):
        direction, status = MIX[n % len(MIX)]
        made = now - timedelta(minutes=53 * n % (365 * 24 * 60))
        delivered = made + timedelta(minutes=1) if status not in ("draft", "queued") else None
        rows.append(
            Transfer(
                id=str(uuid.uuid4()),
                envelope_id=str(uuid.uuid4()),
                area_code=AREA,
                peer_area=PEER,
                direction=direction,
                status=status,
                failure_reason=None,
                created_at=made,
                updated_at=made,
                delivered_at=delivered,
                purged_at=None,
                listed_for=(made + timedelta(days=7)).date() if status == "acknowledged" else None,
            )
        )
    with node.sessions() as db, db.begin():
        db.add_all(rows)


def sign_in(app: Any, node: Any) -> Any:
    with node.sessions() as db:
        grant = users.add_user_role(
            db,
            node.master,
            email="bench@northshire.example",
            area=AREA,
            role=COORDINATOR,
            password=PASSWORD,
            now=utcnow(),
        )
    assert grant.enrolment is not None
    browser = app.test_client()
    page = browser.get("/login")
    done = browser.post(
        "/login",
        data={
            "email": "bench@northshire.example",
            "password": PASSWORD,
            "csrf_token": CSRF.search(page.text)[1],
        },
    )
    page = browser.get(done.headers["Location"])
    code = totp_code(grant.enrolment.totp_secret, datetime.now(UTC))
    done = browser.post(
        "/login/enrol", data={"code": code, "csrf_token": CSRF.search(page.text)[1]}
    )
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == "/"
    return browser


def baseline_route(app: Any) -> int:
    """The same template, rendered from rows computed once, behind the same guard."""
    with app.test_request_context():
        sample = [
            {
                "id": str(uuid.uuid4()),
                "reference": "ABCDEF12",
                "draft": False,
                "direction": "Received",
                "other_area": "South-Vale MARAC",
                "status": {"text": "To acknowledge", "classes": "govuk-tag--blue"},
                "overdue": n % 3 == 0,
                "when": "3 December 2026",
                "due": "7 December 2026",
                "listed_for": "",
            }
            for n in range(work.PAGE_SIZE)
        ]

    @requires(roles=[COORDINATOR])
    def bench_baseline() -> Any:
        return render(
            "work/transfers.html",
            filters={},
            page=object(),
            rows=sample,
            next_url="/transfers?cursor=x",
            first_url=None,
            filter_questions=work.FILTER_QUESTIONS,
        )

    app.add_url_rule("/bench-baseline", "bench_baseline", bench_baseline)
    return len(sample)


if __name__ == "__main__":
    main()
