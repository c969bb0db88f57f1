"""The network half of delivery: POST claimed envelopes to their peers, one at a time or
in envelope batches (docs/contract.md, "Envelope batches"), and read the answers: receipts,
not yet checked against the outbox, or refusals classified for the retry policy. No
database work here, so units of a claimed batch run at once; `delivery` claims, looks up
the routes, and records what came back (imports point from delivery to here only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from adapters.peer_client import PeerClient, PeerResponse, PeerUnreachable
from keys import (
    AreaSecretKeys,
    CryptoError,
    PublicAreaKey,
    canonical_json,
    format_time,
    issue_request_token,
    parse_json,
    verify_document,
)
from schemas.common import parse_timestamp
from schemas.wire.envelope import (
    BATCH_MAX_BYTES,
    BATCH_MAX_ENVELOPES,
    ENVELOPE_BATCHES_PATH,
    ENVELOPES_PATH,
)
from schemas.wire.receipt import RECEIPT_KIND, ReceiptSchema

# Built once: a schema instance deep-copies its fields when made, and loading is
# thread-safe (nothing here sets its context).
_RECEIPT = ReceiptSchema()

# The receiver has judged the envelope itself and will judge it the same way again.
PERMANENT_STATUSES = frozenset({400, 404, 409, 413, 415, 422})
# The peer as a whole is not answering: probe it with one envelope, not its whole backlog.
PEER_DOWN_STATUSES = frozenset({429, 502, 503, 504})
CLOCK_SKEW = "clock-skew"


@dataclass(frozen=True)
class Claim:
    outbox_id: int
    envelope_id: str
    from_area: str
    from_key: str
    to_area: str
    body: str
    digest: str
    created_at: datetime
    request_id: str | None = None


class DeliveryError(Exception):
    def __init__(
        self,
        detail: str,
        *,
        permanent: bool,
        reason: str,
        peer_down: bool = False,
        slug: str = "",
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
        self.reason = reason  # a bounded code for metrics: unreachable, http_<status>, ...
        self.peer_down = peer_down
        self.slug = slug  # the peer's problem slug, if it sent one


# Envelopes in flight to one peer that takes them one at a time (a peer whose bundle does
# not offer batches): a small bound, so a burst does not open a connection per envelope.
PER_PEER = 4
# Envelopes per batch POST: as many as the receiver takes (the contract's limit), so that
# a claimed batch for one peer goes as one POST. Each POST costs both sides a fixed share
# (a request token, a read and a write transaction, the checkpoint's checks, a lock of the
# audit head) and several at once contend for the peer's cores and its database writer:
# bench/federation.py moved a burst about twice as fast at 25 a POST as at 5. Twenty-five
# ordinary envelopes are stored in well under a second, far inside the peer timeout and
# the claim's lease; an envelope too large for a batch still travels alone.
BATCH_SEND = BATCH_MAX_ENVELOPES
# Answers to a batch as a whole that say nothing about its envelopes.
BATCH_REFUSED = frozenset({400, 404, 405, 413, 415})


@dataclass(frozen=True)
class Receipt:
    """A peer's answer that it holds the envelope: the receipt's text, not yet checked,
    and whether the peer already held it (answered 200: a retry)."""

    text: str
    retry: bool = False


# The receipt, the failure, or None: not tried (it waits behind the peer's probe).
Result = Receipt | DeliveryError | None


@dataclass(frozen=True)
class Route:
    """How a group of claims (one sending key, one peer) travels."""

    url: str | None  # the peer's node URL; None: not (or no longer) a known peer
    batches: bool  # the peer's bundle offers the envelope batch exchange
    sender: AreaSecretKeys | None  # None: the sending key is no longer held


@dataclass(frozen=True)
class Unit:
    """Deliveries done in one go: one batch POST, or a lane of single POSTs."""

    route: Route
    claims: tuple[Claim, ...]
    batch: bool


def plan(claims: list[Claim], found: dict[tuple[str, str], Route]) -> list[Unit]:
    """Units that may run at once: to a peer that takes batches, its envelopes in as few
    batches as the limits allow; to any other peer, up to PER_PEER lanes of single POSTs."""
    groups: dict[tuple[str, str], list[Claim]] = {}
    for claim in claims:
        groups.setdefault((claim.from_key, claim.to_area), []).append(claim)
    units: list[Unit] = []
    for key, group in groups.items():
        route = found[key]
        if route.batches and len(group) > 1:
            units += [Unit(route, chunk, len(chunk) > 1) for chunk in _chunks(group)]
        else:
            lanes = min(PER_PEER, len(group))
            units += [Unit(route, tuple(group[i::lanes]), False) for i in range(lanes)]
    return units


def _chunks(group: list[Claim]) -> list[tuple[Claim, ...]]:
    """Batches within the receiver's limits; an envelope too large for any batch (one
    carrying a large document) travels alone."""
    chunks: list[tuple[Claim, ...]] = []
    current: list[Claim] = []
    size = 0
    room = BATCH_MAX_BYTES - 1024  # the batch's own framing
    for claim in group:
        length = len(claim.body) + 1
        if length > room:
            chunks.append((claim,))
            continue
        if current and (len(current) == BATCH_SEND or size + length > room):
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(claim)
        size += length
    if current:
        chunks.append(tuple(current))
    return chunks


def send_unit(client: PeerClient, unit: Unit, now: datetime) -> list[tuple[Claim, Result]]:
    """The network half of delivering a unit: no database work, so units run at once."""
    if unit.route.url is None:
        gone = DeliveryError("the peer is not known", permanent=False, reason="unknown_peer")
        return [(claim, gone) for claim in unit.claims]
    if unit.batch:
        return _send_batch(client, unit.route.url, unit.route.sender, unit.claims, now)
    return _send_lane(client, unit.route.url, unit.route.sender, unit.claims, now)


def _send_lane(
    client: PeerClient,
    base: str,
    sender: AreaSecretKeys | None,
    claims: tuple[Claim, ...],
    now: datetime,
) -> list[tuple[Claim, Result]]:
    results: list[tuple[Claim, Result]] = []
    for index, claim in enumerate(claims):
        try:
            results.append((claim, send_one(client, base + ENVELOPES_PATH, sender, claim, now)))
        except DeliveryError as exc:
            results.append((claim, exc))
            if exc.peer_down:  # one probe at a time: the rest wait behind it
                results += [(rest, None) for rest in claims[index + 1 :]]
                break
    return results


def _send_batch(
    client: PeerClient,
    base: str,
    sender: AreaSecretKeys | None,
    claims: tuple[Claim, ...],
    now: datetime,
) -> list[tuple[Claim, Result]]:
    if sender is None:
        return [(claim, _key_gone()) for claim in claims]
    url = base + ENVELOPE_BATCHES_PATH
    # The stored bodies are canonical JSON already: the batch is framed around them.
    body = b'{"envelopes":[' + b",".join(c.body.encode("ascii") for c in claims) + b"]}"
    token = issue_request_token(
        sender,
        audience=claims[0].to_area,
        method="POST",
        url=url,
        body=body,
        now=int(now.timestamp()),
    )
    try:
        response = _exchange(client, url, body, token, len(claims))
    except DeliveryError as exc:
        return [(claims[0], exc)] + [(claim, None) for claim in claims[1:]]
    if response.status in BATCH_REFUSED:
        # The peer no longer offers batches (its bundle is out of date), or refuses this
        # batch as a whole: one at a time, so each envelope gets its own verdict (a batch's
        # refusal is never taken as a permanent refusal of the envelopes in it).
        return _send_lane(client, base, sender, claims, now)
    if response.status != 200:
        error = _refusal(response.status, response.body, now)
        if error.peer_down:
            return [(claims[0], error)] + [(claim, None) for claim in claims[1:]]
        return [(claim, error) for claim in claims]
    answers = _batch_answers(response.body, len(claims))
    if answers is None:
        bad = DeliveryError(
            "peer sent a malformed batch answer", permanent=False, reason="bad_receipt"
        )
        return [(claim, bad) for claim in claims]
    return [
        (claim, _answer(claim, answer, now)) for claim, answer in zip(claims, answers, strict=True)
    ]


def _batch_answers(body: bytes, count: int) -> list[dict[str, Any]] | None:
    try:
        results = parse_json(body).get("results")
    except (ValueError, AttributeError):
        return None
    if not isinstance(results, list) or len(results) != count:
        return None
    if not all(isinstance(answer, dict) for answer in results):
        return None
    return results


def _answer(claim: Claim, answer: dict[str, Any], now: datetime) -> Result:
    """One envelope's answer within a batch: its receipt, or its own refusal."""
    status = answer.get("status")
    if answer.get("id") != claim.envelope_id or not isinstance(status, int):
        return DeliveryError(
            "peer answered for another envelope", permanent=False, reason="bad_receipt"
        )
    if status in (200, 202) and isinstance(answer.get("receipt"), dict):
        return Receipt(canonical_json(answer["receipt"]).decode("ascii"), status == 200)
    problem = answer.get("problem")
    return _refusal(
        status, json.dumps(problem).encode("utf-8") if isinstance(problem, dict) else b"", now
    )


