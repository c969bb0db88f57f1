"""Floor baseline for bench/federation.py: the least work the delivery guarantees require
per envelope on the receiving side, done as cheaply as this stack allows.

Per POST (one envelope, or {"envelopes": [...]} for the batched floor):
    - parse the JSON body (orjson, as keys.canonical_json uses);
    - verify the request token's Ed25519 signature (once per POST, as the gateway does for a
      batch) and that it binds this body, audience, method and path; and each envelope's
      Ed25519 signature over the same signed message as keys.envelope (canonical header +
      sealed key + nonce + SHA-256 of the ciphertext), against keys known in advance (the
      pinned keys);
    - in ONE transaction: each envelope id into a table where it is the primary key
      (exactly-once: a second copy cannot be stored) and one audit row per envelope; commit.
      Raw drivers, no ORM: sqlite3 with the settings of adapters.db.session._tune_sqlite
      (WAL, synchronous=NORMAL, busy_timeout, BEGIN IMMEDIATE), or psycopg (one statement,
      one round trip);
    - sign a receipt (Ed25519) over the envelope id and digest and answer 202 with it.

Left out, though the gateway does them while receiving, so the floor is if anything too
cheap (a floor under a goal holds all the more; a floor above it is to be read with these
in mind): opening the payload (decryption, validation), the request token's single-use
record, the audit log's hash chain and signed checkpoints, key validity periods, the
evidence attached to a batch. Sealing is left out because the gateway's burst seals before
its timed window (bench/federation.py, run_burst).

Configured from the environment (bench/federation.py sets it): FLOOR_DATABASE (a SQLite
file path, or a postgresql:// URL), FLOOR_TOKEN_KEY and FLOOR_ENVELOPE_KEY (the sender's
Ed25519 verify keys, hex), FLOOR_RECEIPT_SEED (this node's Ed25519 seed, hex), FLOOR_AUDIENCE,
FLOOR_CONNECTIONS (database connections per process: gunicorn's threads).
The tables are made by the bench before gunicorn starts (make_schema); gunicorn runs
`floor_app:create_app()`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import queue
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Flask, Response, request
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PATH = "/federation/v1/envelopes"
MAX_BODY_BYTES = 32 * 1024 * 1024  # as gateway.node
SQLITE_BUSY_TIMEOUT_MS = 15_000  # as adapters.db.session
HEADER_FIELDS = ("v", "id", "type", "from", "to", "created_at", "in_reply_to")  # keys.envelope
RECEIPT_KIND = "bench-floor-receipt"


# --- the wire format, shared with the bench's clients ------------------------------------
def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_message(envelope: Mapping[str, Any]) -> bytes:
    """What keys.envelope signs: the canonical header, the sealed key, the nonce and the
    ciphertext's SHA-256 (its digest is what receipts and audit rows commit to)."""
    header = {name: envelope[name] for name in HEADER_FIELDS}
    return (
        canonical(header)
        + unb64(envelope["sealed_key"])
        + unb64(envelope["nonce"])
        + hashlib.sha256(unb64(envelope["ciphertext"])).digest()
    )


def token_message(claims_part: str) -> bytes:
    return claims_part.encode("ascii")


def receipt_message(body: Mapping[str, Any]) -> bytes:
    return canonical(body)


# --- configuration and connections -------------------------------------------------------
@dataclass(frozen=True)
class Config:
    database: str
    token_key: VerifyKey
    envelope_key: VerifyKey
    receipt_key: SigningKey
    audience: str


@functools.cache
def config() -> Config:
    return Config(
        database=os.environ["FLOOR_DATABASE"],
        token_key=VerifyKey(bytes.fromhex(os.environ["FLOOR_TOKEN_KEY"])),
        envelope_key=VerifyKey(bytes.fromhex(os.environ["FLOOR_ENVELOPE_KEY"])),
        receipt_key=SigningKey(bytes.fromhex(os.environ["FLOOR_RECEIPT_SEED"])),
        audience=os.environ["FLOOR_AUDIENCE"],
    )


def is_postgresql(database: str) -> bool:
    return database.startswith("postgresql")


def connect(database: str) -> Any:
    """One connection, tuned as the gateway's are (SQLite) or in autocommit (PostgreSQL:
    each statement its own transaction, so one statement is one round trip)."""
    if is_postgresql(database):
        import psycopg  # only a PostgreSQL run needs it

        return psycopg.connect(database.replace("+psycopg", ""), autocommit=True)
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "foreign_keys=ON",
        "synchronous=NORMAL",
        "secure_delete=ON",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


_pool: queue.SimpleQueue[Any] = queue.SimpleQueue()


def open_pool() -> None:
    """This process's connections, as many as gunicorn has threads, opened before it
    serves (as the gateway's pool is warm by the time it is measured)."""
    for _ in range(int(os.environ.get("FLOOR_CONNECTIONS", "1"))):
        _pool.put(connect(config().database))


