"""An insider with database rights edits the audit log; `audit verify` and a peer that
holds earlier checkpoints catch every kind of edit.

The log is the template's real traffic (three transfers sealed, delivered and receipted,
checkpoints of sizes 3, 5, 7 and 8; see support/audit_world.py), put back before every test. Each
test tampers with it the way someone with the database password would: triggers out of the
way, rows edited, hashes recomputed where that helps to hide the edit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from support.audit_world import (
    NORTH,
    World,
    column,
    edit_leaf,
    fix_head,
    insert_checkpoint,
    insider,
    invoke,
    leaf_text,
    leaves,
    rebuild_tree,
    secret_keys,
    verify_area,
)

from gateway.domain.audit import witness
from gateway.domain.clock import utcnow
from gateway.errors import DomainError
from keys import AreaSecretKeys, b64url_decode, b64url_encode, canonical_json, sign_document
from keys.merkle import leaf_hash

TARGET = 4  # T2's transfer.sent: a real disclosure, covered by the checkpoints of 5, 7, 8


@dataclass(frozen=True)
class Expected:
    first_bad: int | None  # the entry `audit verify` must name, None for log-level faults
    says: str  # a word one of the problems must contain (the wording is the product's)
    also: tuple[str, ...] = ()  # and words other problems must contain


def modify(keys: Any, connection: Connection) -> Expected:
    """Rewrite a leaf's JSON (hide that consent was refused) and leave its hash."""
    changed = edit_leaf(leaf_text(connection, NORTH, TARGET), consent="given", legal_basis=[])
    _update(connection, TARGET, leaf=changed)
    return Expected(TARGET, "modified")


def modify_and_rehash(keys: Any, connection: Connection) -> Expected:
    """The same edit, with the leaf hash recomputed so the entry matches its hash."""
    changed = edit_leaf(leaf_text(connection, NORTH, TARGET), consent="given", legal_basis=[])
    _update(connection, TARGET, leaf=changed, leaf_hash=leaf_hash(changed.encode()))
    return Expected(TARGET, "different root", also=("subtree",))


def delete(keys: Any, connection: Connection) -> Expected:
    connection.execute(
        text("DELETE FROM audit_events WHERE area_code = :a AND seq = :s"),
        {"a": NORTH, "s": TARGET},
    )
    return Expected(TARGET, "missing")


def reorder(keys: Any, connection: Connection) -> Expected:
    """Swap the content of two entries (hashes, indexed columns and all)."""
    first, second = (_row(connection, seq) for seq in (TARGET, TARGET + 1))
    _update(connection, TARGET, **second)
    _update(connection, TARGET + 1, **first)
    return Expected(TARGET, "reordered")


def insert(keys: Any, connection: Connection) -> Expected:
    """Slip a forged disclosure in at TARGET, shifting the later entries up by one, and
    fix up the head so that it agrees with the longer log."""
    forged = edit_leaf(
        leaf_text(connection, NORTH, 2),
        seq=TARGET,
        objects={"transfer": "forged", "envelope": "forged"},
    )
    model = _row(connection, 2)
    for delta in (1000, -999):  # two steps, so no primary key ever collides on the way
        connection.execute(
            text("UPDATE audit_events SET seq = seq + :d WHERE area_code = :a AND seq >= :s"),
            {"d": delta, "a": NORTH, "s": TARGET},
        )
    connection.execute(
        text(
            "INSERT INTO audit_events (area_code, seq, leaf, leaf_hash, subtrees, action, at) "
            "VALUES (:a, :s, :leaf, :h, :sub, :action, :at)"
        ),
        {
            "a": NORTH,
            "s": TARGET,
            "leaf": forged,
            "h": leaf_hash(forged.encode()),
            "sub": b"",
            "action": model["action"],
            "at": model["at"],
        },
    )
    fix_head(connection, NORTH)
    return Expected(TARGET, "different root", also=("inserted",))


