"""What the API's lists and answers share: page sizes and the opaque keyset cursor, the
actor of a timeline step or audit event, the RFC 9457 problem document, area codes in a path."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields

from schemas.common import AREA_CODE, UUIDString

PAGE_DEFAULT, PAGE_MAX = 50, 200
# base64url of a timestamp and a UUID is about 110 characters.
CURSOR_MAX_CHARS = 200


class Cursor(fields.String):
    """Opaque to clients: base64url of [created_at, id] of the last item seen."""

    # A String on the wire (so the OpenAPI document says string), a tuple once loaded.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[datetime, str]:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > CURSOR_MAX_CHARS:  # before decoding: the JSON inside nests nothing
            raise ValidationError("Not a cursor from this API.")
        try:
            decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            created, ident = decoded
            moment = datetime.fromisoformat(created)
            UUIDString()._deserialize(ident, None, None)
        except (ValueError, TypeError, binascii.Error, ValidationError) as exc:
            raise ValidationError("Not a cursor from this API.") from exc
        if moment.tzinfo is None:
            raise ValidationError("Not a cursor from this API.")
        return moment.astimezone(UTC), ident


def encode_cursor(created: datetime, ident: str) -> str:
    raw = json.dumps([created.astimezone(UTC).isoformat(), ident]).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class ActorSchema(Schema):
    kind = fields.String(required=True)
    id = fields.String(required=True)
    role = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` names the fields at fault, never their values."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict()
    error = fields.String(metadata={"description": "RFC 6749 error code (token endpoint)."})


def is_area_code(value: str) -> bool:
    return bool(AREA_CODE.match(value))
