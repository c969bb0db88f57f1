"""`marac-gateway demo`: two real nodes, separate processes, real HTTP on 127.0.0.1.

It runs the very commands an operator would, printing each one, so a newcomer can repeat
any step by hand: create an area on each node, exchange bundles with fingerprint checks,
send a transfer about fictional people, let the worker deliver it, have the receiving
coordinator acknowledge it, and show both sides. Then the shared flags: the north node
plays the linkage authority and the flag index for both, South Vale flags a fictional
victim, and Northshire asks whether that person is known elsewhere.

What it prints is safe to show: commands, area codes, statuses and match kinds; the
fictional names only travel inside request bodies and files it deletes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.devtools.samples import sample_transfer
from keys import totp_code

AREAS = (("northshire", "Northshire MARAC"), ("south-vale", "South Vale MARAC"))

# A fictional victim for the shared-flags steps; these names are never printed.
FLAGGED = {"given_names": "Margaret", "family_name": "Demoperson", "date_of_birth": "1985-03-07"}
# What another area asks about, and what it should find: (what differs, match kind).
LOOKUPS: tuple[tuple[str, dict[str, str], str], ...] = (
    ("exactly the same name and date of birth", {}, "remote"),
    ("a nickname for the first given name", {"given_names": "Peggy"}, "possible"),
    ("day and month of birth swapped", {"date_of_birth": "1985-07-03"}, "possible"),
)
FLAG_SCOPES = "flags:write flags:query"
# The demo's people sign in to the pages with this password and a one-time code the demo
# prints (it holds their authenticator secrets, so nobody needs a phone). Demo only.
DEMO_PASSWORD = "demo only, never in production"  # noqa: S105 - printed on purpose
PAGE_ROLES = ("coordinator", "chair", "auditor", "admin")


@dataclass
class DemoNode:
    code: str
    name: str
    home: Path
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # e.g. where the flag roles are

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            GATEWAY_INSTANCE_DIR=str(self.home),
            GATEWAY_DATABASE_URL=f"sqlite:///{self.home / 'gateway.db'}",
            GATEWAY_MASTER_KEY_FILE=str(self.home / "master.key"),
            GATEWAY_SECRET_KEY=secrets.token_urlsafe(48),
            GATEWAY_BASE_URL=self.url,
            GATEWAY_WORKER_POLL="0.2",
            GATEWAY_DELIVERY_BACKOFF="0.5",
        )
        env.update(self.settings)
        return env

    def run(self, *args: str, show: bool = True, stdin: str | None = None) -> str:
        if show:
            print(f"  [{self.code}] $ marac-gateway {shlex.join(args)}")
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.code}: {' '.join(args[:2])} failed:\n{done.stderr}")
        return done.stdout

    def start(self, *args: str, log_name: str) -> None:
        log = (self.home / log_name).open("wb")
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(node: DemoNode, timeout: float = 90.0) -> None:
    # Generous: gunicorn imports the app in each worker, which takes long on a busy machine.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(node.url + "/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{node.code} did not become ready; see {node.home}/web.log")


def transfer_rows(node: DemoNode) -> list[dict[str, object]]:
    out = node.run("transfer", "list", "--area", node.code, "--json", show=False)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def setup(nodes: tuple[DemoNode, DemoNode]) -> None:
    print("1. Each node creates its schema, its master key and its area's key pairs")
    for node in nodes:
        node.run("db", "upgrade")
        node.run(
            "area",
            "create",
            node.code,
            "--name",
            node.name,
            "--url",
            node.url,
            "--mailbox",
            f"marac@{node.code}.example",
        )
    print("2. The areas swap public bundles and confirm fingerprints (by phone, in real life)")
    for here, there in (nodes, nodes[::-1]):
        bundle = here.run("area", "export", here.code, show=False)
        path = there.home / f"{here.code}.bundle.json"
        path.write_text(bundle, encoding="utf-8")
        body = json.loads(bundle)["body"]
        from keys import fingerprint

        print(f"     {here.code} reads out its fingerprint: {fingerprint(body)}")
        there.run("peer", "import", str(path), "--fingerprint", fingerprint(body))


def send_and_watch(sender: DemoNode, receiver: DemoNode, timeout: float) -> bool:
    print("4. Northshire sends a refuge transfer about fictional people to South Vale")
    request = sender.home / "transfer.json"
    request.write_text(json.dumps(sample_transfer(sender.code, receiver.code), indent=2))
    started = time.monotonic()
    sender.run("transfer", "send", str(request), "--from", sender.code, "--to", receiver.code)
    request.unlink()  # the plaintext request file is not kept around
    status = wait_for_status(sender, ("delivered", "failed"), timeout)
    elapsed = time.monotonic() - started
    print(f"5. Outcome after {elapsed:.2f} s (send to signed receipt, through the worker):")
    show_transfers(sender, receiver)
    show_receipt(sender)
    return status == "delivered"


def wait_for_status(node: DemoNode, wanted: tuple[str, ...], timeout: float) -> str:
    """The status of the node's (only) transfer once it is one of `wanted`, or the last
    status seen when the time is up. Read straight from the database: a CLI call per poll
    would cost an interpreter start each time."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = query_one(node, "SELECT status FROM transfers") or ""
        if status in wanted:
            break
        time.sleep(0.2)
    return status


