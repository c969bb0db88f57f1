"""Documents a transfer said would follow, and by when (seed 000 4.24.2: the minutes, the
original referral and the rest are shared unless agreed otherwise; transfer_request
version 2 `documents.to_follow`).

A promised document is matched by kind: the send pages write a document kind code
(`schemas.wire.document.KINDS`); words of the sender's own (an API client's) stand for
the kind `other`. The n-th promise of a kind, in order of its date, is kept once n
documents of that kind are on the transfer: received, for the receiving area; sent or held
to follow delivery, for the sending area.

The sending node records its promises (kind and date, nothing personal) when the transfer
leaves `draft`, so the worker can find the ones whose date has passed without opening any
content (`schedule.document_reminders`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy.orm import Session

from adapters.db.models import PromisedDocument, Transfer
from gateway.domain.casework.documents import HELD
from gateway.domain.transfers.states import INBOUND, OUTBOUND
from schemas.wire.document import KINDS
from schemas.wire.transfer_request import TransferRequest

OTHER = "other"
# The directions of documents that keep a promise, by the transfer's direction.
KEEPING = {INBOUND: frozenset({INBOUND}), OUTBOUND: frozenset({OUTBOUND, HELD})}


def kind_of(document: str) -> str:
    """The document kind a promise names: its code, or `other` for words of its own."""
    return document if document in KINDS else OTHER


@dataclass(frozen=True)
class Promise:
    document: str  # as the transfer names it: a kind code, or the sender's words
    kind: str
    by: date
    kept: bool  # a document of its kind is on the transfer
    overdue: bool  # not kept, and its date has passed


class Kind(Protocol):
    """A document on the transfer, as far as promises care (`documents.DocumentView`)."""

    @property
    def kind(self) -> str: ...

    @property
    def direction(self) -> str: ...


def promises(
    to_follow: Iterable[Mapping[str, Any]],
    documents: Iterable[Kind],
    direction: str,
    today: date,
) -> list[Promise]:
    """Each promise of the opened payload's `documents.to_follow` (JSON form), in order of
    date, marked kept or not against the transfer's documents."""
    wanted = sorted(
        (
            (date.fromisoformat(str(item["by"])), i, str(item["document"]))
            for i, item in enumerate(to_follow)
        ),
    )
    keeping = KEEPING.get(direction, frozenset())
    left: dict[str, int] = {}
    for found in documents:
        if found.direction in keeping:
            left[found.kind] = left.get(found.kind, 0) + 1
    result = []
    for by, _, document in wanted:
        kind = kind_of(document)
        kept = left.get(kind, 0) > 0
        if kept:
            left[kind] -= 1
        result.append(Promise(document, kind, by, kept, not kept and by < today))
    return result


def record(session: Session, transfer: Transfer, request: TransferRequest) -> None:
    """Keep an outbound transfer's promises (kind and date) for the reminders; in the
    caller's transaction, when the transfer leaves `draft`."""
    plan = request.documents
    if plan is None:
        return
    for position, item in enumerate(plan.to_follow):
        session.add(
            PromisedDocument(
                transfer_id=transfer.id,
                area_code=transfer.area_code,
                position=position,
                kind=kind_of(item.document),
                due=item.by,
                reminded_at=None,
            )
        )