def truncate(keys: Any, connection: Connection) -> Expected:
    """Drop the last two entries and make the head agree with what is left."""
    connection.execute(
        text("DELETE FROM audit_events WHERE area_code = :a AND seq >= :s"), {"a": NORTH, "s": 7}
    )
    fix_head(connection, NORTH)
    return Expected(None, "truncated")


def fork_checkpoint(keys: Any, connection: Connection) -> Expected:
    """Replace the root a checkpoint states and re-sign it with the area's real key."""
    row_id, document = _checkpoint(connection, size=5)
    body = {**document["body"], "root": b64url_encode(hashlib.sha256(b"fork").digest())}
    resigned = sign_document(body, keys)
    connection.execute(
        text("UPDATE audit_checkpoints SET root = :root, document = :doc WHERE id = :id"),
        {
            "root": hashlib.sha256(b"fork").digest(),
            "doc": canonical_json(resigned).decode("ascii"),
            "id": row_id,
        },
    )
    return Expected(4, "different root")


def alter_signature(keys: Any, connection: Connection) -> Expected:
    row_id, document = _checkpoint(connection, size=7)
    sig = bytearray(b64url_decode(document["sig"], length=64))
    sig[0] ^= 0x01
    altered = {**document, "sig": b64url_encode(bytes(sig))}
    connection.execute(
        text("UPDATE audit_checkpoints SET document = :doc WHERE id = :id"),
        {"doc": canonical_json(altered).decode("ascii"), "id": row_id},
    )
    return Expected(None, "signature")


def relabel_action(keys: Any, connection: Connection) -> Expected:
    """Leave the leaf alone but change the indexed action column, which reports and
    exports filter on: the disclosure would vanish from the steering group's figures."""
    _update(connection, TARGET, action="audit.exported")
    return Expected(TARGET, "indexed action")


def corrupt_head(keys: Any, connection: Connection) -> Expected:
    """The head's frontier is what the next append builds on: a wrong one would make
    every later root wrong."""
    connection.execute(
        text("UPDATE audit_heads SET frontier = :f WHERE area_code = :a"),
        {"f": hashlib.sha256(b"x").digest() * 2, "a": NORTH},  # size 9: two peaks
    )
    return Expected(None, "head")


def _row(connection: Connection, seq: int) -> dict[str, object]:
    found = connection.execute(
        text(
            "SELECT leaf, leaf_hash, action, at FROM audit_events WHERE area_code = :a AND seq = :s"
        ),
        {"a": NORTH, "s": seq},
    ).one()
    return dict(found._mapping)


def _update(connection: Connection, seq: int, **values: object) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    done = connection.execute(
        text(f"UPDATE audit_events SET {assignments} WHERE area_code = :a AND seq = :s"),  # noqa: S608
        {**values, "a": NORTH, "s": seq},
    )
    assert done.rowcount == 1


def _checkpoint(connection: Connection, size: int) -> tuple[int, dict[str, object]]:
    row_id, document = connection.execute(
        text("SELECT id, document FROM audit_checkpoints WHERE area_code = :a AND size = :s"),
        {"a": NORTH, "s": size},
    ).one()
    return int(row_id), json.loads(document)


TAMPERING: dict[str, Callable[[Any, Connection], Expected]] = {
    "modify": modify,
    "modify-and-rehash": modify_and_rehash,
    "delete": delete,
    "reorder": reorder,
    "insert": insert,
    "truncate": truncate,
    "fork-checkpoint": fork_checkpoint,
    "alter-signature": alter_signature,
    "relabel-action": relabel_action,
    "corrupt-head": corrupt_head,
}


