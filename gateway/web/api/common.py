"""What every application API view shares (DESIGN section 4): the blueprint they register
on, reading a JSON object body, the canonical id in a path, and a transfer item."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from gateway.domain.transfers import reading
from gateway.errors import Malformed, NotFound
from gateway.web.limits import require_utf8
from schemas.api.transfers import TransferItemSchema

api = Blueprint("api", __name__, url_prefix="/api/v1")


def json_object() -> dict[str, Any]:
    if not request.is_json:
        raise Malformed("Send a JSON object (Content-Type: application/json).")
    require_utf8()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Malformed("The body is not a JSON object.")
    return body


# One instance for every request: building a Schema deep-copies its fields, which cost
# more than the page's query when a list built one per item. Dumping keeps no state on it.
_TRANSFER_ITEM = TransferItemSchema()


def transfer_item(view: reading.TransferView) -> dict[str, Any]:
    dumped: dict[str, Any] = _TRANSFER_ITEM.dump(view)
    return dumped


def transfer_items(views: list[reading.TransferView]) -> list[dict[str, Any]]:
    dumped: list[dict[str, Any]] = _TRANSFER_ITEM.dump(views, many=True)
    return dumped


def canonical_id(transfer_id: str) -> None:
    """Only canonical UUIDs name a transfer; anything else cannot exist here."""
    try:
        canonical = str(uuid.UUID(transfer_id)) == transfer_id
    except ValueError:
        canonical = False
    if not canonical:
        raise NotFound("No such transfer.")
