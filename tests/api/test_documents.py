"""Documents and information requests across two real nodes over real HTTP: every allowed
type travels sealed and comes back byte-identical; anything else, anything too large and
any tampered envelope is refused with nothing stored; no filename and no content ever
reaches a log line or the database in clear; an information request and its answer move
both sides' states."""

from __future__ import annotations

import io
import json
import logging
import secrets
import struct
import uuid
import zipfile
import zlib
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from support.forged import queue_forged, refusal_of
from support.nodes import RunningNode
from support.site import PEER, A, B, Site, make_site

from gateway.devtools.samples import sample_transfer
from gateway.domain.audit import verify
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from keys import sha256_hex
from schemas.wire.document import DOCX, JPEG, ODT, PDF, PNG, RTF, TEXT

LIST = "/api/v1/transfers"
CANARY = "Zqxdoccanary" + secrets.token_hex(6)
FILENAME = "Zqxfilename-" + secrets.token_hex(6) + ".pdf"


# --- real samples of every allowed type ---------------------------------------------------


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def docx(main: str = DOCX + ".main+xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Override PartName="/word/document.xml" '
            f'ContentType="{main}"/></Types>',
        )
        archive.writestr("word/document.xml", f"<w:document><w:t>{CANARY}</w:t></w:document>")
    return buffer.getvalue()


def odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT)  # first and stored, as ODF says
        archive.writestr("content.xml", f"<office:text>{CANARY}</office:text>")
    return buffer.getvalue()


def rtf() -> bytes:
    return b"{\\rtf1\\ansi Minutes of the meeting\\par}"


def plain() -> bytes:
    return f"Minutes: {CANARY} was discussed.\n".encode()


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


SAMPLES = {PDF: pdf, DOCX: docx, ODT: odt, RTF: rtf, TEXT: plain, PNG: png, JPEG: jpeg}


def minutes() -> dict[str, Any]:
    return {
        "meeting_date": utcnow().date().isoformat(),
        "case_number": "M-1",
        "attendees": [{"agency": "Police", "role": "DS"}, {"agency": "IDVA service"}],
        "confidentiality_statement_confirmed": True,
        "entries": [
            {"kind": "fact", "source_agency": "Police", "text": f"{CANARY} was seen."},
            {
                "kind": "professional_judgement",
                "source_agency": "IDVA service",
                "text": "Risk is rising.",
            },
        ],
        "sharing_agreed_by": ["Police", "IDVA service"],
        "risks": [{"risk": "Further assault", "to_whom": "victim"}],
        "actions": [
            {
                "action": "Safety plan",
                "agency": "IDVA service",
                "owner_role": "IDVA",
                "due": utcnow().date().isoformat(),
                "status": "open",
            }
        ],
    }


# --- two nodes, a user on each side --------------------------------------------------------


LIMIT = 65_536


@pytest.fixture
def site(node_factory: Any) -> Site:
    """make_site's two nodes, both with a small document limit."""

    def limited(name: str, **overrides: Any) -> RunningNode:
        return node_factory(name, GATEWAY_DOCUMENT_MAX_BYTES=str(LIMIT), **overrides)

    return make_site(limited)


def south_bearer(site: Site, scopes: str = "transfers:read transfers:write") -> dict[str, str]:
    """An API client of the peer area on the south node, with a real token."""
    south = site.south
    with south.node.sessions() as session:
        made, secret = clients.create_client(
            session, south.node.master, name="cms", area=PEER, scopes=scopes, now=utcnow()
        )
    answer = south.app.test_client().post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(made.id, secret)
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": "Bearer " + answer.json["access_token"]}


def inbound(site: Site) -> tuple[str, str]:
    """A transfer from the peer to A, delivered: (id on north, id on south)."""
    sent = site.south.send(sample_transfer(PEER, A), PEER, A)
    assert site.south.deliver() == 1
    [received] = [t for t in site.north.transfers(A) if t.direction == "inbound"]
    return received.id, sent.id


def upload(
    client: FlaskClient, path: str, content: bytes, kind: str = "minutes", **headers: str
) -> Any:
    data = {"kind": kind, "file": (io.BytesIO(content), FILENAME, "application/pdf")}
    return client.post(path, data=data, headers=headers, content_type="multipart/form-data")


def csrf_post(site: Site, browser: FlaskClient, path: str, body: Any) -> Any:
    return browser.post(path, json=body, headers={"X-CSRF-Token": site.csrf(browser)})


def status_of(node: RunningNode, area: str, transfer_id: str) -> str:
    return next(t.status for t in node.transfers(area) if t.id == transfer_id)