def query_one(node: DemoNode, sql: str) -> str | None:
    from sqlalchemy import text

    from adapters.db import make_engine

    engine = make_engine(f"sqlite:///{node.home / 'gateway.db'}")
    try:
        with engine.connect() as connection:
            value = connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()
    return None if value is None else str(value)


def show_transfers(*nodes: DemoNode) -> None:
    for node in nodes:
        for row in transfer_rows(node):
            print(
                f"     [{node.code}] transfer {row['id']} {row['direction']:8} "
                f"peer={row['to_area'] if row['direction'] == 'outbound' else row['from_area']}"
                f" status={row['status']}"
            )


def show_receipt(sender: DemoNode) -> None:
    receipt = query_one(sender, "SELECT receipt FROM envelopes WHERE direction='outbound'")
    if receipt:
        body = json.loads(receipt)["body"]
        print("     signed receipt held by northshire:")
        for key in ("envelope_id", "envelope_digest", "from_area", "received_at", "key"):
            print(f"       {key}: {body[key]}")
        if body.get("audit"):
            print(f"       audit: south-vale's log entry {body['audit']['seq']} records it")


def show_audit(sender: DemoNode, receiver: DemoNode) -> None:
    print("6. Both audit logs verify, and South Vale holds Northshire to the log it signed")
    for node in (sender, receiver):
        print("     " + node.run("audit", "verify").strip())
    print("     " + receiver.run("audit", "verify", "--peer", sender.code).strip())


def acknowledge(sender: DemoNode, receiver: DemoNode, timeout: float) -> bool:
    """The receiving coordinator answers; the answer travels back as its own envelope."""
    print("7. South Vale's coordinator accepts the case and lists it for their next meeting")
    email = f"coordinator@{receiver.code}.example"  # made with the demo's people
    inbound = str(transfer_rows(receiver)[0]["id"])
    answer = receiver.home / "acknowledgement.json"
    answer.write_text(json.dumps(acknowledgement_body(), indent=2), encoding="utf-8")
    started = time.monotonic()
    try:
        receiver.run("transfer", "acknowledge", inbound, str(answer), "--coordinator", email)
    finally:
        answer.unlink()  # it names the (fictional) coordinator
    status = wait_for_status(sender, ("acknowledged",), timeout)
    elapsed = time.monotonic() - started
    print(
        f"8. {elapsed:.2f} s later the acknowledgement, sealed and signed, is back with "
        f"{sender.code}:"
    )
    show_transfers(sender, receiver)
    if status != "acknowledged":
        print(f"     it did not arrive within {timeout:.0f} s")
        return False
    return show_timeline(sender)


def acknowledgement_body() -> dict[str, Any]:
    next_week = datetime.now(UTC).date() + timedelta(days=7)
    return {
        "status": "accepted",
        "listed_for": next_week.isoformat(),
        "idva_referred": True,
        "receiving_case_ref": "SV-DEMO-0001",
        "note": "Listed for our next MARAC; the IDVA service has the referral.",
        "acknowledged_by": {"name": "Dee Sample", "role": "MARAC coordinator"},
    }