def test_clean_log_verifies(world: World) -> None:
    report = verify_area(world.north, NORTH)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (9, 4)

    done = invoke(world.north, "audit", "verify", "--area", NORTH)
    assert done.exit_code == 0, done.output
    assert f"{NORTH}: 9 entries, 4 checkpoint" in done.stdout
    assert ": OK" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_audit_verify_names_the_tampering(world: World, kind: str) -> None:
    north = world.north
    keys = secret_keys(north, NORTH)  # before the insider's write lock (SQLite)
    with insider(north) as connection:
        expected = TAMPERING[kind](keys, connection)

    report = verify_area(north, NORTH)
    assert not report.ok, f"{kind} went unnoticed"
    for says in (expected.says, *expected.also):
        assert any(says in p.what for p in report.problems), report.problems
    assert report.first_bad is not None
    assert report.first_bad.seq == expected.first_bad, report.problems

    done = invoke(north, "audit", "verify", "--area", NORTH)
    assert done.exit_code == 1, done.output
    assert f"{NORTH}: " in done.stderr and "FAILED" in done.stderr
    assert expected.says in done.stderr
    if expected.first_bad is not None:
        assert f"first bad entry: {expected.first_bad}:" in done.stderr
    else:
        assert "first bad entry" not in done.stderr

    as_json = invoke(north, "audit", "verify", "--area", NORTH, "--json")
    assert as_json.exit_code == 1
    stated = json.loads(as_json.stdout)
    assert stated["ok"] is False
    assert stated["first_bad"]["seq"] == expected.first_bad


def test_the_triggers_are_back_after_the_insider_leaves(world: World) -> None:
    """The helper itself must not leave a weakened database behind (SQLite drops and
    recreates the triggers; PostgreSQL only relaxes them for one transaction)."""
    with insider(world.north) as connection:
        modify(None, connection)
    with pytest.raises(DBAPIError, match="append-only"), world.north.node.engine.begin() as c:
        c.execute(text("DELETE FROM audit_events WHERE seq = 0"))


# --- a peer holding earlier checkpoints -----------------------------------------------------


def _peer_check(world: World) -> witness.PeerReport:
    south = world.south
    with south.node.sessions() as session:
        return witness.verify_peer(session, south.node.master, south.node.client, NORTH, utcnow())


def _drop_checkpoints_above(connection: Connection, size: int) -> None:
    for table in ("audit_checkpoints", "audit_cosignatures"):
        connection.execute(
            text(f"DELETE FROM {table} WHERE area_code = :a AND size > :s"),  # noqa: S608
            {"a": NORTH, "s": size},
        )


def rewrite_whole_tree(keys: Any, connection: Connection) -> None:
    """Change one disclosure and rebuild everything consistently: every hash, subtree and
    the head; replace all checkpoints by one fresh one signed with the real key. North's
    own `audit verify` is then satisfied; only a peer's memory can catch it."""
    changed = edit_leaf(leaf_text(connection, NORTH, TARGET), consent="given", legal_basis=[])
    frontier = rebuild_tree(connection, NORTH, {TARGET: changed})
    _drop_checkpoints_above(connection, 0)
    insert_checkpoint(connection, keys, NORTH, frontier.size, frontier.root())


def truncate_log(keys: Any, connection: Connection) -> None:
    for table in ("audit_events", "audit_salts"):  # the salts too, or seq 6 is reused
        connection.execute(
            text(f"DELETE FROM {table} WHERE area_code = :a AND seq >= 6"),  # noqa: S608
            {"a": NORTH},
        )
    fix_head(connection, NORTH)
    _drop_checkpoints_above(connection, 6)


def roll_back_and_regrow(keys: Any, connection: Connection) -> None:
    """Truncate, then (after the commit, below) grow past every size the peer holds."""
    truncate_log(keys, connection)


PEER_TAMPERING: dict[str, tuple[Callable[[Any, Connection], None], str]] = {
    "rewrite": (rewrite_whole_tree, "rewritten or forked"),
    "truncate": (truncate_log, "truncated or rolled back"),
    "roll-back-and-regrow": (roll_back_and_regrow, "rewritten or forked"),
}