def actions_of(node: RunningNode, area: str) -> list[str]:
    with node.node.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT action FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
        )
        return [row[0] for row in rows]


def stored_bytes(node: RunningNode) -> bytes:
    """Everything the node keeps: SQLite's files, or every PostgreSQL row as text."""
    if node.settings.database_url.startswith("sqlite"):
        files = sorted(path for path in node.home.rglob("*") if path.is_file())
        return b"\n".join(path.read_bytes() for path in files)
    chunks: list[bytes] = []
    with node.node.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        for table in list(tables):
            rows = connection.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()  # noqa: S608
            chunks += [f"{table}: {row}".encode() for row in rows]
    return b"\n".join(chunks)


def assert_nowhere(needle: str, *haystacks: bytes) -> None:
    for raw in (needle.encode(), needle.encode().hex().encode()):
        for haystack in haystacks:
            assert raw not in haystack, needle


# --- the round trip ------------------------------------------------------------------------


def test_every_allowed_type_travels_sealed_and_comes_back_identical(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("gateway", "werkzeug", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    north_id, south_id = inbound(site)
    sender = site.south.app.test_client()
    bearer = south_bearer(site)
    path = f"{LIST}/{south_id}/documents"

    sent: dict[str, tuple[str, bytes]] = {}
    for media_type, make in SAMPLES.items():
        content = make()
        answer = upload(sender, path, content, "other", **bearer)
        assert answer.status_code == 201, (media_type, answer.text)
        assert answer.json["media_type"] == media_type
        assert answer.json["sha256"] == sha256_hex(content)
        assert answer.json["size"] == len(content)
        assert answer.json["direction"] == "outbound"
        sent[answer.json["id"]] = (media_type, content)
    structured = sender.post(path, json={"kind": "minutes", "minutes": minutes()}, headers=bearer)
    assert structured.status_code == 201, structured.text
    assert structured.json["media_type"] == "application/vnd.marac.minutes+json"

    assert site.south.deliver() == len(SAMPLES) + 1
    assert site.south.count("outbox") == site.south.scalar(
        "SELECT count(*) FROM outbox WHERE status = 'delivered'"
    )

    coord = site.login(site.add_user("coord", A, "coordinator"))
    listed = coord.get(f"{LIST}/{north_id}/documents")
    assert listed.status_code == 200, listed.text
    items = {item["id"]: item for item in listed.json["items"]}
    assert set(items) == {*sent, structured.json["id"]}
    assert all(item["direction"] == "inbound" for item in items.values())
    for document_id, (media_type, content) in sent.items():
        got = coord.get(f"{LIST}/{north_id}/documents/{document_id}")
        assert got.status_code == 200, got.text
        assert got.data == content
        assert got.mimetype == media_type
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        disposition = got.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="other-' + document_id[:8])
        assert_nowhere(FILENAME, json.dumps(dict(got.headers)).encode())
    minutes_back = coord.get(f"{LIST}/{north_id}/documents/{structured.json['id']}")
    assert json.loads(minutes_back.data)["entries"][0]["text"] == f"{CANARY} was seen."
    # The sender reads its own copy back too.
    mine = sender.get(f"{path}/{next(iter(sent))}", headers=bearer)
    assert mine.status_code == 200 and mine.data == next(iter(sent.values()))[1]

    # Every step is audited and on both timelines; both logs verify.
    downloads = actions_of(site.north, A).count("document.downloaded")
    assert downloads == len(SAMPLES) + 1
    assert actions_of(site.north, A).count("document.received") == len(SAMPLES) + 1
    assert actions_of(site.south, PEER).count("document.sent") == len(SAMPLES) + 1
    steps = coord.get(f"{LIST}/{north_id}/timeline").json["timeline"]
    assert [s["kind"] for s in steps].count("document_received") == len(SAMPLES) + 1
    for node, area in ((site.north, A), (site.south, PEER)):
        with node.node.sessions() as session, session.begin():
            assert verify.verify_log(session, area).ok

    # Neither the uploader's filename nor the content is in any log line or stored in clear.
    logged = caplog.text.encode() + b"".join(
        repr(record.args).encode() for record in caplog.records
    )
    assert any(record.name.startswith("gateway") for record in caplog.records)
    for node in (site.north, site.south):
        stored = stored_bytes(node)
        assert PEER.encode() in stored
        assert_nowhere(CANARY, logged, stored)
        assert_nowhere(FILENAME, logged, stored)
        assert_nowhere(FILENAME.removesuffix(".pdf"), logged, stored)


def test_the_receiving_area_may_send_documents_back(site: Site) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    answer = upload(coord, f"{LIST}/{north_id}/documents", plain(), "other", **{"X-CSRF-Token": ""})
    assert answer.status_code == 403  # a browser session needs its CSRF token
    answer = upload(
        coord,
        f"{LIST}/{north_id}/documents",
        plain(),
        "other",
        **{"X-CSRF-Token": site.csrf(coord)},
    )
    assert answer.status_code == 201, answer.text
    assert site.north.deliver() == 1
    listed = site.south.app.test_client().get(
        f"{LIST}/{south_id}/documents", headers=south_bearer(site, "transfers:read")
    )
    assert [(i["direction"], i["sha256"]) for i in listed.json["items"]] == [
        ("inbound", sha256_hex(plain()))
    ]


# --- refusals ------------------------------------------------------------------------------


def test_content_not_filename_decides_and_size_is_bounded(site: Site) -> None:
    _, south_id = inbound(site)
    sender = site.south.app.test_client()
    bearer = south_bearer(site)
    path = f"{LIST}/{south_id}/documents"
    refusals = {
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64: 415,  # a Windows executable named .pdf
        b"\x7fELF\x02\x01\x01" + b"\x00" * 64: 415,
        docx(main="application/vnd.ms-word.document.macroEnabled.main+xml"): 415,  # .docm
        b"PK\x03\x04 not really a zip": 415,
        "caf\u00e9".encode("latin-1"): 415,  # not UTF-8
        b"text with a NUL \x00 inside": 415,
        b"": 422,
        b"A" * 65_537: 413,  # one byte over this node's limit
    }
    for content, status in refusals.items():
        answer = upload(sender, path, content, "other", **bearer)
        assert answer.status_code == status, (content[:12], answer.text)
        assert answer.mimetype == "application/problem+json"
        assert_nowhere(FILENAME, answer.data)
    # Far over the limit: refused while reading, before the body is even parsed.
    huge = upload(sender, path, b"A" * 300_000, "other", **bearer)
    assert huge.status_code == 413 and huge.mimetype == "application/problem+json"
    # Exactly at the limit is fine.
    assert upload(sender, path, b"A" * 65_536, "other", **bearer).status_code == 201
    # Bad kinds, bad minutes, the wrong body type.
    assert upload(sender, path, plain(), "selfie", **bearer).status_code == 422
    bad = sender.post(
        path,
        json={
            "kind": "minutes",
            "minutes": {**minutes(), "confidentiality_statement_confirmed": False},
        },
        headers=bearer,
    )
    assert bad.status_code == 422 and "confidentiality_statement_confirmed" in bad.text
    assert CANARY not in bad.text
    # An agency that supplied an entry but did not agree to share: refused, named.
    unshared = {**minutes(), "sharing_agreed_by": ["Police"]}
    refused = sender.post(path, json={"kind": "minutes", "minutes": unshared}, headers=bearer)
    assert refused.status_code == 422
    [why] = refused.json["errors"]["minutes"]["sharing_agreed_by"]
    assert why.endswith("did not agree to share the minutes: IDVA service.")
    opinionless = {**minutes(), "entries": [{"kind": "rumour", "source_agency": "X", "text": "y"}]}
    assert (
        sender.post(
            path, json={"kind": "minutes", "minutes": opinionless}, headers=bearer
        ).status_code
        == 422
    )
    assert (
        sender.post(
            path, data=plain(), headers={**bearer, "Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    assert site.south.scalar("SELECT count(*) FROM documents") == 1
    assert site.south.count("outbox") == 1 + 1  # the transfer and the one accepted document


def test_documents_wait_for_the_transfer_to_arrive(site: Site) -> None:
    held = site.south.send(sample_transfer(PEER, A), PEER, A)  # queued, not yet delivered
    answer = upload(
        site.south.app.test_client(),
        f"{LIST}/{held.id}/documents",
        pdf(),
        **south_bearer(site),
    )
    # Held, sealed to the sender's own area: nothing about it is queued for the peer.
    assert answer.status_code == 201 and answer.json["direction"] == "held"
    assert site.south.count("outbox") == 1
    # The transfer, then the document its receipt released, in that order.
    assert site.south.deliver() == 2
    assert site.south.scalar("SELECT direction FROM documents") == "outbound"
    assert site.north.scalar("SELECT count(*) FROM documents") == 1


def forge_document(site: Site, in_reply_to: str, **spoil: Any) -> str:
    """A document from the peer to A, sealed and signed properly by the peer's keys but
    saying whatever `spoil` says, queued on south's outbox."""
    content = plain()
    payload = {
        "schema_version": 1,
        "from_area": PEER,
        "to_area": A,
        "kind": "other",
        "media_type": TEXT,
        "sha256": sha256_hex(content),
        "size": len(content),
        "content": canonical_b64(content),
        "answers": None,
        **spoil,
    }
    return queue_forged(site.south, PEER, A, "document", payload, in_reply_to)


def canonical_b64(content: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(content).rstrip(b"=").decode("ascii")


def test_a_tampered_or_mistyped_document_is_refused_with_nothing_stored(site: Site) -> None:
    north_id, south_id = inbound(site)
    transfer_envelope = site.south.scalar(
        "SELECT envelope_id FROM transfers WHERE id = :i", i=south_id
    )
    events = len(actions_of(site.north, A))
    envelopes = site.north.count("envelopes")
    exe = b"MZ\x90\x00" + b"\x00" * 60
    cases = {
        forge_document(site, transfer_envelope, sha256="0" * 64): "document-mismatch",
        forge_document(site, transfer_envelope, size=3): "document-mismatch",
        forge_document(
            site,
            transfer_envelope,
            media_type=PDF,
            content=canonical_b64(exe),
            sha256=sha256_hex(exe),
            size=len(exe),
        ): "unsupported-media-type",
        forge_document(site, str(uuid.uuid4())): "unknown-transfer",
        forge_document(site, transfer_envelope, answers=str(uuid.uuid4())): "unknown-request",
        forge_document(
            site,
            transfer_envelope,
            kind="minutes",
            media_type="application/vnd.marac.minutes+json",
        ): "invalid-payload",  # plain text is not structured minutes
    }
    assert site.south.deliver() == len(cases)
    for forged, reason in cases.items():
        assert reason in refusal_of(site.south, forged), reason
        assert (
            site.north.scalar("SELECT count(*) FROM envelopes WHERE envelope_id = :e", e=forged)
            == 0
        )
    assert site.north.count("envelopes") == envelopes
    assert site.north.scalar("SELECT count(*) FROM documents") == 0
    assert len(actions_of(site.north, A)) == events
    assert status_of(site.north, A, north_id) == "received"


# --- information requests ------------------------------------------------------------------


def test_an_information_request_and_its_answer_move_both_sides(site: Site) -> None:
    north_id, south_id = inbound(site)
    coord = site.login(site.add_user("coord", A, "coordinator"))
    body = {
        "what": ["minutes", "original_referral"],
        "note": f"Please send the minutes about {CANARY}",
        "requested_by": {"name": "Zqx Coordinator", "role": "MARAC coordinator"},
    }
    path = f"{LIST}/{north_id}/information-requests"
    for bad, field in (
        ({**body, "what": []}, "what"),
        ({**body, "what": ["selfie"]}, "what"),
        ({**body, "what": ["minutes", "minutes"]}, "what"),
        ({k: v for k, v in body.items() if k != "requested_by"}, "requested_by"),
        ({**body, "surprise": 1}, "surprise"),
    ):
        refused = csrf_post(site, coord, path, bad)
        assert refused.status_code == 422 and field in refused.json["errors"], field
        assert CANARY not in refused.text
    asked = csrf_post(site, coord, path, body)
    assert asked.status_code == 201, asked.text
    request_id = asked.json["id"]
    assert (asked.json["status"], asked.json["what"]) == ("open", ["minutes", "original_referral"])
    assert site.north.deliver() == 1
    assert status_of(site.south, PEER, south_id) == "information_requested"

    bearer = south_bearer(site)
    sender = site.south.app.test_client()
    listed = sender.get(f"{LIST}/{south_id}/information-requests", headers=bearer)
    assert [(i["id"], i["direction"], i["status"]) for i in listed.json["items"]] == [
        (request_id, "inbound", "open")
    ]
    # Only the sending side answers, and only a request it was asked.
    wrong = sender.post(
        f"{LIST}/{south_id}/documents",
        data={"kind": "minutes", "answers": str(uuid.uuid4()), "file": (io.BytesIO(pdf()), "a")},
        headers=bearer,
    )
    assert wrong.status_code == 422 and "answers" in wrong.json["errors"]
    answered = sender.post(
        f"{LIST}/{south_id}/documents",
        json={"kind": "minutes", "minutes": minutes(), "answers": request_id},
        headers=bearer,
    )
    assert answered.status_code == 201, answered.text
    assert status_of(site.south, PEER, south_id) == "delivered"
    listed = sender.get(f"{LIST}/{south_id}/information-requests", headers=bearer)
    assert listed.json["items"][0]["status"] == "answered"
    assert listed.json["items"][0]["answered_by"] == answered.json["id"]

    assert site.south.deliver() == 1
    mine = coord.get(path).json["items"]
    assert [(i["direction"], i["status"], i["answered_by"]) for i in mine] == [
        ("outbound", "answered", answered.json["id"])
    ]
    documents = coord.get(f"{LIST}/{north_id}/documents").json["items"]
    assert [(d["kind"], d["answers"]) for d in documents] == [("minutes", request_id)]

    # Once acknowledged, a further request keeps the sender's state and joins the timeline.
    ack = {
        "status": "accepted",
        "listed_for": utcnow().date().isoformat(),
        "idva_referred": True,
        "acknowledged_by": {"name": "Zqx Coordinator", "role": "MARAC coordinator"},
    }
    assert csrf_post(site, coord, f"{LIST}/{north_id}/acknowledgement", ack).status_code == 200
    assert csrf_post(site, coord, path, {**body, "what": ["dash_ric"]}).status_code == 201
    assert site.north.deliver() == 2
    assert status_of(site.south, PEER, south_id) == "acknowledged"

    north_steps = [s["kind"] for s in coord.get(f"{LIST}/{north_id}/timeline").json["timeline"]]
    assert north_steps == [
        "received",
        "information_requested",
        "document_received",
        "acknowledged",
        "information_requested",
    ]
    south_steps = [
        s["kind"]
        for s in sender.get(f"{LIST}/{south_id}/timeline", headers=bearer).json["timeline"]
    ]
    assert south_steps == [
        "queued",
        "delivered",
        "information_requested",
        "document_sent",
        "delivered",
        "acknowledged",
        "information_requested",
    ]
    assert actions_of(site.north, A).count("information_request.sent") == 2
    assert actions_of(site.south, PEER).count("information_request.received") == 2
    # An outbound transfer cannot ask; another area cannot see it.
    outbound = site.outbound(A)
    assert (
        csrf_post(site, coord, f"{LIST}/{outbound}/information-requests", body).status_code == 409
    )
    coord_b = site.login(site.add_user("coord_b", B, "coordinator"))
    assert csrf_post(site, coord_b, path, body).status_code == 404
    for node in (site.north, site.south):
        assert_nowhere(CANARY, stored_bytes(node))


def test_the_cli_attaches_a_file_by_content_and_refuses_clearly(site: Site, tmp_path: Any) -> None:
    import subprocess
    import sys

    _, south_id = inbound(site)
    good = tmp_path / FILENAME
    good.write_bytes(pdf())
    bad = tmp_path / "innocent.pdf"
    bad.write_bytes(b"MZ\x90\x00" + b"\x00" * 60)
    command = [sys.executable, "-m", "gateway.cli", "transfer", "attach", south_id]
    env = {**site.south.env, "GATEWAY_DOCUMENT_MAX_BYTES": "65536"}
    done = subprocess.run(
        [*command, str(good), "--kind", "original_referral"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "application/pdf" in done.stdout and FILENAME not in done.stdout
    refused = subprocess.run(
        [*command, str(bad), "--kind", "other"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "PDF, DOCX" in refused.stderr
    missing = subprocess.run(
        [*command, str(tmp_path / "nope"), "--kind", "other"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "no such file" in missing.stderr
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "transfer",
            "attach",
            str(uuid.uuid4()),
            str(good),
            "--kind",
            "other",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 1 and "No such transfer" in unknown.stderr
    assert site.south.scalar("SELECT count(*) FROM documents") == 1
    assert site.south.deliver() == 1
    assert site.north.scalar("SELECT kind FROM documents") == "original_referral"


def test_a_purged_case_serves_no_documents(site: Site) -> None:
    from datetime import timedelta

    from gateway.domain import retention
    from gateway.domain.identity.actors import Actor

    north_id, south_id = inbound(site)
    bearer = south_bearer(site)
    sent = upload(site.south.app.test_client(), f"{LIST}/{south_id}/documents", pdf(), **bearer)
    assert sent.status_code == 201
    assert site.south.deliver() == 1
    coord = site.login(site.add_user("coord", A, "coordinator"))
    path = f"{LIST}/{north_id}/documents/{sent.json['id']}"
    assert coord.get(path).data == pdf()
    with site.north.node.sessions() as session:
        later = utcnow() + timedelta(days=400)
        [report] = retention.purge(session, now=later, area=A, actor=Actor.operator())
    assert report.envelopes == 2  # the transfer and its document
    gone = coord.get(path)
    assert gone.status_code == 404 and "purged" in gone.json["detail"]
    # The metadata stays for the audit; the bytes are gone with the sealed envelope.
    assert [i["sha256"] for i in coord.get(f"{LIST}/{north_id}/documents").json["items"]] == [
        sha256_hex(pdf())
    ]
