"""Media types judged from content, the document, minutes and information request schemas,
and the federation body bound for a sealed document of the largest allowed size."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from marshmallow import ValidationError

from gateway.domain.casework import documents, media_types
from gateway.errors import Invalid, Refused
from gateway.node import envelope_limit
from keys import AreaSecretKeys, canonical_json, seal_envelope, sha256_hex
from schemas.common import DoesNotFit
from schemas.wire.document import DOCX, ODT, PDF, TEXT, dump_document, load_document
from schemas.wire.document import to_version_1 as document_to_version_1
from schemas.wire.information_request import load_information_request_body
from schemas.wire.minutes import MinutesDoNotFitVersion1, load_minutes, to_version_1

MAIN = DOCX + ".main+xml"


def office(entries: list[tuple[str, bytes]], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries):
            if stored_first and index == 0:
                archive.writestr(zipfile.ZipInfo(name), data)
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def types_xml(main: str) -> bytes:
    return f'<Types><Override PartName="/word/document.xml" ContentType="{main}"/></Types>'.encode()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n", PDF),
        (office([("[Content_Types].xml", types_xml(MAIN)), ("word/document.xml", b"<w/>")]), DOCX),
        (office([("mimetype", ODT.encode()), ("content.xml", b"<x/>")], stored_first=True), ODT),
        (b"plain\ttext\r\nwith lines\x0c\n", TEXT),
        ("Zoë and 日本".encode(), TEXT),
        # Refused: executables, macro-enabled Word, other ODF documents, a zip that is only
        # a zip, broken zips, control characters, not UTF-8, nothing at all.
        (b"MZ\x90\x00", None),
        (b"\x7fELF", None),
        (
            office(
                [
                    (
                        "[Content_Types].xml",
                        types_xml("application/vnd.ms-word.document.macroEnabled.main+xml"),
                    ),
                    ("word/document.xml", b"<w/>"),
                ]
            ),
            None,
        ),
        (
            office(
                [("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")],
                stored_first=True,
            ),
            None,
        ),
        (office([("readme.txt", b"hello")]), None),
        (b"PK\x03\x04broken", None),
        (b"bell\x07", None),
        (b"esc\x1b[31m", None),
        ("café".encode("latin-1"), None),
        (b"", None),
    ],
)
def test_media_type_is_judged_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert media_types.detect(data) == expected


def test_an_oversized_declaration_inside_a_zip_is_not_inflated() -> None:
    # A [Content_Types].xml claiming gigabytes (a zip bomb) is refused without reading it.
    bomb = office(
        [("[Content_Types].xml", types_xml(MAIN) + b" " * 2_000_000), ("word/document.xml", b"")]
    )
    assert media_types.detect(bomb) is None


def payload(raw: bytes = b"hello\n", **changes: Any) -> dict[str, Any]:
    base = {
        "schema_version": 1,
        "from_area": "alpha",
        "to_area": "bravo",
        "kind": "other",
        "media_type": TEXT,
        "sha256": sha256_hex(raw),
        "size": len(raw),
        "content": "aGVsbG8K",
        "answers": None,
    }
    return {**base, **changes}


def test_a_document_payload_round_trips() -> None:
    loaded = load_document(payload())
    assert loaded.content == b"hello\n"
    assert dump_document(loaded) == payload()
    assert documents.load_received(payload()).size == 6


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "selfie"}, "kind"),
        ({"media_type": "application/x-msdownload"}, "media_type"),
        ({"sha256": "ABC"}, "sha256"),
        ({"size": 0}, "size"),
        ({"size": "6"}, "size"),
        ({"content": "not base64!"}, "content"),
        ({"answers": "nope"}, "answers"),
        ({"schema_version": 3}, "schema_version"),
        ({"to_area": "alpha"}, "to_area"),
        ({"filename": "x.pdf"}, "filename"),  # a filename never travels
        ({"kind": "other", "media_type": "application/vnd.marac.minutes+json"}, "media_type"),
    ],
)
def test_bad_document_payloads_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_document(payload(**changes))
    assert field in caught.value.messages


def test_a_received_document_must_be_what_it_claims() -> None:
    with pytest.raises(Refused) as caught:
        documents.load_received(payload(sha256="0" * 64))
    assert caught.value.slug == "document-mismatch"
    with pytest.raises(Refused) as caught:
        documents.load_received(payload(size=7))
    assert caught.value.slug == "document-mismatch"
    with pytest.raises(Refused) as caught:
        documents.load_received(payload(media_type=PDF))
    assert caught.value.slug == "unsupported-media-type"


def minutes(**changes: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    base = {
        "meeting_date": today.isoformat(),
        "attendees": [{"agency": "Police"}],
        "confidentiality_statement_confirmed": True,
        "entries": [{"kind": "opinion", "source_agency": "Police", "text": "Risk rising."}],
        "actions": [
            {
                "action": "Safety plan",
                "agency": "IDVA",
                "owner_role": "IDVA",
                "due": today.isoformat(),
                "status": "open",
            }
        ],
    }
    return {**base, **changes}


def test_minutes_follow_the_checklist() -> None:
    canonical = load_minutes(minutes())
    assert canonical["actions"][0]["joint"] is False
    assert canonical["risks"] == [] and canonical["referral_basis"] is None
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    for changes, field in (
        ({"confidentiality_statement_confirmed": False}, "confidentiality_statement_confirmed"),
        ({"meeting_date": tomorrow}, "meeting_date"),
        ({"attendees": []}, "attendees"),
        ({"entries": [{"kind": "rumour", "source_agency": "A", "text": "x"}]}, "entries"),
        ({"entries": [{"kind": "fact", "text": "x"}]}, "entries"),
        (
            {"actions": [{"action": "x", "agency": "A", "owner_role": "R", "status": "open"}]},
            "actions",
        ),
        ({"flagged_to": ["newspapers"]}, "flagged_to"),
        ({"surprise": True}, "surprise"),
    ):
        with pytest.raises(ValidationError) as caught:
            load_minutes(minutes(**changes))
        assert field in caught.value.messages, field


def posted(**changes: Any) -> dict[str, Any]:
    """Minutes as a coordinator posts them: version 2."""
    entries = [{"kind": "professional_judgement", "source_agency": "Police", "text": "Rising."}]
    return minutes(**{"entries": entries, "sharing_agreed_by": ["Police", "IDVA"], **changes})


def test_structured_minutes_become_canonical_json_bytes() -> None:
    made = documents.minutes_upload({"kind": "minutes", "minutes": posted()}, 1_000_000)
    assert made.media_type == "application/vnd.marac.minutes+json"
    # Format version 2, as posted; negotiation rewrites it for a version 1 peer.
    sent = json.loads(made.content)
    assert made.content == canonical_json(load_minutes(sent))
    assert sent["schema_version"] == 2 and sent["entries"][0]["kind"] == "professional_judgement"
    with pytest.raises(documents.TooLarge):
        documents.minutes_upload({"kind": "minutes", "minutes": posted()}, 10)


def test_version_2_minutes_name_the_agencies_that_agreed_to_share() -> None:
    canonical = load_minutes({"schema_version": 2, **posted()})
    assert canonical["entries"][0]["kind"] == "professional_judgement"
    mixed = [
        {"kind": "fact", "source_agency": "Police", "text": "Seen."},
        {"kind": "fact", "source_agency": "Housing", "text": "Moved."},
        {"kind": "fact", "source_agency": "  housing ", "text": "Moved."},
        {"kind": "fact", "source_agency": "Health", "text": "Seen."},
    ]
    with pytest.raises(Invalid) as refused:
        documents.minutes_upload({"kind": "minutes", "minutes": posted(entries=mixed)}, 10**6)
    assert refused.value.errors == {
        "minutes": {
            "sharing_agreed_by": [
                "These agencies supplied entries but did not agree to share the minutes: "
                "  housing ; Health; Housing."
            ]
        }
    }
    agreed = posted(entries=mixed, sharing_agreed_by=["police", "HOUSING", "Health"])
    assert documents.minutes_upload({"kind": "minutes", "minutes": agreed}, 10**6)
    for changes, field in (
        ({"sharing_agreed_by": ...}, "sharing_agreed_by"),
        ({"entries": [{"kind": "opinion", "source_agency": "Police", "text": "x"}]}, "entries"),
        ({"schema_version": 1}, "schema_version"),
        ({"attendees": [{"agency": "Police", "area": "Not An Area"}]}, "attendees"),
    ):
        body = {k: v for k, v in posted(**changes).items() if v is not ...}
        with pytest.raises(Invalid) as refused:
            documents.minutes_upload({"kind": "minutes", "minutes": body}, 10**6)
        assert refused.value.errors is not None
        assert field in refused.value.errors["minutes"], field


def test_version_2_minutes_written_as_version_1() -> None:
    new = load_minutes(
        {
            "schema_version": 2,
            **posted(
                referral_basis="repeat",
                attendees=[{"agency": "Police", "area": "south-vale"}, {"agency": "IDVA"}],
            ),
        }
    )
    assert new["referral_basis"] == "repeat"
    old = to_version_1(new)
    assert load_minutes(old) == old
    assert (old["referral_basis"], old["repeat"]) == (None, True)
    assert [a["agency"] for a in old["attendees"]] == ["Police (covers south-vale)", "IDVA"]
    assert "area" not in old["attendees"][0] and "sharing_agreed_by" not in old
    # The sharing agreement travels as the MARAC's own last fact entry, and a professional
    # judgement as version 1's one other kind, which means the same (seed 002 8.4).
    assert old["entries"][0]["kind"] == "opinion"
    assert old["entries"][-1] == {
        "kind": "fact",
        "source_agency": "The MARAC",
        "text": "Agencies that agreed to share these minutes: Police; IDVA.",
    }
    too_long = {**new, "attendees": [{"agency": "P" * 190, "area": "south-vale"}]}
    with pytest.raises(MinutesDoNotFitVersion1) as refused:
        to_version_1(too_long)
    assert refused.value.field == "attendees"
    full = {**new, "entries": new["entries"] * 500}
    with pytest.raises(MinutesDoNotFitVersion1) as refused:
        to_version_1(full)
    assert refused.value.field == "sharing_agreed_by"


def minutes_document(content: bytes, version: int = 2) -> dict[str, Any]:
    encoded = base64.urlsafe_b64encode(content).rstrip(b"=").decode("ascii")
    return payload(
        content,
        schema_version=version,
        kind="minutes",
        media_type="application/vnd.marac.minutes+json",
        sha256=sha256_hex(content),
        size=len(content),
        content=encoded,
    )


def test_document_version_2_carries_version_2_minutes_and_goes_down_to_version_1() -> None:
    new = canonical_json(load_minutes({"schema_version": 2, **posted()}))
    sent = minutes_document(new)
    assert documents.load_received(sent).schema_version == 2
    old = document_to_version_1(sent)
    loaded = documents.load_received(old)
    assert loaded.schema_version == 1 and loaded.size == len(loaded.content)
    assert "schema_version" not in json.loads(loaded.content)
    # A file is unchanged but for the version; minutes that do not fit are named.
    assert document_to_version_1(payload(schema_version=2)) == payload()
    crowded = {"schema_version": 2, **posted(entries=[posted()["entries"][0]] * 500)}
    with pytest.raises(DoesNotFit) as refused:
        document_to_version_1(minutes_document(canonical_json(load_minutes(crowded))))
    assert refused.value.fields == ("minutes.sharing_agreed_by",)
    # Version 1 minutes in a version 2 document are refused; version 1 documents still
    # carry either format (as before this version).
    v1 = canonical_json(load_minutes(minutes()))
    with pytest.raises(Refused):
        documents.load_received(minutes_document(v1))
    assert documents.load_received(minutes_document(v1, version=1)).schema_version == 1
    assert documents.load_received(minutes_document(new, version=1)).schema_version == 1


def test_received_minutes_without_the_sharing_agreement_name_the_agencies() -> None:
    # What an older or careless sender could seal: the receiver checks it too (seed 002
    # appendix 3 II).
    unagreed = {"schema_version": 2, **posted(sharing_agreed_by=["IDVA"])}
    unagreed["entries"] = [
        *unagreed["entries"],
        {"kind": "fact", "source_agency": "Housing", "text": "Moved."},
    ]
    with pytest.raises(Refused) as refused:
        documents.load_received(minutes_document(canonical_json(unagreed)))
    assert refused.value.slug == "invalid-payload"
    assert "minutes.sharing_agreed_by" in str(refused.value)
    assert "Housing; Police." in str(refused.value)


def test_information_request_bodies() -> None:
    body = {"what": ["minutes"], "requested_by": {"name": "A", "role": "Coordinator"}}
    assert load_information_request_body(body).what == ("minutes",)
    for changes in ({"what": []}, {"what": ["minutes", "minutes"]}, {"what": ["x"]}):
        with pytest.raises(ValidationError):
            load_information_request_body({**body, **changes})


def test_a_sealed_document_at_the_limit_fits_the_federation_body_bound() -> None:
    limit = 300_000
    alpha, bravo = AreaSecretKeys.generate("alpha"), AreaSecretKeys.generate("bravo")
    content = bytes(range(256)) * (limit // 256) + b"\x00" * (limit % 256)
    made = payload(content, media_type="image/png", sha256=sha256_hex(content), size=limit)
    made["content"] = base64.urlsafe_b64encode(content).rstrip(b"=").decode("ascii")
    assert load_document(made).content == content
    sealed = seal_envelope(
        sender=alpha,
        recipient=bravo.public(datetime(2025, 1, 1, tzinfo=UTC)),
        payload_type="document",
        payload=made,
    )
    body = canonical_json({**sealed.wire, "evidence": {"pad": "x" * 20_000}})
    assert len(body) <= envelope_limit(limit)
    # ...and the bound is not wildly generous: within 3 % plus the fixed room.
    assert envelope_limit(limit) < len(body) * 1.03 + 600_000
