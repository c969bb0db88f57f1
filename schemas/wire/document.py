"""Payload `document`, schema_version 1 and 2 (DESIGN section 4): one
file in reply to a transfer (minutes, the original referral, a completed MARAC referral
form, a DASH risk checklist, anything else), sealed like every payload.

The signed payload carries the bytes themselves (base64url) with their SHA-256 and size,
so a receiver can prove what it got, and the media type the SENDING node detected from
the bytes (never from a filename, which never travels). Structured minutes (seed 002
appendix 3) travel the same way: their canonical JSON is the document's bytes, with the
media type `application/vnd.marac.minutes+json` (`schemas.wire.minutes`).

`answers` names the information request (its envelope id) the document answers, if any.

Version 2 has version 1's members; what changes is what structured minutes may be: a
version 2 document's minutes are minutes format version 2 (`sharing_agreed_by`,
`professional_judgement`, an attendee's area), while a version 1 document's are format
version 1, all an older node reads. `to_version_1` rewrites the minutes for such a node
(docs/contract.md, "document version 2").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pybase64
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import DoesNotFit, StrictSchema, UUIDString, area_code
from schemas.wire.minutes import MinutesDoNotFitVersion1
from schemas.wire.minutes import to_version_1 as minutes_to_version_1
from schemas.wire.transfer_request import StrictInteger

PAYLOAD_TYPE = "document"
SCHEMA_VERSION = 2
VERSIONS = (1, 2)

KINDS = ("minutes", "original_referral", "marac_referral_form", "dash_ric", "other")
MINUTES = "minutes"

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
RTF = "application/rtf"
TEXT = "text/plain"
PNG = "image/png"
JPEG = "image/jpeg"
MINUTES_JSON = "application/vnd.marac.minutes+json"
# The allow-list. A media type here is what the bytes ARE (detected), not what a client
# or a filename said.
MEDIA_TYPES = (PDF, DOCX, ODT, RTF, TEXT, PNG, JPEG, MINUTES_JSON)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# A hard ceiling for the schema itself; each node's own (smaller) limit is a setting.
SIZE_CEILING = 256 * 1024 * 1024


class Base64UrlBytes(fields.Field[bytes]):
    """Bytes on the wire as unpadded base64url text; bytes once loaded."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return pybase64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")

    # A document is up to megabytes: pybase64 decodes at SIMD speed, and `validate` refuses
    # whatever is outside the URL alphabet, except the standard alphabet's "+" and "/" and
    # padding, refused first.
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str) or not value.isascii() or len(value) % 4 == 1:
            raise ValidationError("Not unpadded base64url.")
        if "=" in value or "+" in value or "/" in value:
            raise ValidationError("Not unpadded base64url.")
        try:
            return pybase64.b64decode(
                value.encode("ascii") + b"=" * (-len(value) % 4), altchars=b"-_", validate=True
            )
        except (ValueError, TypeError) as exc:
            raise ValidationError("Not unpadded base64url.") from exc


@dataclass(frozen=True)
class Document:
    schema_version: int
    from_area: str
    to_area: str
    kind: str
    media_type: str
    sha256: str
    size: int
    content: bytes
    answers: str | None


class DocumentSchema(StrictSchema):
    schema_version = StrictInteger(required=True, validate=validate.OneOf(VERSIONS))
    from_area = area_code(required=True)
    to_area = area_code(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    media_type = fields.String(required=True, validate=validate.OneOf(MEDIA_TYPES))
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(_SHA256_HEX, error="Not a lowercase hex SHA-256."),
        metadata={"description": "Hex SHA-256 of the document's bytes."},
    )
    size = StrictInteger(required=True, validate=validate.Range(min=1, max=SIZE_CEILING))
    content = Base64UrlBytes(required=True)
    answers = UUIDString(
        load_default=None,
        allow_none=True,
        metadata={"description": "The information request this document answers."},
    )

    @validates_schema
    def check_areas(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_area") == data.get("to_area"):
            raise ValidationError({"to_area": ["Must differ from from_area."]})
        if data.get("media_type") == MINUTES_JSON and data.get("kind") != MINUTES:
            raise ValidationError({"media_type": ["Structured minutes must be of kind minutes."]})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Document:
        return Document(**data)


def load_document(data: Mapping[str, Any]) -> Document:
    """Validate a decrypted `document` payload's shape; raises marshmallow.ValidationError.
    Whether the bytes match their digest and media type is checked by the domain."""
    result = _SCHEMA.load(data)
    if not isinstance(result, Document):  # pragma: no cover - post_load
        raise TypeError("DocumentSchema did not produce a Document.")
    return result


def dump_document(document: Document) -> dict[str, Any]:
    result: dict[str, Any] = _SCHEMA.dump(document)
    return result


def minutes_version(content: bytes) -> int:
    """The format version of structured minutes' bytes (no `schema_version`: 1); raises
    ValueError when they are not a JSON object."""
    minutes = json.loads(content)
    if not isinstance(minutes, dict):
        raise ValueError("Structured minutes are a JSON object.")
    version = minutes.get("schema_version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def to_version_1(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 payload (canonical, content base64url) for a node that accepts only
    version 1: version 2 minutes are rewritten as version 1 (minutes.to_version_1, which
    loses no fact) with their digest and size recomputed; any other document goes
    unchanged but for its version. Raises DoesNotFit naming `minutes.<field>`."""
    result = {**payload, "schema_version": 1}
    if payload.get("media_type") != MINUTES_JSON:
        return result
    content = _BYTES.deserialize(payload["content"])
    if minutes_version(content) == 1:
        return result
    try:
        rewritten = minutes_to_version_1(json.loads(content))
    except MinutesDoNotFitVersion1 as exc:
        raise DoesNotFit((f"minutes.{exc.field}",)) from exc
    converted = json.dumps(
        rewritten, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")
    result["content"] = _BYTES._serialize(converted, None, None)
    result["sha256"] = hashlib.sha256(converted).hexdigest()
    result["size"] = len(converted)
    return result


class UploadFieldsSchema(StrictSchema):
    """The form fields of a multipart upload beside the file part (named `file`)."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    answers = UUIDString(load_default=None, allow_none=True)


@dataclass(frozen=True)
class UploadFields:
    kind: str
    answers: str | None


def load_upload_fields(data: Mapping[str, Any]) -> UploadFields:
    loaded = UploadFieldsSchema().load(data)
    return UploadFields(kind=loaded["kind"], answers=loaded["answers"])


_SCHEMA = DocumentSchema()
_BYTES = Base64UrlBytes()

__all__ = [
    "DOCX",
    "JPEG",
    "KINDS",
    "MEDIA_TYPES",
    "MINUTES",
    "MINUTES_JSON",
    "ODT",
    "PAYLOAD_TYPE",
    "PDF",
    "PNG",
    "RTF",
    "SCHEMA_VERSION",
    "TEXT",
    "Document",
    "DocumentSchema",
    "UploadFields",
    "dump_document",
    "load_document",
    "load_upload_fields",
    "minutes_version",
    "to_version_1",
]
