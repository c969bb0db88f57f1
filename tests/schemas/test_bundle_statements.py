"""The bundle's optional rotation and revocation statements (docs/contract.md "Key rotation
and revocation"): their shape is checked with the bundle, and a body without them reads as
before."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from keys import AreaSecretKeys, b64url_encode, sign_document
from schemas.wire.bundle import BundleSchema

OLD, NEW = AreaSecretKeys.generate("northshire"), AreaSecretKeys.generate("northshire")


def bundle(**extra: Any) -> dict[str, Any]:
    body = {
        "kind": "peer_bundle",
        "v": 1,
        "area": "northshire",
        "name": "Northshire MARAC",
        "url": "https://gw.northshire.example",
        "mailbox": "marac@northshire.example",
        "key_id": NEW.key_id,
        "signing_key": b64url_encode(NEW.signing_public),
        "encryption_key": b64url_encode(NEW.encryption_public),
        "valid_from": "2026-12-03T10:00:00Z",
        **extra,
    }
    return sign_document(body, NEW)


def rotation(**changes: Any) -> dict[str, Any]:
    statement = {
        "kind": "key_rotation",
        "area": "northshire",
        "from_key": OLD.key_id,
        "to_key": NEW.key_id,
        "signing_key": b64url_encode(NEW.signing_public),
        "encryption_key": b64url_encode(NEW.encryption_public),
        **changes,
    }
    return sign_document(statement, OLD)


def revocation(**changes: Any) -> dict[str, Any]:
    statement = {
        "kind": "key_revocation",
        "area": "northshire",
        "key_id": OLD.key_id,
        "revoked_at": "2026-12-03T10:00:00Z",
        **changes,
    }
    return sign_document(statement, OLD)


def test_statements_load_and_their_absence_reads_as_before() -> None:
    plain = BundleSchema().load(bundle())
    assert plain.body.rotations == [] and plain.body.revocations == []
    loaded = BundleSchema().load(bundle(rotations=[rotation()], revocations=[revocation()]))
    assert loaded.body.rotations[0]["body"]["to_key"] == NEW.key_id
    assert loaded.body.revocations[0]["body"]["key_id"] == OLD.key_id


@pytest.mark.parametrize(
    "extra",
    [
        {"rotations": [rotation(kind="key_revocation")]},  # one statement posing as another
        {"rotations": [rotation(to_key="not a key id!")]},
        {"rotations": [rotation(extra="member")]},
        {"rotations": [{**rotation(), "sig": "short"}]},
        {"rotations": [rotation()] * 21},
        {"revocations": [revocation(revoked_at="yesterday")]},
        {"revocations": [revocation(area="NOT A CODE")]},
        {"revocations": "all"},
    ],
)
def test_malformed_statements_refuse_the_bundle(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BundleSchema().load(bundle(**extra))
