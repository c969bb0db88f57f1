"""The command line starts without loading the node: `--help` lists every verb from
`root.VERBS` without importing Flask, SQLAlchemy or PyNaCl, and the table is exactly what
the verbs' modules define (so a new verb cannot be left out of it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import click

from gateway.cli import main
from gateway.cli.root import VERBS, load_verbs

HEAVY = ("flask", "sqlalchemy", "nacl", "alembic", "gateway.node", "gateway.domain.transfers")
PROBE = """
import sys
from gateway.__main__ import main
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
print("heavy:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _callbacks(command: click.Command) -> Iterator[str]:
    if command.callback is not None:
        yield command.callback.__module__
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _callbacks(sub)


def test_the_table_of_verbs_is_what_the_modules_define() -> None:
    load_verbs()
    assert set(main.commands) == set(VERBS)
    for name, command in main.commands.items():
        assert VERBS[name].help == command.get_short_help_str(limit=200), name
        modules = {m.removeprefix("gateway.cli.") for m in _callbacks(command)} - {"root"}
        assert modules <= set(VERBS[name].modules), (name, modules)


def _probe(*args: str, heavy: tuple[str, ...] = HEAVY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_help_and_version_load_nothing_heavy() -> None:
    for args in (["--help"], ["--version"]):
        done = _probe(*args)
        assert done.stdout.splitlines()[-1] == "heavy:", (args, done.stdout)
    listed = _probe("--help").stdout
    for name, verb in VERBS.items():
        assert name in listed and verb.help.split()[0] in listed


def test_a_verb_loads_its_module_when_it_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "flags", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "policy" in done.stdout and "expire" in done.stdout


def test_a_verb_that_opens_the_database_does_not_load_the_migrations() -> None:
    """Alembic is for `db upgrade` and the readiness check; every other verb that opens
    the database starts without it (adapters.db.migrate imports it where it is used)."""
    done = _probe("user", "--help", heavy=("alembic", "sqlalchemy"))
    assert done.stdout.splitlines()[-1] == "heavy:sqlalchemy", done.stdout
