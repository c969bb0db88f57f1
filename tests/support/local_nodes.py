"""Nodes without HTTP, for the domain tests: the node's own migrated database (a SQLite
file, or a PostgreSQL database created for the test), its own master key and real area
keys, and the domain services called directly with a Principal.

Between two such nodes an envelope is carried by `carry`: the sender's outbox is claimed
exactly as the worker claims it, the request token is signed with the sending area's key
and the receiving node's own `receive_envelope` checks and stores it. Only the HTTP hop
in between is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from support.nodes import Databases, Templates, prepare_node

from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.federation import delivery, posting, receiving
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, sending
from gateway.node import Node
from keys import MasterKey, fingerprint, issue_request_token
from schemas.wire.envelope import ENVELOPES_PATH

PASSWORD = "a long enough passphrase for tests"
NORTH, SOUTH = "northshire", "south-vale"


@dataclass
class LocalNode:
    name: str
    home: Path
    settings: Settings
    node: Node
    url: str
    areas: list[str] = field(default_factory=list)

    @property
    def master(self) -> MasterKey:
        return self.node.master

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session with no transaction open, as a view or verb hands to a service."""
        with self.node.sessions() as session:
            yield session

    def create_area(self, code: str, now: datetime) -> None:
        with self.session() as session:
            local_areas.create_area(
                session,
                self.master,
                code=code,
                name=f"{code.title()} MARAC",
                url=self.url,
                mailbox=f"marac@{code}.example",
                now=now,
            )
        self.areas.append(code)

    def bundle(self, code: str, now: datetime) -> dict[str, Any]:
        with self.session() as session, session.begin():
            return local_areas.export_bundle(session, self.master, code, now)

    def import_peer(self, bundle: dict[str, Any], now: datetime) -> None:
        with self.session() as session:
            peers.import_peer(session, bundle, fingerprint(bundle["body"]), now)

    def user(self, email: str, area: str, role: str, now: datetime) -> Principal:
        """A real account holding `role` in `area`, as the principal it signs in as."""
        with self.session() as session:
            grant = users.add_user_role(
                session, self.master, email=email, area=area, role=role, password=PASSWORD, now=now
            )
            return Principal.user(grant.user_id, users.current_roles(session, grant.user_id))

    def send(
        self,
        from_area: str,
        to_area: str,
        now: datetime,
        principal: Principal | None = None,
        **changes: Any,
    ) -> reading.TransferView:
        payload = {**sample_transfer(from_area, to_area), **changes}
        with self.session() as session:
            return sending.send(
                session,
                self.master,
                principal or Principal.operator(),
                sending.addressed(payload, from_area, to_area),
                now,
            )

    def execute(self, sql: str, **params: Any) -> None:
        """Change the database behind the services' back (an insider, or the clock)."""
        with self.node.engine.begin() as connection:
            connection.execute(text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.node.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def count(self, table: str, where: str = "1 = 1", **params: Any) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params))  # noqa: S608

    def counts(self, *tables: str) -> dict[str, int]:
        return {table: self.count(table) for table in tables}

    def close(self) -> None:
        self.node.close()


def local_node(
    name: str, port: int, databases: Databases, tmp_path: Path, templates: Templates | None = None
) -> LocalNode:
    """`port` only names the node's published URL: nothing listens there. `templates`: the
    migrated databases to copy rather than migrating again."""
    home, settings, node = prepare_node(name, databases, tmp_path, templates=templates)
    return LocalNode(name, home, settings, node, f"http://127.0.0.1:{port}")


def due(sender: LocalNode, now: datetime) -> list[posting.Claim]:
    """Claim the sender's due envelopes, exactly as its worker does."""
    with sender.session() as session:
        return delivery.claim_due(session, sender.master, now=now, lease=60, limit=100)


def request_token(
    sender: LocalNode, claim: posting.Claim, receiver: LocalNode, body: bytes, now: datetime
) -> str:
    """The token the sending area signs for posting `body` to the receiving node."""
    with sender.session() as session, session.begin():
        keys = local_areas.secret_keys_by_id(session, sender.master, claim.from_key)
    assert keys is not None
    return issue_request_token(
        keys,
        audience=claim.to_area,
        method="POST",
        url=receiver.url + ENVELOPES_PATH,
        body=body,
        now=int(now.timestamp()),
    )


def hand_over(
    sender: LocalNode,
    claim: posting.Claim,
    receiver: LocalNode,
    now: datetime,
    *,
    body: bytes | None = None,
    token: str | None = None,
) -> receiving.Accepted:
    """Post one claimed envelope (or another `body` in its place) to the receiving service."""
    posted = claim.body.encode("ascii") if body is None else body
    token = token or request_token(sender, claim, receiver, posted, now)
    with receiver.session() as session:
        return receiving.receive_envelope(
            session,
            receiver.master,
            read_body=lambda: posted,
            authorization=f"Bearer {token}",
            now=now,
        )


def carry(sender: LocalNode, receiver: LocalNode, now: datetime) -> list[receiving.Accepted]:
    """Hand every due envelope of `sender` to `receiver`'s receiving service."""
    return [hand_over(sender, claim, receiver, now) for claim in due(sender, now)]
