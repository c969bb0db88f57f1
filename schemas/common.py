"""Field types and the strict base schema shared by every wire format and API body."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

AREA_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")

# Length limits: generous for real names and notes, small enough that a body cannot be used
# to exhaust memory or smuggle a document through a text field.
SHORT = 200
MEDIUM = 2_000
LONG = 20_000


class DoesNotFit(Exception):
    """A payload carries facts an older version of its type has no place for; `fields`
    names them (raised by down-converters, schemas/wire/payload_versions.py)."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


class StrictSchema(Schema):
    """Unknown fields are refused everywhere: a typo must not silently drop a fact."""

    class Meta:
        unknown = RAISE


def area_code(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Regexp(AREA_CODE, error="Not a valid area code."), **kwargs
    )


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("May not be blank.")


def required_text(limit: int = SHORT) -> fields.String:
    """Required text: present, not null, not blank (whitespace only counts as blank)."""
    return fields.String(required=True, validate=[validate.Length(min=1, max=limit), not_blank])


def optional_text(limit: int = SHORT) -> fields.String:
    return text(limit, load_default=None, allow_none=True)


def text(limit: int = SHORT, **kwargs: Any) -> fields.String:
    """Free text with a length limit; required text may not be blank."""
    minimum = 1 if kwargs.get("required") else 0
    return fields.String(validate=validate.Length(min=minimum, max=limit), **kwargs)


class UUIDString(fields.String):
    """A UUID kept as its canonical lowercase string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = uuid.UUID(raw)
        except ValueError as exc:
            raise ValidationError("Not a valid UUID.") from exc
        if str(parsed) != raw:
            raise ValidationError("UUID must be in canonical lowercase form.")
        return raw


class B64Url(fields.String):
    """Unpadded base64url text (decoding and length checks belong to `keys`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not _B64URL.match(raw) or len(raw) % 4 == 1:
            raise ValidationError("Not unpadded base64url.")
        return raw


class UTCTimestamp(fields.String):
    """An RFC 3339 timestamp in UTC, kept as text so signatures stay byte-exact."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not _RFC3339_UTC.match(raw):
            raise ValidationError("Not an RFC 3339 UTC timestamp (e.g. 2026-01-31T09:00:00Z).")
        try:
            datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError("Not a valid date and time.") from exc
        return raw


def parse_timestamp(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value.replace("Z", "+00:00")).astimezone(UTC)


class PastDate(fields.Date):
    """A calendar date that may not lie in the future (dates of birth, past meetings)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed > datetime.now(UTC).date():
            raise ValidationError("Date may not be in the future.")
        if parsed.year < 1900:
            raise ValidationError("Date is implausibly early.")
        return parsed