@pytest.mark.parametrize("kind", list(PEER_TAMPERING))
def test_peer_holding_earlier_checkpoints_detects_the_rewrite(world: World, kind: str) -> None:
    north, south = world.north, world.south
    cosigned = north.count("audit_cosignatures")

    # While north is honest: consistent, witnessed, and the witness statement kept there.
    honest = _peer_check(world)
    assert honest.ok, honest.problems
    assert honest.checked_sizes == [3, 5, 7, 8]
    assert honest.cosigned
    assert north.count("audit_cosignatures") == cosigned + 1
    assert leaves(south, "south-vale")[-1]["action"] == "audit.peer_verified"
    held = sorted(int(s) for s in column(south, "SELECT size FROM peer_checkpoints"))
    assert held == [3, 5, 7, 8, honest.size]

    tamper, says = PEER_TAMPERING[kind]
    keys = secret_keys(north, NORTH)
    with insider(north) as connection:
        tamper(keys, connection)
    if kind == "roll-back-and-regrow":
        while north.count("audit_events") <= max(held):
            north.send(_sample(), NORTH, "south-vale")
    if kind == "rewrite":
        # North's own check sees nothing wrong any more: the point of holding peers to it.
        assert verify_area(north, NORTH).ok
    cosigned = north.count("audit_cosignatures")

    caught = _peer_check(world)
    assert not caught.ok, f"{kind} went unnoticed by the peer"
    assert caught.problems and all(says in p for p in caught.problems), caught.problems
    # Only the sizes the tampering really broke are reported.
    broken = [s for s in held if s > 6] if kind != "rewrite" else [s for s in held if s > TARGET]
    assert len(caught.problems) == len(broken), caught.problems
    assert not caught.cosigned
    assert north.count("audit_cosignatures") == cosigned
    # The bad checkpoint is not adopted, and the finding is itself in south's log.
    assert sorted(int(s) for s in column(south, "SELECT size FROM peer_checkpoints")) == held
    finding = leaves(south, "south-vale")[-1]
    assert finding["action"] == "audit.peer_inconsistent"
    assert finding["peer_area"] == NORTH
    assert finding["details"]["problems"] == len(caught.problems)
    assert verify_area(south, "south-vale").ok

    done = invoke(south, "audit", "verify", "--peer", NORTH)
    assert done.exit_code == 1, done.output
    assert f"{NORTH}: INCONSISTENT" in done.stderr
    assert says in done.stderr


def _sample() -> dict[str, object]:
    from gateway.devtools.samples import sample_transfer

    return sample_transfer(NORTH, "south-vale", victim="Regrown")


def test_a_peer_answering_with_a_checkpoint_that_does_not_verify_is_recorded(
    world: World,
) -> None:
    """An insider without the signing key can still plant a checkpoint (the node serves the
    latest one that covers its log). South must not accept it, and must keep a record of
    having been shown it, as it does for any other inconsistency."""
    north, south = world.north, world.south
    keys, impostor = secret_keys(north, NORTH), AreaSecretKeys.generate(NORTH)
    with insider(north) as connection:
        frontier = fix_head(connection, NORTH)
        document = insert_checkpoint(connection, keys, NORTH, frontier.size, frontier.root())
        forged = {**document, "sig": sign_document(document["body"], impostor)["sig"]}
        connection.execute(
            text("UPDATE audit_checkpoints SET document = :d WHERE size = :s AND id = "
                 "(SELECT max(id) FROM audit_checkpoints)"),
            {"d": canonical_json(forged).decode("ascii"), "s": frontier.size},
        )  # fmt: skip
    held = sorted(int(s) for s in column(south, "SELECT size FROM peer_checkpoints"))

    try:
        accepted, said = _peer_check(world).ok, ""
    except DomainError as refused:  # refusing outright is fine too, if it is recorded
        accepted, said = False, refused.detail
    assert not accepted
    assert not said or "signature" in said
    assert sorted(int(s) for s in column(south, "SELECT size FROM peer_checkpoints")) == held
    assert leaves(south, "south-vale")[-1]["action"] == "audit.peer_inconsistent"