@contextlib.contextmanager
def connection() -> Iterator[Any]:
    db = _pool.get()
    try:
        yield db
    finally:
        _pool.put(db)


def make_schema(database: str, client_ids: Sequence[str] = ()) -> None:
    """The receiver's tables; with client_ids, the sender's table of sent envelopes instead
    (one row per envelope, its receipt to be recorded)."""
    db = connect(database)
    pg = is_postgresql(database)
    if not pg:
        db.execute("BEGIN")
    if client_ids:
        db.execute("CREATE TABLE sent (envelope_id TEXT PRIMARY KEY, receipt TEXT)")
        insert = (
            "INSERT INTO sent (envelope_id) VALUES (%s)"
            if pg
            else "INSERT INTO sent VALUES (?, NULL)"
        )
        db.cursor().executemany(
            insert,
            [(ident,) for ident in client_ids],
        )
    else:
        db.execute(
            "CREATE TABLE received (envelope_id TEXT PRIMARY KEY, digest TEXT NOT NULL, "
            "received_at DOUBLE PRECISION NOT NULL)"
        )
        db.execute(
            f"CREATE TABLE audit (seq {'BIGSERIAL' if pg else 'INTEGER'} PRIMARY KEY, "
            "action TEXT NOT NULL, envelope_id TEXT NOT NULL, digest TEXT NOT NULL, "
            "at DOUBLE PRECISION NOT NULL)"
        )
    if not pg:
        db.execute("COMMIT")
    db.close()


# --- the receiving side ------------------------------------------------------------------
class Refused(Exception):
    pass


def verify_token(authorization: str, body: bytes, cfg: Config) -> None:
    """`Bearer <claims>.<sig>`: the signature over the claims part, then the claims bind
    this request (audience, method, path, body hash) and are not expired."""
    claims_part, _, sig = authorization.removeprefix("Bearer ").partition(".")
    try:
        cfg.token_key.verify(token_message(claims_part), unb64(sig))
    except (BadSignatureError, ValueError) as exc:
        raise Refused("token signature") from exc
    claims = orjson.loads(unb64(claims_part))
    if (
        claims["aud"] != cfg.audience
        or claims["htm"] != "POST"
        or claims["htu"] != PATH
        or claims["bsh"] != b64(hashlib.sha256(body).digest())
        or claims["exp"] < time.time()
    ):
        raise Refused("token claims")


def verify_envelope(envelope: Mapping[str, Any], cfg: Config) -> str:
    """The envelope's signature against the pinned key; returns its digest (hex)."""
    message = signed_message(envelope)
    try:
        cfg.envelope_key.verify(message, unb64(envelope["sig"]))
    except (BadSignatureError, ValueError) as exc:
        raise Refused("envelope signature") from exc
    return hashlib.sha256(message).hexdigest()


def store(ids: Sequence[str], digests: Sequence[str], now: float) -> None:
    """Exactly-once and audit for every envelope of the POST, in one transaction."""
    with connection() as db:
        _store(db, ids, digests, now)


def _store(db: Any, ids: Sequence[str], digests: Sequence[str], now: float) -> None:
    if is_postgresql(config().database):
        db.execute(
            "WITH r AS (INSERT INTO received (envelope_id, digest, received_at) "
            "SELECT i, d, %(now)s FROM unnest(%(ids)s::text[], %(digests)s::text[]) AS t(i, d) "
            "RETURNING envelope_id, digest) "
            "INSERT INTO audit (action, envelope_id, digest, at) "
            "SELECT 'envelope.received', envelope_id, digest, %(now)s FROM r",
            {"ids": list(ids), "digests": list(digests), "now": now},
        )
        return
    rows = [(ident, digest, now) for ident, digest in zip(ids, digests, strict=True)]
    db.execute("BEGIN IMMEDIATE")
    try:
        db.executemany("INSERT INTO received VALUES (?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO audit (action, envelope_id, digest, at) "
            "VALUES ('envelope.received', ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def receipt(envelope_id: str, digest: str, now: float, cfg: Config) -> dict[str, Any]:
    body = {"kind": RECEIPT_KIND, "envelope_id": envelope_id, "digest": digest, "at": now}
    return {"body": body, "sig": b64(cfg.receipt_key.sign(receipt_message(body)).signature)}


app = Flask(__name__)
app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)


