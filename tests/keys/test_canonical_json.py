"""canonical_json takes a fast path (orjson); its bytes must be the contract's definition,
json.dumps(sort_keys, (",", ":"), ensure_ascii), for every value (DESIGN section 4)."""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keys import canonical_json
from keys.encoding import b64url_decode, b64url_encode
from keys.errors import Malformed


def reference(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


# Characters where the two serialisers could part: control characters, DEL, "/", quotes and
# backslashes, Latin-1, BMP, astral (surrogate pairs), and lone surrogates.
EDGE_CHARS = st.sampled_from(
    [chr(c) for c in range(0x20)]
    + ["\x7f", "/", '"', "\\", "\x80", "\xe9", "\u2028", "\ufeff", "\uffff"]
    + ["\U0001f600", "\U0010ffff", "\ud800", "\udfff"]
)
TEXT = st.text(st.one_of(st.characters(), EDGE_CHARS))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),  # NaN, infinities, -0.0, 1e-05, subnormals
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(TEXT, inner, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=400)  # the signed bytes: worth more examples than the default
@given(VALUES)
@example("\x7f")
@example({"é": "\U0001f600", "e": "\x00\x1f/"})
@example({"a": 1e-05, "b": float("nan"), "c": float("inf"), "d": -0.0})
@example([2**63, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1])
@example({"\ud800": "x"})
def test_canonical_json_is_byte_identical_to_json_dumps(value: Any) -> None:
    assert canonical_json(value) == reference(value)


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"level": Level.HIGH},  # json writes an int subclass through int.__repr__
        {"text": Text("x")},
        OrderedDict([("b", 1), ("a", 2)]),
        {1: "integer key"},
        {True: "bool key"},
        {None: "none key"},
        # The same, deep inside plain containers, where the type walk must still find them
        # (a dict's keys are only visited when they are not all exact str).
        {"a": [{"b": (1, {"level": Level.HIGH})}]},
        [[{"text": [Text("x")]}]],
        {"a": [{Text("key"): 1, "b": 2}]},
        {"a": ({1: "x", 2: "y"},)},
        {"a": [{True: "x"}], "b": [{None: 1}]},
        {"a": [[OrderedDict([("b", 1), ("a", 2)])]]},
        {"a": [1, "x", None, (2, [3.5e-05])]},
        {"a": {"b": {"c": {"d": float("nan")}}}},
    ],
)
def test_values_outside_plain_json_take_the_reference_path(value: Any) -> None:
    assert canonical_json(value) == reference(value)


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "member",
    [uuid.UUID(int=1), Level, Point(1), {1, 2}, b"bytes", enum.Enum("E", "A").A, 1 + 2j],
)
def test_what_json_refuses_deep_inside_is_refused_not_serialised(member: Any) -> None:
    """orjson writes some of these (a UUID, an Enum, a dataclass); the contract's json
    refuses them all, so canonical_json must too, however deep they sit."""
    value = {"a": [{"b": (1, [member])}]}
    with pytest.raises(TypeError):
        reference(value)
    with pytest.raises(TypeError):
        canonical_json(value)


def test_what_json_refuses_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        canonical_json(loop)
    with pytest.raises(TypeError):
        canonical_json({"when": object()})
    with pytest.raises(TypeError):
        canonical_json({1: "x", "a": "y"})  # sort_keys cannot order mixed key types


def test_deep_nesting_beyond_orjsons_limit_is_still_canonical() -> None:
    value: Any = "leaf"
    for _ in range(300):
        value = [value]
    assert canonical_json(value) == reference(value)


def test_nan_is_not_written_as_null() -> None:
    assert canonical_json([math.nan]) == b"[NaN]"


@given(st.binary(max_size=200))
def test_b64url_round_trips(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data


@pytest.mark.parametrize(
    "text",
    ["QQ=", "QQ==", "Q+==", "QR", "QQ\n", " QQ", "QQ Q", "Q", "ab/c", "ab+c", "QUJD\x00", "Q é"],
)
def test_b64url_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(Malformed):
        b64url_decode(text)


def reference_b64url_decode(text: str) -> bytes | None:
    """Strict unpadded base64url by the standard library alone: None where it is refused."""
    if not text.isascii() or len(text) % 4 == 1 or any(c in text for c in "=+/"):
        return None
    try:
        data = binascii.a2b_base64(
            text.encode().translate(bytes.maketrans(b"-_", b"+/")) + b"=" * (-len(text) % 4),
            strict_mode=True,
        )
    except (binascii.Error, ValueError):
        return None
    return data if base64.urlsafe_b64encode(data).rstrip(b"=").decode() == text else None


# The URL alphabet, the standard one's extra characters, padding, whitespace and others.
B64_TEXT = st.text(
    alphabet=st.sampled_from([*"ABCXYZabcxyz0189-_", "+", "/", "=", " ", "\n", "\x00", "é", "."]),
    max_size=40,
)


@given(B64_TEXT)
@example("QR")
@example("AB-_")
def test_b64url_decode_agrees_with_the_standard_library(text: str) -> None:
    """The SIMD decoder takes exactly what the standard library's strict decoder takes, and
    only the one canonical text of each byte string."""
    expected = reference_b64url_decode(text)
    if expected is None:
        with pytest.raises(Malformed):
            b64url_decode(text)
    else:
        assert b64url_decode(text) == expected