def show_timeline(node: DemoNode) -> bool:
    """Print the transfer's steps as this node saw them; True when the whole conversation
    (queued, delivered, acknowledged, in that order) is there."""
    outbound = str(transfer_rows(node)[0]["id"])
    out = node.run("transfer", "timeline", outbound, "--json")
    kinds = [json.loads(line)["kind"] for line in out.splitlines() if line.strip()]
    print(f"     {node.code}'s timeline: {' -> '.join(kinds)}")
    remaining = iter(kinds)
    return all(kind in remaining for kind in ("queued", "delivered", "acknowledged"))


def share_flag_roles(player: DemoNode, other: DemoNode) -> None:
    """One node plays the linkage authority and the flag index for both areas; each area's
    bundle is already on the other node, which is what the role needs to trust callers."""
    at = f"{player.code}@{player.url}"
    other.settings.update(GATEWAY_LINKAGE_AUTHORITY=at, GATEWAY_FLAG_INDEX=at)
    print(f"     For shared flags, {player.code}'s node also serves as linkage authority and flag")
    print(f"     index for {other.code}, whose node is started with these two settings:")
    print(f"       GATEWAY_LINKAGE_AUTHORITY={at}")
    print(f"       GATEWAY_FLAG_INDEX={at}")


def api_token(node: DemoNode, scope: str) -> str:
    """A case-management client of the area, as a real system would use the API."""
    made = json.loads(
        node.run("client", "create", "demo-case-system", "--area", node.code, "--scope", scope)
    )
    print(f"  [{node.code}] POST /api/v1/oauth/token (client credentials)")
    answer = httpx.post(
        node.url + "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(made["client_id"], made["client_secret"]),
        timeout=15.0,
    )
    return str(checked_json(node, "/api/v1/oauth/token", answer)["access_token"])


