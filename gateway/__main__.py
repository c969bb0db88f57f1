"""`marac-gateway` and `python -m gateway`: the command line, handed the app factory."""

from gateway.app import create_app
from gateway.cli import run


def main() -> None:
    run(create_app)


if __name__ == "__main__":
    main()
