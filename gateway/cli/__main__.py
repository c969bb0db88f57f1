"""`python -m gateway.cli`: the same command line as `marac-gateway`."""

from gateway.app import create_app
from gateway.cli import run

run(create_app)