def api_post(node: DemoNode, token: str, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(
        node.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )
    return checked_json(node, path, answer)


def checked_json(node: DemoNode, path: str, answer: httpx.Response) -> Any:
    if not answer.is_success:
        # Problem documents never echo what was sent, so the title and detail are safe.
        problem = answer.json() if "json" in answer.headers.get("content-type", "") else {}
        raise RuntimeError(
            f"{node.code}: POST {path} answered {answer.status_code}: "
            f"{problem.get('title', '')} {problem.get('detail', '')}".strip()
        )
    return answer.json()


def set_flag(holder: DemoNode) -> None:
    print(f"9. {holder.name} flags a case after its meeting: a (fictional) victim is flagged")
    print("   for 12 months. The flag index only ever sees scrambled linkage tokens, not names")
    token = api_token(holder, FLAG_SCOPES)
    reviewed = datetime.now(UTC).date() - timedelta(days=2)
    subject = {"role": "victim", **FLAGGED, "aliases": [], "previous_family_names": []}
    body = {
        "case_ref": "SV-DEMO-0002",
        "reviewed_at": reviewed.isoformat(),
        "source": "local",
        "subjects": [subject],
    }
    print(f"  [{holder.code}] POST /api/v1/flags (the person's details stay off screen)")
    flag = api_post(holder, token, "/api/v1/flags", body)
    print(
        f"     flag {flag['id']} is {flag['status']} until {flag['expires_at']}; "
        f"shared with the flag index: {'yes' if flag['shared'] else 'no'}"
    )


def look_up(asker: DemoNode, holder: DemoNode) -> bool:
    """Every lookup finds what it should; prints only match kinds and area codes."""
    print(f"10. {asker.name} is referred someone and asks: is she known to another MARAC?")
    token = api_token(asker, FLAG_SCOPES)
    found = True
    for label, change, expected in LOOKUPS:
        print(f"  [{asker.code}] POST /api/v1/flags/lookups ({label})")
        answer = api_post(asker, token, "/api/v1/flags/lookups", {**FLAGGED, **change})
        matches = answer["matches"]
        for match in matches or [{"kind": "no"}]:
            print("     " + describe(match))
        if not expected_match(matches, expected, holder.code):
            print(f"     expected a {expected} match and did not get one")
            found = False
    print("     A strong match names the area and whom to contact; a weak one names no one, so")
    print("     a near miss about somebody else gives nothing away.")
    return found


def describe(match: dict[str, Any]) -> str:
    if match["kind"] == "remote":
        return (
            f"remote match ({match['strength']}): the case is held by {match['area']}, "
            f"contact {match['mailbox']}, flagged until {match['expires_at']}"
        )
    if match["kind"] == "possible":
        return "possible match: no area named; a verification request can be relayed"
    return f"{match['kind']} match"


def expected_match(matches: list[dict[str, Any]], kind: str, holder: str) -> bool:
    kinds = [match["kind"] for match in matches]
    if kind == "remote":
        return any(m["kind"] == "remote" and m["area"] == holder for m in matches)
    # A weak match must give nothing away: no area, no mailbox, no expiry, no strong match.
    return (
        kinds == ["possible"]
        and matches[0].get("area") is None
        and matches[0].get("mailbox") is None
        and matches[0].get("expires_at") is None
    )


def add_people(nodes: tuple[DemoNode, ...]) -> dict[str, str]:
    """A coordinator, a chair, an auditor and an administrator for each area: their
    emails and authenticator secrets (so that every kind of page can be clicked through)."""
    people: dict[str, str] = {}
    for node in nodes:
        for role in PAGE_ROLES:
            email = f"{role}@{node.code}.example"
            out = node.run(
                "user",
                "create",
                email,
                "--area",
                node.code,
                "--role",
                role,
                "--password-stdin",
                stdin=DEMO_PASSWORD + "\n",
            )
            found = re.search(r"authenticator secret: (\S+)", out)
            if found is None:
                raise RuntimeError(f"{node.code}: user create printed no authenticator secret")
            people[email] = found[1]
    return people


def show_pages(nodes: tuple[DemoNode, ...], people: dict[str, str]) -> None:
    print("12. The pages: open a node's address in a browser and sign in")
    for node in nodes:
        emails = ", ".join(f"{role}@{node.code}.example" for role in PAGE_ROLES)
        print(f"     {node.name}: {node.url}/  as {emails}")
    print(f'     password (every demo account): "{DEMO_PASSWORD}"')
    print("     The first sign-in shows an authenticator set-up page: type the current code")
    print("     printed below instead of using a phone. The case sent above is there to open:")
    print("     delivered and acknowledged on both sides.")
    show_codes(people)


def show_codes(people: dict[str, str]) -> None:
    now = datetime.now(UTC)
    left = 30 - int(now.timestamp()) % 30
    print(f"     one-time codes (valid for {left} s more, then new ones are printed):")
    for email, secret in people.items():
        print(f"       {email:34} {totp_code(secret, now)}", flush=True)


def keep_serving(people: dict[str, str]) -> None:
    """Print fresh sign-in codes every 30 s until Ctrl-C or SIGTERM."""
    # sigwait needs the signals blocked, or SIGTERM's default action would kill us
    # before `finally` stops the nodes. Blocked only now: children keep their defaults.
    stopping = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    while True:
        wait = 30 - int(time.time()) % 30 + 0.5
        if signal.sigtimedwait(stopping, wait) is not None:
            return
        show_codes(people)


def run_demo(workdir: Path, *, exit_after: bool, timeout: float = 60.0) -> int:
    if workdir.exists():
        shutil.rmtree(workdir)
    nodes = tuple(
        DemoNode(code, name, (workdir / code).resolve(), free_port()) for code, name in AREAS
    )
    for node in nodes:
        node.home.mkdir(parents=True)
    pair = (nodes[0], nodes[1])
    try:
        setup(pair)
        print("3. Both nodes start: gunicorn serving the web app, and a delivery worker")
        share_flag_roles(*pair)
        for node in pair:
            node.start("serve", "--port", str(node.port), log_name="web.log")
            node.start("worker", log_name="worker.log")
        for node in pair:
            wait_ready(node)
            print(f"     {node.code} is up at {node.url}")
        people = add_people(pair)
        delivered = send_and_watch(*pair, timeout=timeout)
        if delivered:
            show_audit(*pair)
        answered = delivered and acknowledge(*pair, timeout=timeout)
        if answered:
            set_flag(pair[1])
        ok = answered and look_up(*pair)
        print("11. Case content stays sealed at rest on both nodes; files are in", workdir)
        show_pages(pair, people)
        if exit_after:
            return 0 if ok else 1
        print("Both nodes keep serving. Press Ctrl-C to stop.", flush=True)
        keep_serving(people)
        return 0 if ok else 1
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for node in pair:
            node.stop()
