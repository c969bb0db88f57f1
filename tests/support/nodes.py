"""Real nodes on real HTTP, each with its own database (SQLite file or a PostgreSQL database
created for the test and dropped after it). The fixtures in tests/conftest.py hand them out."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, select, text
from werkzeug.serving import make_server

from adapters.db import make_engine, upgrade
from adapters.db.models import Envelope
from adapters.db.session import normalise_url
from gateway.app import create_app
from gateway.config import Settings
from gateway.devtools.samples import sample_transfer
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.federation import envelope_writer
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import reading, sending
from gateway.node import Node, build_node
from gateway.worker import run_worker
from keys import MasterKey, fingerprint

PG_ENV = "GATEWAY_TEST_DATABASE_URL"


def pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL half: set {PG_ENV}")
    return url


class Databases:
    """Creates a fresh database per node and drops every one at the end of the test."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp_path = backend, tmp_path
        self.created: list[str] = []

    def new(self, name: str, template: str | None = None) -> str:
        """A new empty database, or on PostgreSQL a copy of the `template` database."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / name / 'gateway.db'}"
        database = f"marac_test_{uuid.uuid4().hex[:12]}"
        copied = f' TEMPLATE "{template}"' if template else ""
        _admin_execute(f'CREATE DATABASE "{database}"{copied}')
        self.created.append(database)
        return _database_url(database)

    def drop_all(self) -> None:
        if not self.created:
            return
        engine = create_engine(normalise_url(pg_admin_url() or ""), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for database in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        engine.dispose()


def _admin_execute(statement: str) -> None:
    engine = create_engine(normalise_url(pg_admin_url() or ""), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _database_url(database: str) -> str:
    return normalise_url(pg_admin_url() or "").rsplit("/", 1)[0] + "/" + database


class Templates:
    """One database per backend built by the migrations, made on first use and copied for
    each new node instead of migrating it again; `drop` removes the PostgreSQL one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgresql: str | None = None

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self.folder / "gateway.db"
            migrate(f"sqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def postgresql(self) -> str:
        if self._postgresql is None:
            database = f"marac_template_{uuid.uuid4().hex[:12]}"
            _admin_execute(f'CREATE DATABASE "{database}"')
            self._postgresql = database
            migrate(_database_url(database))
        return self._postgresql

    def drop(self) -> None:
        if self._postgresql is not None:
            _admin_execute(f'DROP DATABASE IF EXISTS "{self._postgresql}" WITH (FORCE)')


@dataclass
class RunningNode:
    """A node whose web app serves real HTTP on 127.0.0.1 from a background thread."""

    name: str
    home: Path
    settings: Settings
    node: Node
    url: str
    _server: Any
    _thread: threading.Thread
    areas: list[str] = field(default_factory=list)

    @property
    def app(self) -> Any:
        """The node's Flask app, for in-process requests (`app.test_client()`)."""
        return self._server.app

    @property
    def env(self) -> dict[str, str]:
        """Environment for a CLI or worker subprocess pointed at this node."""
        return {
            **os.environ,
            "GATEWAY_INSTANCE_DIR": str(self.home),
            "GATEWAY_DATABASE_URL": self.settings.database_url,
            "GATEWAY_MASTER_KEY_FILE": str(self.settings.master_key_file),
            "GATEWAY_SECRET_KEY": self.settings.secret_key or "",
            "GATEWAY_BASE_URL": self.url,
        }

    def create_area(self, code: str) -> None:
        with self.node.sessions() as session:
            local_areas.create_area(
                session,
                self.node.master,
                code=code,
                name=f"{code.title()} MARAC",
                url=self.url,
                mailbox=f"marac@{code}.example",
                now=utcnow(),
            )
        self.areas.append(code)

    def bundle(self, code: str) -> dict[str, Any]:
        """The bundle the node publishes (listing the payload versions it accepts)."""
        with self.node.sessions() as session, session.begin():
            return local_areas.export_bundle(
                session, self.node.master, code, utcnow(), self.node.accepts
            )

    def import_peer(self, bundle: dict[str, Any]) -> None:
        with self.node.sessions() as session:
            peers.import_peer(session, bundle, fingerprint(bundle["body"]), utcnow())

    def send(self, payload: dict[str, Any], from_area: str, to_area: str) -> reading.TransferView:
        with self.node.sessions() as session:
            return sending.send(
                session,
                self.node.master,
                Principal.operator(),
                sending.addressed(payload, from_area, to_area),
                utcnow(),
            )

    def deliver(self) -> int:
        return run_worker(self.node, once=True)

    def prove_queued(self) -> int:
        """Attach their evidence to the envelopes waiting for it, as the worker's claim
        does, without posting them: the bytes the worker would send. How many it proved."""
        with self.node.sessions() as session, session.begin():
            waiting = list(
                session.scalars(select(Envelope).where(Envelope.evidence_seq.is_not(None)))
            )
            envelope_writer.attach_evidence(session, self.node.master, waiting, utcnow())
        return len(waiting)

    def transfers(self, area: str) -> list[reading.TransferView]:
        with self.node.sessions() as session:
            return reading.list_transfers(session, area)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.node.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608 - test tables

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.node.close()


def prepare_node(
    name: str,
    databases: Databases,
    tmp_path: Path,
    *,
    templates: Templates | None = None,
    **overrides: Any,
) -> tuple[Path, Settings, Node]:
    """A node's home, settings, master key and migrated database, not yet serving; the
    database is a copy of the migrated template when `templates` are given."""
    home = tmp_path / name
    home.mkdir(parents=True, exist_ok=True)
    copied = templates is not None and databases.backend == "postgresql"
    url = databases.new(name, templates.postgresql() if templates and copied else None)
    env = {
        "GATEWAY_INSTANCE_DIR": str(home),
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_MASTER_KEY_FILE": str(home / "master.key"),
        "GATEWAY_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "GATEWAY_DELIVERY_BACKOFF": "0.05",
        "GATEWAY_DELIVERY_BACKOFF_CAP": "0.2",
        "GATEWAY_PEER_TIMEOUT": "30",  # a loaded CI machine; fault tests set their own
        **{k: str(v) for k, v in overrides.items()},
    }
    settings = Settings.from_env(env)
    MasterKey.create_file(settings.master_key_file)
    file = make_url(settings.database_url).database
    if templates is not None and databases.backend == "sqlite" and file:
        shutil.copyfile(templates.sqlite(), file)
    elif not copied:
        migrate(settings.database_url)
    return home, settings, build_node(settings)


def migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def start_node(name: str, databases: Databases, tmp_path: Path, **overrides: Any) -> RunningNode:
    home, settings, node = prepare_node(name, databases, tmp_path, **overrides)
    app = create_app(settings, node)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningNode(
        name, home, settings, node, f"http://127.0.0.1:{server.server_port}", server, thread
    )


@dataclass
class Pair:
    north: RunningNode
    south: RunningNode

    def send(self, **kwargs: Any) -> reading.TransferView:
        return self.north.send(
            sample_transfer("northshire", "south-vale", **kwargs), "northshire", "south-vale"
        )


def stored_envelope(node: RunningNode, area: str) -> dict[str, Any]:
    body = node.scalar(
        "SELECT body FROM envelopes WHERE area_code = :area ORDER BY pk LIMIT 1", area=area
    )
    return dict(json.loads(body))


def now() -> datetime:
    return datetime.now(UTC)