@app.post(PATH)
def envelopes() -> Response:
    cfg = config()
    body = request.get_data(cache=False)
    try:
        verify_token(request.headers.get("Authorization", ""), body, cfg)
        document = orjson.loads(body)
        batch = "envelopes" in document
        wires = document["envelopes"] if batch else [document]
        digests = [verify_envelope(wire, cfg) for wire in wires]
    except (Refused, KeyError, TypeError, ValueError) as exc:
        return Response(orjson.dumps({"error": str(exc)}), status=400, mimetype="application/json")
    ids = [wire["id"] for wire in wires]
    now = time.time()
    try:
        store(ids, digests, now)
    except Exception as exc:  # a duplicate, say: nothing stored, no receipt
        return Response(
            orjson.dumps({"error": type(exc).__name__}), status=409, mimetype="application/json"
        )
    receipts = [receipt(i, d, now, cfg) for i, d in zip(ids, digests, strict=True)]
    answer = {"receipts": receipts} if batch else receipts[0]
    return Response(orjson.dumps(answer), status=202, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    return Response(b'{"status":"ok"}', mimetype="application/json")


def create_app() -> Flask:
    """gunicorn's entry point, `floor_app:create_app()`, called in each worker (no
    preload) before it serves."""
    open_pool()
    return app


# --- the sending side: what the bench's clients post and do with the receipts ------------
@dataclass(frozen=True)
class Keys:
    """The sender's token and envelope keys and the receiver's receipt key, made for the
    run and given to the app in advance, as pinned keys are."""

    token: SigningKey
    envelope: SigningKey
    receipt: SigningKey

    @classmethod
    def generate(cls) -> Keys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def app_environment(self, database: str, audience: str, threads: int) -> dict[str, str]:
        return {
            "FLOOR_CONNECTIONS": str(threads),
            "FLOOR_DATABASE": database,
            "FLOOR_TOKEN_KEY": self.token.verify_key.encode().hex(),
            "FLOOR_ENVELOPE_KEY": self.envelope.verify_key.encode().hex(),
            "FLOOR_RECEIPT_SEED": self.receipt.encode().hex(),
            "FLOOR_AUDIENCE": audience,
        }


@dataclass(frozen=True)
class Post:
    """One pre-made POST: its body, its Authorization header, and the ids and digests its
    receipts must name."""

    body: bytes
    authorization: str
    ids: tuple[str, ...]
    digests: tuple[str, ...]


def make_posts(
    template: Mapping[str, Any], keys: Keys, audience: str, posts: int, per_post: int
) -> list[Post]:
    """`posts` POSTs of `per_post` envelopes each (one: the envelope itself is the body;
    more: {"envelopes": [...]}), every envelope the template (a real sealed envelope) under
    a fresh id, signed again; each POST with its own token. Made before the timed window,
    as the gateway's burst seals its envelopes before its workers start."""
    made: list[Post] = []
    for _ in range(posts):
        wires, digests = [], []
        for _ in range(per_post):
            wire = {**template, "id": str(uuid.uuid4())}
            message = signed_message(wire)
            wire["sig"] = b64(keys.envelope.sign(message).signature)
            wires.append(wire)
            digests.append(hashlib.sha256(message).hexdigest())
        body = orjson.dumps(wires[0] if per_post == 1 else {"envelopes": wires})
        claims = {
            "iss": template["from"]["area"],
            "aud": audience,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,  # pre-made for the whole run
            "jti": str(uuid.uuid4()),
            "htm": "POST",
            "htu": PATH,
            "bsh": b64(hashlib.sha256(body).digest()),
        }
        claims_part = b64(canonical(claims))
        sig = b64(keys.token.sign(token_message(claims_part)).signature)
        made.append(
            Post(body, f"Bearer {claims_part}.{sig}", tuple(w["id"] for w in wires), tuple(digests))
        )
    return made


class Recorder:
    """The sender's side of one client thread, per answer: verify each receipt's signature
    and that it names the envelope and digest sent, then record the receipts with ONE
    UPDATE in one transaction on the sender's own database."""

    def __init__(self, database: str, receipt_key: VerifyKey, posts: Sequence[Post]) -> None:
        self.pg = is_postgresql(database)
        self.db = connect(database)
        self.receipt_key = receipt_key
        self.posts = posts

    def __call__(self, number: int, answer: bytes) -> None:
        post = self.posts[number]
        document = orjson.loads(answer)
        receipts = document["receipts"] if len(post.ids) > 1 else [document]
        texts = []
        for found, ident, digest in zip(receipts, post.ids, post.digests, strict=True):
            body = found["body"]
            self.receipt_key.verify(receipt_message(body), unb64(found["sig"]))
            if body["envelope_id"] != ident or body["digest"] != digest:
                raise ValueError("the receipt names another envelope")
            texts.append(orjson.dumps(found).decode("ascii"))
        if self.record(post.ids, texts) != len(post.ids):
            raise ValueError("a receipt was already recorded, or its envelope is unknown")

    def record(self, ids: Sequence[str], texts: Sequence[str]) -> int:
        if self.pg:
            cursor = self.db.execute(
                "UPDATE sent SET receipt = v.r FROM unnest(%s::text[], %s::text[]) AS v(i, r) "
                "WHERE sent.envelope_id = v.i AND sent.receipt IS NULL",
                (list(ids), list(texts)),
            )
            return int(cursor.rowcount)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.db.executemany(
                "UPDATE sent SET receipt = ? WHERE envelope_id = ? AND receipt IS NULL",
                list(zip(texts, ids, strict=True)),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return int(cursor.rowcount)

    def close(self) -> None:
        self.db.close()
