"""What the audit records about a disclosure, taken from the payload while it is open in
memory: legal-basis codes and consent status (metadata, stored in clear), and the identity
of the person concerned (personal: only its salted commitment enters the leaf)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.wire.transfer_request import TransferRequest


@dataclass(frozen=True)
class DisclosureFacts:
    legal_basis: tuple[str, ...] = ()
    consent: str | None = None
    personal: dict[str, Any] | None = None


def facts_of(loaded: object) -> DisclosureFacts:
    if isinstance(loaded, TransferRequest):
        return transfer_facts(loaded)
    return DisclosureFacts()


def transfer_facts(request: TransferRequest) -> DisclosureFacts:
    victim = request.victim
    born = victim.date_of_birth.isoformat() if victim.date_of_birth else None
    return DisclosureFacts(
        legal_basis=tuple(request.consent.grounds),
        consent=request.consent.consent,
        personal={
            "victim": {
                "given_names": victim.given_names,
                "family_name": victim.family_name,
                "date_of_birth": born,
            },
            "case_ref": request.originating_case_ref,
        },
    )
