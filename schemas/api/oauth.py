"""Bodies of `POST /api/v1/oauth/token` (client credentials, DESIGN section 4)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import StrictSchema


class TokenRequestSchema(StrictSchema):
    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    scope = fields.String(metadata={"description": "Space-separated; default: all granted."})
    client_id = fields.String(metadata={"description": "With client_secret_post only."})
    client_secret = fields.String(metadata={"description": "With client_secret_post only."})


class TokenResponseSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
