"""`marac-gateway demo --exit`: two real nodes in their own processes exchange a transfer
and its acknowledgement, share flags through one node's linkage authority and flag index,
and the demo stops everything it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

DEMO = [sys.executable, "-m", "gateway.cli", "demo"]


def processes_serving(workdir: Path) -> list[int]:
    """Pids of live processes whose environment points into the demo's workdir: the web
    servers (gunicorn and its workers) and the delivery workers the demo starts."""
    marker = f"GATEWAY_INSTANCE_DIR={workdir.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(item.startswith(marker) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_delivers_a_transfer_and_stops_its_nodes(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    process = subprocess.Popen(
        [*DEMO, "--exit", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    leftovers: list[int] = []
    try:
        stdout, stderr = process.communicate(timeout=360)
        leftovers = processes_serving(workdir)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for pid in leftovers or processes_serving(workdir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    assert process.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr}"
    assert re.search(
        r"\[northshire\] transfer \S+ outbound +peer=south-vale status=delivered", stdout
    )
    assert re.search(
        r"\[south-vale\] transfer \S+ inbound +peer=northshire status=received", stdout
    )
    assert "signed receipt held by northshire" in stdout
    # The conversation: South Vale's coordinator acknowledges, the answer travels back.
    assert re.search(
        r"\[northshire\] transfer \S+ outbound +peer=south-vale status=acknowledged", stdout
    )
    assert re.search(
        r"\[south-vale\] transfer \S+ inbound +peer=northshire status=acknowledged", stdout
    )
    assert "northshire's timeline: queued -> delivered -> acknowledged" in stdout
    # Shared flags: south-vale's node uses northshire's as linkage authority and flag index.
    assert re.search(r"GATEWAY_LINKAGE_AUTHORITY=northshire@http://127\.0\.0\.1:\d+", stdout)
    assert re.search(r"GATEWAY_FLAG_INDEX=northshire@http://127\.0\.0\.1:\d+", stdout)
    assert re.search(
        r"flag \S+ is active until \d{4}-\d\d-\d\d; shared with the flag index: yes", stdout
    )
    lookups = stdout.split("POST /api/v1/flags/lookups")[1:]
    assert len(lookups) == 3, stdout
    exact, nickname, swapped = lookups
    assert "remote match (strong): the case is held by south-vale" in exact
    for weak in (nickname, swapped):
        assert "possible match: no area named" in weak
        assert "remote match" not in weak and "held by" not in weak
    assert "expected a" not in stdout
    # The fictional people never reach the screen, the nodes' logs or the files left behind.
    assert not re.search(r"Margaret|Peggy|Demoperson|Dee Sample", stdout + stderr)
    for path in workdir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not re.search(rb"Margaret|Peggy|Demoperson|Dee Sample", data), path
    assert not list(workdir.rglob("acknowledgement.json"))
    ports = [int(port) for port in re.findall(r"is up at http://127\.0\.0\.1:(\d+)", stdout)]
    assert len(ports) == 2, stdout
    assert leftovers == [], f"demo left processes running: {leftovers}"
    assert [port for port in ports if listening(port)] == []
    # The plaintext request file the demo wrote is gone; the databases are there.
    assert not list(workdir.rglob("transfer.json"))
    assert (workdir / "northshire" / "gateway.db").exists()
    assert (workdir / "south-vale" / "gateway.db").exists()
    # The pages: each node's address, its coordinator and chair, the password and codes.
    for area, name in (("northshire", "Northshire MARAC"), ("south-vale", "South Vale MARAC")):
        assert re.search(rf"{name}: http://127\.0\.0\.1:\d+/  as coordinator@{area}", stdout)
        for role in ("chair", "auditor", "admin"):
            assert re.search(rf"{role}@{area}\.example +\d{{6}}", stdout), role


def sign_in_from_the_output(text: str) -> None:
    """A chair signs in to South Vale's pages with only what the demo printed: the
    address, the password and a one-time code (first sign-in: the enrolment page)."""
    url = re.findall(r"South Vale MARAC: (http://127\.0\.0\.1:\d+)/  as ", text)[0]
    password = re.findall(r'password \(every demo account\): "([^"]+)"', text)[0]
    codes = re.findall(r"chair@south-vale\.example +(\d{6})", text)
    cookie: dict[str, str] = {}

    def call(method: str, path: str, **form: str) -> httpx.Response:
        # The session cookie is Secure; the demo is plain http on loopback, so it is
        # carried by hand as a browser would on 127.0.0.1.
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
        answer = httpx.request(method, url + path, data=form or None, headers=headers)
        for line in answer.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            cookie[name] = rest.split(";", 1)[0]
        return answer

    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    page = call("GET", "/login")
    step = call("POST", "/login", email="chair@south-vale.example", password=password,
                csrf_token=token.findall(page.text)[0])  # fmt: skip
    assert step.status_code == 303 and step.headers["location"] == "/login/enrol"
    page = call("GET", "/login/enrol")
    done = call("POST", "/login/enrol", code=codes[-1], csrf_token=token.findall(page.text)[0])
    assert done.status_code == 303 and done.headers["location"] == "/", done.text[:500]
    assert call("GET", "/").status_code == 200


def test_demo_stops_its_nodes_when_terminated(tmp_path: Path) -> None:
    """Without --exit the demo keeps serving until Ctrl-C or SIGTERM (it waits for both);
    either way it must take its web servers and workers down with it."""
    workdir = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*DEMO, "--workdir", str(workdir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    leftovers: list[int] = []
    try:
        deadline = time.monotonic() + 360  # a busy CI machine
        while "Press Ctrl-C" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert "Press Ctrl-C" in log.read_text()
        ports = [int(p) for p in re.findall(r"is up at http://127\.0\.0\.1:(\d+)", log.read_text())]
        assert len(processes_serving(workdir)) >= 4  # two web servers, two workers
        sign_in_from_the_output(log.read_text())

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        time.sleep(1.0)
        leftovers = processes_serving(workdir)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in leftovers or processes_serving(workdir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    assert leftovers == [], (
        f"SIGTERM ended the demo (exit {process.returncode}) but left {len(leftovers)} "
        f"processes running:\n{log.read_text()[-500:]}"
    )
    assert [port for port in ports if listening(port)] == []
    assert process.returncode == 0, "a stop on request after a delivered transfer is a success"
