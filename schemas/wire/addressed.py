"""What every payload after the transfer repeats from the envelope header: its schema
version and the two areas (DESIGN section 4: a mismatch with the header is refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validate, validates_schema

from schemas.common import StrictSchema, area_code
from schemas.wire.transfer_request import StrictInteger


def addressed(version: int) -> type[StrictSchema]:
    """A base schema with `schema_version` (exactly `version`), `from_area` and `to_area`."""

    class Addressed(StrictSchema):
        schema_version = StrictInteger(required=True, validate=validate.Equal(version))
        from_area = area_code(required=True)
        to_area = area_code(required=True)

        @validates_schema
        def check_areas(self, data: dict[str, Any], **_: Any) -> None:
            if data.get("from_area") == data.get("to_area"):
                raise ValidationError({"to_area": ["Must differ from from_area."]})

    return Addressed


def body_values(body: object) -> dict[str, Any]:
    """A loaded body dataclass as keyword arguments for its payload dataclass."""
    fields_ = getattr(body, "__dataclass_fields__", {})
    return {name: getattr(body, name) for name in fields_}


def one_of(schema: Any, data: Mapping[str, Any], kind: type) -> Any:
    """Load `data` with `schema` and check the post_load produced `kind`."""
    result = schema.load(data)
    if not isinstance(result, kind):  # pragma: no cover - post_load
        raise TypeError(f"{type(schema).__name__} did not produce a {kind.__name__}.")
    return result
