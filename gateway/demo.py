"""`marac-gateway demo`: two real nodes, separate processes, real HTTP on 127.0.0.1.

It runs the very commands an operator would, printing each one, so a newcomer can repeat
any step by hand: create an area on each node, exchange bundles with fingerprint checks,
send a transfer about fictional people, let the worker deliver it, and show both sides.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.samples import sample_transfer

AREAS = (("northshire", "Northshire MARAC"), ("south-vale", "South Vale MARAC"))


@dataclass
class DemoNode:
    code: str
    name: str
    home: Path
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

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
        return env

    def run(self, *args: str, show: bool = True) -> str:
        if show:
            print(f"  [{self.code}] $ marac-gateway {shlex.join(args)}")
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            env=self.env(),
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


def wait_ready(node: DemoNode, timeout: float = 30.0) -> None:
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
    status = ""
    while time.monotonic() - started < timeout:
        rows = transfer_rows(sender)
        status = str(rows[0]["status"]) if rows else ""
        if status in ("delivered", "failed"):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    print(f"5. Outcome after {elapsed:.2f} s (send to signed receipt, through the worker):")
    for node in (sender, receiver):
        for row in transfer_rows(node):
            print(
                f"     [{node.code}] transfer {row['id']} {row['direction']:8} "
                f"peer={row['to_area'] if row['direction'] == 'outbound' else row['from_area']}"
                f" status={row['status']}"
            )
    show_receipt(sender)
    return status == "delivered"


def show_receipt(sender: DemoNode) -> None:
    from sqlalchemy import text

    from adapters.db import make_engine

    engine = make_engine(f"sqlite:///{sender.home / 'gateway.db'}")
    with engine.connect() as connection:
        receipt = connection.execute(
            text("SELECT receipt FROM envelopes WHERE direction='outbound'")
        ).scalar()
    engine.dispose()
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
        for node in pair:
            node.start("serve", "--port", str(node.port), log_name="web.log")
            node.start("worker", log_name="worker.log")
        for node in pair:
            wait_ready(node)
            print(f"     {node.code} is up at {node.url}")
        delivered = send_and_watch(*pair, timeout=timeout)
        if delivered:
            show_audit(*pair)
        print("7. The case content stays sealed at rest on both nodes; files are in", workdir)
        if exit_after:
            return 0 if delivered else 1
        print("Both nodes keep serving. Press Ctrl-C to stop.", flush=True)
        # sigwait needs the signals blocked, or SIGTERM's default action would kill us
        # before `finally` stops the nodes. Blocked only now: children keep their defaults.
        stopping = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
        signal.sigwait(stopping)
        return 0 if delivered else 1
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for node in pair:
            node.stop()
