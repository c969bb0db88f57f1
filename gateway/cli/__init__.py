"""`marac-gateway`: the operator's command line (DESIGN section 4, binding verbs).

The group and its shared helpers live in `root`; each module beside it adds the verbs of
one domain word. Importing this package registers them all.
"""

from __future__ import annotations

from flask import Flask

from gateway.cli import (
    audit,
    backups,
    casework,
    documents,
    flags,
    identity,
    node_setup,
    processes,
    transfers,
    workflow,
)
from gateway.cli.root import APP_FACTORY_KEY, AppFactory, Wiring, current_node, friendly, main

__all__ = [
    "Wiring",
    "audit",
    "backups",
    "casework",
    "current_node",
    "documents",
    "flags",
    "friendly",
    "identity",
    "main",
    "node_setup",
    "processes",
    "register_cli",
    "run",
    "transfers",
    "workflow",
]


def register_cli(app: Flask, create_app: AppFactory) -> None:
    """Offer every verb under `flask --app wsgi`, with the factory `serve` needs."""
    app.extensions[APP_FACTORY_KEY] = create_app
    for command in main.commands.values():
        app.cli.add_command(command)


def run(create_app: AppFactory) -> None:
    """The entry point's body: the whole command line, handed the app factory."""
    main(obj=Wiring(create_app))
