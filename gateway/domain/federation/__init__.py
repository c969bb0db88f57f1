"""Envelopes between nodes (DESIGN sections 3 and 4): the one writer of outbound envelopes,
receiving and its one payload-handler registry, and delivery of the outbox."""
