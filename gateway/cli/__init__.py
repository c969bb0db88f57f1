"""`marac-gateway`: the operator's command line (DESIGN section 4, binding verbs).

The group and its shared helpers live in `root`; each module beside it adds the verbs of
one domain word, imported when one of its verbs runs (`root.VERBS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.cli.root import (
    APP_FACTORY_KEY,
    AppFactory,
    Wiring,
    current_node,
    friendly,
    load_verbs,
    main,
)

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["Wiring", "current_node", "friendly", "main", "register_cli", "run"]


def register_cli(app: Flask, create_app: AppFactory) -> None:
    """Offer every verb under `flask --app wsgi`, with the factory `serve` needs."""
    app.extensions[APP_FACTORY_KEY] = create_app
    load_verbs()
    for command in main.commands.values():
        app.cli.add_command(command)


def run(create_app: AppFactory) -> None:
    """The entry point's body: the whole command line, handed the app factory."""
    main(obj=Wiring(create_app))
