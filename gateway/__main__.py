"""`marac-gateway` and `python -m gateway`: the command line, handed the app factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.cli import run

if TYPE_CHECKING:
    from flask import Flask

    from gateway.config import Settings


def create_app(settings: Settings) -> Flask:
    """The app factory, imported when a verb needs the app (`serve`), not at start."""
    from gateway.app import create_app as factory

    return factory(settings)


def main() -> None:
    run(create_app)


if __name__ == "__main__":
    main()
