"""Body of `POST /api/v1/transfers/<id>/access`: the users of the receiving area named
as allowed to open a restricted case (seed 001 4.5.3, 004 5.15). The list replaces the
previous one; each entry is a user id or an email of a user of that area."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, post_load, validate

from schemas.common import StrictSchema
from schemas.wire.addressed import one_of
from schemas.wire.transfer_request import RESTRICTED_REASONS

MAX_NAMED = 50


@dataclass(frozen=True)
class NamedUsers:
    users: tuple[str, ...]


class NamedUsersSchema(StrictSchema):
    users = fields.List(
        fields.String(validate=validate.Length(min=1, max=320)),
        required=True,
        validate=validate.Length(min=1, max=MAX_NAMED),
        metadata={"description": "User ids or emails of users of the receiving area."},
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> NamedUsers:
        return NamedUsers(tuple(dict.fromkeys(data["users"])))


class NamedUsersViewSchema(StrictSchema):
    transfer_id = fields.String(required=True)
    restricted = fields.Boolean(required=True)
    users = fields.List(fields.String(), required=True, metadata={"description": "User ids."})


@dataclass(frozen=True)
class Restriction:
    reason: str


class RestrictionSchema(StrictSchema):
    """Body of `POST /api/v1/transfers/<id>/restriction`: a chair restricts this node's
    copy of a transfer (a received case after arrival, or the sender's own copy)."""

    reason = fields.String(required=True, validate=validate.OneOf(RESTRICTED_REASONS))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Restriction:
        return Restriction(**data)


def load_restriction(data: Mapping[str, Any]) -> Restriction:
    loaded: Restriction = one_of(_RESTRICTION, data, Restriction)
    return loaded


def load_named_users(data: Mapping[str, Any]) -> NamedUsers:
    loaded: NamedUsers = one_of(_SCHEMA, data, NamedUsers)
    return loaded


_SCHEMA = NamedUsersSchema()
_RESTRICTION = RestrictionSchema()
