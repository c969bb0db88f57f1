"""The limits scan takes its aggregates at C speed and walks tokens only to name what was
exceeded: it must refuse exactly what the token walk refuses, with the same message."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.bounded_json import (
    _SURROGATE_ESCAPE,
    BadJson,
    JsonLimits,
    _check_surrogates,
    _loads,
    _scan,
    _scan_tokens,
    parse_json,
)

PIECES = st.sampled_from(
    ['"', "\\", "[", "]", "{", "}", ":", ",", "a", " ", '"x"', '\\"', "1", '"[:,"']
)
TEXTS = st.one_of(
    st.lists(PIECES, max_size=60).map("".join),
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(json.dumps),
)
LIMITS = st.builds(
    JsonLimits,
    max_depth=st.integers(0, 6),
    max_tokens=st.integers(0, 40),
    max_keys=st.integers(0, 6),
    max_string=st.one_of(st.none(), st.integers(0, 6)),
)


def outcome(scan: object, text: str, limits: JsonLimits) -> str | None:
    try:
        scan(text, limits)  # type: ignore[operator]
    except BadJson as exc:
        return str(exc)
    return None


@given(TEXTS, LIMITS)
def test_fast_scan_refuses_what_the_token_walk_refuses(text: str, limits: JsonLimits) -> None:
    assert outcome(_scan, text, limits) == outcome(_scan_tokens, text, limits)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[" * 40, "nested too deeply"), ('{"a":1,"b":2}', "too many members")],
)
def test_refusals_still_name_the_limit(text: str, message: str) -> None:
    with pytest.raises(BadJson, match=message):
        _scan(text, JsonLimits(max_keys=1))


def parsed(parse: object, text: str, limits: JsonLimits) -> tuple[str, object]:
    try:
        return "value", parse(text, limits)  # type: ignore[operator]
    except BadJson as exc:
        return "refused", str(exc)


def scan_then_parse(text: str, limits: JsonLimits) -> object:
    """What parse_json did before it took upper bounds first: the exact scan, then parse."""
    _scan(text, limits)
    value = _loads(text)
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(value)
    return value


@given(TEXTS, LIMITS)
def test_parsing_by_bounds_takes_and_refuses_what_the_scan_did(
    text: str, limits: JsonLimits
) -> None:
    """Upper bounds first, then nesting on the parsed value: the same values, and the same
    refusals (by message too wherever the text is JSON; a text that is not JSON may be
    refused as such before a limit it also exceeds is named)."""
    new, old = parsed(parse_json, text, limits), parsed(scan_then_parse, text, limits)
    assert new[0] == old[0]
    try:
        json.loads(text)
    except ValueError:
        return
    assert new == old
