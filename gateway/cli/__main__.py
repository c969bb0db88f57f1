"""`python -m gateway.cli`: the same command line as `marac-gateway`."""

from gateway.__main__ import main

main()
