"""Transfers (DESIGN sections 2 and 3): sending one, reading and listing them, their states
and timeline, drafts, and restricted cases."""
