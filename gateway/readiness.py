"""Is this node ready to serve? The same checks back `/readyz`, `marac-gateway config
check` and the start-up of `serve` and `worker` (which refuse to start on a failure): the
database answers, its schema is at the migrations' head, the master key is readable, and
every hosted area's current keys open under it. Counts and words only, never an id."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.db import current_revisions, head_revisions, is_outage
from gateway.config import ConfigError, unknown_variables
from gateway.domain.areas.local_areas import areas_whose_keys_do_not_open
from gateway.domain.clock import utcnow
from gateway.metrics import metrics_directory_problems
from gateway.node import Node
from keys import MasterKeyError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness(node: Node) -> list[Check]:
    database = _database(node)
    master = _master(node)
    checks = [*database, master]
    if all(check.ok for check in checks):
        checks.append(_area_keys(node))
    return checks


def _database(node: Node) -> list[Check]:
    try:
        current = current_revisions(node.engine)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return [Check("database", False, "unreachable")]
    heads = head_revisions()
    if current == heads:
        schema = Check("schema", True, "at head " + ", ".join(sorted(heads)))
    elif not current:
        schema = Check("schema", False, "not migrated: run `marac-gateway db upgrade`")
    else:
        detail = f"at {', '.join(sorted(current))}, head is {', '.join(sorted(heads))}"
        schema = Check("schema", False, detail + ": run `marac-gateway db upgrade`")
    return [Check("database", True, "reachable"), schema]


def _master(node: Node) -> Check:
    try:
        node.master  # noqa: B018 - loading it is the check
    except MasterKeyError as exc:
        return Check("master_key", False, str(exc))
    return Check("master_key", True, "readable")


def _area_keys(node: Node) -> Check:
    with node.sessions() as session:
        failing = areas_whose_keys_do_not_open(session, node.master, utcnow())
    if failing:
        return Check("area_keys", False, f"{failing} area(s) have no key that opens")
    return Check("area_keys", True, "open")


def startup_checks(node: Node, env: Mapping[str, str] | None = None) -> None:
    """Refuse to start (ConfigError, naming every problem) rather than run half-broken."""
    env = os.environ if env is None else env
    problems = [f"unknown setting {name}" for name in unknown_variables(env)]
    problems += metrics_directory_problems(env)
    problems += [f"{check.name}: {check.detail}" for check in readiness(node) if not check.ok]
    if problems:
        raise ConfigError("not ready: " + "; ".join(problems))