def send_one(
    client: PeerClient, url: str, sender: AreaSecretKeys | None, claim: Claim, now: datetime
) -> Receipt:
    """POST one envelope; the receipt's text, not yet checked (no database work here, so
    several run at once)."""
    if sender is None:
        raise _key_gone()
    body = claim.body.encode("ascii")
    token = issue_request_token(
        sender,
        audience=claim.to_area,
        method="POST",
        url=url,
        body=body,
        now=int(now.timestamp()),
    )
    response = _exchange(client, url, body, token)
    if response.status not in (200, 202):
        raise _refusal(response.status, response.body, now)
    return Receipt(response.body.decode("utf-8", errors="replace"), response.status == 200)


def _key_gone() -> DeliveryError:
    return DeliveryError(
        "the sending key is no longer held", permanent=True, reason="sending_key_gone"
    )


def _exchange(
    client: PeerClient, url: str, body: bytes, token: str, items: int = 1
) -> PeerResponse:
    try:
        return client.post(url, body, token, items=items)
    except PeerUnreachable as exc:
        raise DeliveryError(
            f"peer unreachable ({exc})", permanent=False, reason="unreachable", peer_down=True
        ) from exc


def _refusal(status: int, body: bytes, now: datetime) -> DeliveryError:
    slug = _problem_slug(body)
    return DeliveryError(
        f"peer answered HTTP {status}{f' ({slug})' if slug else ''}"
        f"{_skew_note(body, now) if slug == CLOCK_SKEW else ''}",
        permanent=status in PERMANENT_STATUSES,
        reason=f"http_{status}",
        peer_down=status in PEER_DOWN_STATUSES,
        slug=slug,
    )


