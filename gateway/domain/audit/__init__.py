"""The disclosure audit (DESIGN section 7): an append-only Merkle log per area, signed
checkpoints, cross-area evidence, verification, exports, reports and subject access."""

from gateway.domain.audit.facts import DisclosureFacts, facts_of, transfer_facts
from gateway.domain.audit.log import (
    Event,
    Recorded,
    record,
    record_everywhere,
    record_later,
    savepoint,
    start_log,
)

__all__ = [
    "DisclosureFacts",
    "Event",
    "Recorded",
    "facts_of",
    "record",
    "record_everywhere",
    "record_later",
    "savepoint",
    "start_log",
    "transfer_facts",
]
