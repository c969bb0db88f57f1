"""Flag lookups end to end with 1,000,000 active tokens in the flag index, on PostgreSQL.

One node on a fresh PostgreSQL database plays both roles (the embedded default), with two
areas: `bench-a` holds a real flag (set through the API), `bench-b` looks people up. The
index is filled with --tokens random active tokens of 250 other areas by COPY, then:

    publish  index.publish (the service behind POST /federation/v1/flags/tokens, after
             authentication) for --publish flags of 20 tokens each: publications/s and
             tokens/s, in process.
    match    index.match in process, with as many tokens as a lookup of one person sends
             (this release's token spaces; baseline in the same run: space v1 alone, as
             before): the indexed equality query and its audit leaf, p50/p99.
    derive   PERSON's tokens blinded (an authority elsewhere; crypto only) and in process
             (this node plays the authority), p50/p99.
    lookup   POST /api/v1/flags/lookups through gunicorn (`marac-gateway serve`, 2
             workers): bearer token check, rate limit, the tokens (this node plays the
             linkage authority: rate limit, audit, derived in process), local match, index
             match, audit: p50/p99 over --count sequential requests, half of them strong matches.
    baseline bench/bare_app.py under gunicorn with the same options, a POST of the same
             size, --count times, in the same run.

Prints one JSON object per line. Needs GATEWAY_BENCH_DATABASE_URL (an admin URL, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test); a database is created and dropped.
Run: .venv/bin/python bench/flags.py
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, note, percentile, r

from adapters.db import make_engine, upgrade
from adapters.db.session import normalise_url
from gateway.config import Settings
from gateway.devtools.demo import free_port
from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.flags import index
from gateway.domain.identity import clients
from gateway.domain.identity.rate_limits import RateLimit
from gateway.domain.linkage import Subject, derive_tokens, linkage_inputs
from gateway.node import build_node
from gateway.serve import gunicorn_options
from keys import MasterKey, b64url_encode
from keys.oprf import OprfKey, evaluate_direct
from keys.oprf import evaluate as oprf_evaluate
from schemas.wire.flags import SET, Publication, WireToken

BENCH_DIR = Path(__file__).resolve().parent
PERSON = {"given_names": "Ottilie", "family_name": "Brackenbury", "date_of_birth": "1984-07-09"}
STRANGER = {"given_names": "Nobody", "family_name": "Atall", "date_of_birth": "1970-01-01"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--publish", type=int, default=2000)
    args = parser.parse_args()
    admin = os.environ.get("GATEWAY_BENCH_DATABASE_URL")
    if not admin:
        sys.exit("set GATEWAY_BENCH_DATABASE_URL to a PostgreSQL admin URL")
    admin = normalise_url(admin)
    database = f"marac_bench_flags_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    url = admin.rsplit("/", 1)[0] + "/" + database
    try:
        with tempfile.TemporaryDirectory() as home:
            run(args, url, Path(home))
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        engine.dispose()


def run(args: argparse.Namespace, url: str, home: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_INSTANCE_DIR": str(home),
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
        "GATEWAY_SECRET_KEY": secrets.token_urlsafe(48),
        "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_LOOKUP_RATE_LIMIT": "1000000/minute",
        "GATEWAY_LINKAGE_RATE_LIMIT": "1000000/minute",
    }
    settings = Settings.from_env(env)
    MasterKey.create_file(settings.master_key_file)
    db = make_engine(url)
    upgrade(db)
    db.dispose()
    node = build_node(settings)
    now = utcnow()
    with node.sessions() as session:
        for code in ("bench-a", "bench-b"):
            local_areas.create_area(
                session,
                node.master,
                code=code,
                name=code,
                url=env["GATEWAY_BASE_URL"],
                mailbox=f"marac@{code}.example",
                now=now,
            )
    emit({"bench": "flags", "phase": "setup", **environment(), "tokens": args.tokens})

    started = time.perf_counter()
    fill_index(url, args.tokens)
    loaded = time.perf_counter() - started
    emit(
        {
            "phase": "index_fill",
            "tokens": args.tokens,
            "seconds": r(loaded, 1),
            "note": "COPY, then ANALYZE; not the publish path",
        }
    )

    publish_rate(node, args.publish)
    server = serve(env, port, home)
    try:
        base = env["GATEWAY_BASE_URL"]
        writer = bearer(node, base, "bench-a", "flags:write flags:query")
        reader = bearer(node, base, "bench-b", "flags:query")
        with httpx.Client(timeout=30) as client:
            flag = client.post(
                base + "/api/v1/flags",
                headers=writer,
                json={
                    "case_ref": "B-1",
                    "reviewed_at": (now.date() - timedelta(days=10)).isoformat(),
                    "source": "local",
                    "subjects": [{"role": "victim", **PERSON}],
                },
            )
            if flag.status_code != 201:
                raise RuntimeError(f"flag not set: {flag.status_code} {flag.text}")
            match_latency(node)
            derive_latency()
            lookups(client, base, reader, args.count)
    finally:
        server.terminate()
        server.wait(20)
    node.close()
    baseline(args.count)


def fill_index(url: str, count: int) -> None:
    until = datetime.now(UTC) + timedelta(days=300)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY index_tokens (token, kind, area, ref, expires_at) FROM STDIN"
        ) as copy:
            ref = ""
            for n in range(count):
                if n % 20 == 0:  # ~20 tokens per flag, as a subject makes
                    ref = b64url_encode(secrets.token_bytes(32))
                    area = f"area-{n // 20 % 250:03d}"
                copy.write_row(
                    (secrets.token_bytes(32), "strong" if n % 20 == 0 else "weak", area, ref, until)
                )
        cursor.execute("ANALYZE index_tokens")


def publish_rate(node: Any, flags: int) -> None:
    until = (datetime.now(UTC) + timedelta(days=300)).date()
    publications = [
        Publication(
            to="bench-a",
            action=SET,
            ref=b64url_encode(secrets.token_bytes(32)),
            expires_at=until,
            tokens=tuple(
                WireToken(kind="weak", token=b64url_encode(secrets.token_bytes(32)))
                for _ in range(20)
            ),
        )
        for _ in range(flags)
    ]
    # Room for every publication: the bench measures the write path, counter bump included.
    allowance = RateLimit(len(publications) + 1, timedelta(hours=1))
    with node.sessions() as session:
        started = time.perf_counter()
        for publication in publications:
            index.publish(
                session, node.master, "bench-a", "area-pub", publication, allowance, utcnow()
            )
        took = time.perf_counter() - started
    emit(
        {
            "phase": "publish",
            "publications": flags,
            "per_second": r(flags / took, 1),
            "tokens_per_second": r(flags * 20 / took, 1),
            "note": "index.publish in process: 20 tokens + audit leaf per transaction",
        }
    )


def match_latency(node: Any, rounds: int = 500) -> None:
    """As many tokens as a lookup of PERSON sends under this release's token spaces, and
    (the baseline, interleaved round by round) under space v1 alone, as before."""
    born = date.fromisoformat(PERSON["date_of_birth"])
    person = Subject(PERSON["given_names"], PERSON["family_name"], born)
    counts = {"release": len(linkage_inputs(person)), "v1_only": len(linkage_inputs(person, (1,)))}
    probes = {
        label: [
            WireToken(kind="weak", token=b64url_encode(secrets.token_bytes(32)))
            for _ in range(count)
        ]
        for label, count in counts.items()
    }
    limit = RateLimit.parse("1000000/minute")
    took: dict[str, list[float]] = {label: [] for label in probes}
    with node.sessions() as session:
        for _ in range(rounds):
            for label, probe in probes.items():
                started = time.perf_counter()
                index.match(session, node.master, "bench-b", "bench-b", probe, limit, utcnow())
                took[label].append((time.perf_counter() - started) * 1000)
    for label, samples in took.items():
        emit(
            {
                "phase": "index_match",
                "tokens": label,
                "count": counts[label],
                "rounds": rounds,
                "p50_ms": r(percentile(samples, 50)),
                "p99_ms": r(percentile(samples, 99)),
                "note": "in process, with audit leaf",
            }
        )


def derive_latency(rounds: int = 200) -> None:
    """PERSON's tokens computed the two ways a node can: blinded (an area whose authority is
    another node: blind, the authority's evaluation, unblind; the HTTP round trip not
    included) and in process (this node plays the authority: `authority.derive_in`'s
    arithmetic). Interleaved round by round, crypto only."""
    born = date.fromisoformat(PERSON["date_of_birth"])
    inputs = linkage_inputs(Subject(PERSON["given_names"], PERSON["family_name"], born))
    key = OprfKey.generate()
    took: dict[str, list[float]] = {"blinded": [], "in_process": []}
    for _ in range(rounds):
        started = time.perf_counter()
        derive_tokens(inputs, lambda elements: [oprf_evaluate(key, e) for e in elements])
        took["blinded"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        [evaluate_direct(key, item.data) for item in inputs]
        took["in_process"].append((time.perf_counter() - started) * 1000)
    for label, samples in took.items():
        emit(
            {
                "phase": "derive",
                "path": label,
                "inputs": len(inputs),
                "rounds": rounds,
                "p50_ms": r(percentile(samples, 50)),
                "p99_ms": r(percentile(samples, 99)),
            }
        )


def serve(env: dict[str, str], port: int, home: Path) -> subprocess.Popen[bytes]:
    log = (home / "web.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "marac-gateway"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait(f"http://127.0.0.1:{port}/readyz")
    return process


def wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def bearer(node: Any, base: str, area: str, scopes: str) -> dict[str, str]:
    with node.sessions() as session:
        made, secret = clients.create_client(
            session, node.master, name="bench", area=area, scopes=scopes, now=utcnow()
        )
    answer = httpx.post(
        base + "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(made.id, secret),
    )
    return {"Authorization": "Bearer " + answer.json()["access_token"]}


def lookups(client: httpx.Client, base: str, headers: dict[str, str], count: int) -> None:
    for _ in range(20):  # warm-up
        client.post(base + "/api/v1/flags/lookups", headers=headers, json=PERSON)
    took, strong = [], 0
    for n in range(count):
        body = PERSON if n % 2 == 0 else STRANGER
        started = time.perf_counter()
        answer = client.post(base + "/api/v1/flags/lookups", headers=headers, json=body)
        took.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"lookup failed: {answer.status_code}")
        strong += any(m["kind"] == "remote" for m in answer.json()["matches"])
    emit(
        {
            "phase": "lookup",
            "requests": count,
            "strong_answers": strong,
            "p50_ms": r(percentile(took, 50)),
            "p99_ms": r(percentile(took, 99)),
            "goal_p99_ms": 50,
        }
    )


def baseline(count: int) -> None:
    port = free_port()
    options = gunicorn_options("127.0.0.1", port, 2)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--chdir",
        str(BENCH_DIR),
        "--bind",
        options["bind"],
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "bare_app:app",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/federation/v1/envelopes"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = b'{"given_names":"Ottilie","family_name":"Brackenbury","date_of_birth":"1984-07-09"}'
        took = []
        with httpx.Client() as client:
            for _ in range(20):
                client.post(url, content=body)
            for _ in range(count):
                started = time.perf_counter()
                client.post(url, content=body, headers={"Authorization": "Bearer " + "x" * 600})
                took.append((time.perf_counter() - started) * 1000)
        emit(
            {
                "phase": "baseline_bare_flask",
                "requests": count,
                "p50_ms": r(percentile(took, 50)),
                "p99_ms": r(percentile(took, 99)),
            }
        )
    finally:
        process.terminate()
        process.wait(20)


if __name__ == "__main__":
    note("bench/flags.py: filling the index takes a minute or two")
    main()