def _problem_slug(body: bytes) -> str:
    """The peer's problem type (our own fixed vocabulary), never its free text."""
    try:
        kind = parse_json(body).get("type", "")
    except (ValueError, AttributeError):
        return ""
    slug = str(kind).rsplit("/", 1)[-1][:40]
    return slug if slug.replace("-", "").isalnum() else ""


def _skew_note(body: bytes, now: datetime) -> str:
    """How far the peer's clock (its problem's `server_time`) is from ours, in words."""
    try:
        theirs = parse_timestamp(str(parse_json(body)["server_time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    seconds = round((theirs - now).total_seconds())
    side = "ahead of" if seconds >= 0 else "behind"
    return f": the peer's clock is {abs(seconds)} s {side} ours (peer time {format_time(theirs)})"


def verify_receipt_with(
    key_of: Callable[[str], PublicAreaKey | None], claim: Claim, text: str
) -> None:
    try:
        document = parse_json(text)
        receipt = _RECEIPT.load(document)
    except (ValueError, ValidationError) as exc:
        raise DeliveryError(
            "peer sent a malformed receipt", permanent=False, reason="bad_receipt"
        ) from exc
    body = receipt.body
    key = key_of(body.key)
    if key is None or key.area != claim.to_area:
        raise DeliveryError(
            "receipt signed by a key not pinned for the peer", permanent=False, reason="bad_receipt"
        )
    try:
        verify_document(document, RECEIPT_KIND, key.signing_public)
    except CryptoError as exc:
        raise DeliveryError(
            "receipt signature does not verify", permanent=False, reason="bad_receipt"
        ) from exc
    expected = (claim.envelope_id, claim.digest, claim.to_area, claim.from_area)
    if (body.envelope_id, body.envelope_digest, body.from_area, body.to_area) != expected:
        raise DeliveryError(
            "receipt is for another envelope", permanent=False, reason="bad_receipt"
        )
