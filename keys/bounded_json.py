"""Parsing JSON from outside the node within limits.

The standard library's parser recurses once per nesting level, so a body of 100,000 open
brackets ends in RecursionError (not ValueError) deep inside it; key counts and string
sizes are unbounded too. Everything that parses a body, a token header or a peer's answer
goes through `parse_json`. Token, member and string limits are checked before the parser
runs: by character counts where those bound them, otherwise by a scan with the strings
masked as the parser would read them. Nesting is checked on the parsed value, and beyond
the interpreter's reach the parser's RecursionError is a refusal too. Parsing is strict:
UTF-8 only (the wire contract; `json.loads` on bytes would also guess UTF-16 and UTF-32),
no byte order mark, no NaN or Infinity, no number that overflows to infinity, no duplicate
member, no lone surrogate. Every refusal is `BadJson`, which is both `Malformed` (for the
crypto layer's callers) and `ValueError` (for code that already catches the parser's
errors).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any

from keys.errors import Malformed


class BadJson(Malformed, ValueError):
    """Not JSON, not UTF-8, or beyond the limits; the message names the rule, never a value."""


@dataclass(frozen=True)
class JsonLimits:
    # Deeper than any document of the wire contract or the API (they nest a few levels).
    max_depth: int = 32
    # Brackets, colons, commas and strings: bounds the scan's own work as well.
    max_tokens: int = 50_000
    # Object members in the whole document.
    max_keys: int = 10_000
    # Characters in one string; None: only the size of the text bounds it (an envelope's
    # ciphertext is one string as large as the document it seals).
    max_string: int | None = 1024 * 1024


DEFAULT_LIMITS = JsonLimits()
# Token headers and claims are a few hundred bytes of flat JSON.
TOKEN_LIMITS = JsonLimits(max_depth=4, max_tokens=200, max_keys=50, max_string=4096)

# A JSON string exactly as the parser delimits it (an escape takes the next character
# whatever it is), or one structural character. Text between matches is numbers,
# literals and whitespace, which nest nothing.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]', re.DOTALL)
# The string alternative of _TOKEN alone, and what is not a bracket once strings are gone.
_STRING = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_OPEN, _CLOSE = frozenset("[{"), frozenset("]}")


def parse_json(data: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    text = _text(data)
    # Most texts are far inside the limits, which character counts at C speed can tell
    # without masking the strings (the scan's regex pass was most of the cost of opening
    # an envelope, and grew with a megabyte document); only nesting is then left to check,
    # on the parsed value. Any other text gets the exact scan before it is parsed.
    bounded, opened = _within_bounds(text, limits)
    if not bounded:
        _scan(text, limits)
    value = _loads(text)
    if bounded and opened > limits.max_depth and _deeper_than(value, limits.max_depth):
        _scan_tokens(text, limits)  # names the first limit met, in document order
        raise BadJson("nested too deeply")
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(value)
    return value


def _loads(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_members,
        )
    except BadJson:
        raise
    except RecursionError:  # nesting beyond the interpreter's limit, unscanned
        raise BadJson("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise BadJson("not JSON") from exc


def _within_bounds(text: str, limits: JsonLimits) -> tuple[bool, int]:
    """Whether the token, member and string limits hold by upper bounds alone: characters
    inside strings are counted as if structural, every string holds two quotes, and no
    string is longer than the text. With the opening brackets, which bound the nesting
    that `_deeper_than` otherwise checks."""
    colons = text.count(":")
    opened = text.count("[") + text.count("{")
    closed = text.count("]") + text.count("}")
    tokens = text.count('"') // 2 + colons + opened + closed + text.count(",")
    within = (
        tokens <= limits.max_tokens
        and colons <= limits.max_keys
        and (limits.max_string is None or len(text) - 2 <= limits.max_string)
    )
    return within, opened


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed value nests containers more than `limit` deep, level by level."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        members = chain.from_iterable(
            item.values() if type(item) is dict else item for item in level
        )
        level = [member for member in members if type(member) in _CONTAINERS]
    return False


_CONTAINERS = frozenset({dict, list})


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise BadJson("not UTF-8") from None
    if text.startswith("\ufeff"):
        raise BadJson("a byte order mark is not allowed")
    return text


def _scan(text: str, limits: JsonLimits) -> None:
    """Refuse what exceeds the limits. The aggregates are taken at C speed (regex, counts,
    accumulate); only a document that exceeds one is walked token by token, so the refusal
    names the first limit met in document order, as it always has."""
    # One regex pass: split on the strings (captured), leaving the text between them.
    pieces = _STRING.split(text)
    strings = pieces[1::2]
    masked = "".join(pieces[::2])
    brackets = _NOT_BRACKET.sub("", masked)
    structural = len(brackets) + masked.count(":") + masked.count(",")
    deepest = max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)
    within = (
        len(strings) + structural <= limits.max_tokens
        and deepest <= limits.max_depth
        and masked.count(":") <= limits.max_keys
        and (
            limits.max_string is None or max(map(len, strings), default=2) - 2 <= limits.max_string
        )
    )
    if not within:
        _scan_tokens(text, limits)


def _scan_tokens(text: str, limits: JsonLimits) -> None:
    depth = keys = 0
    longest = limits.max_string
    for tokens, match in enumerate(_TOKEN.finditer(text), start=1):
        if tokens > limits.max_tokens:
            raise BadJson("too many elements")
        char = text[match.start()]
        if char in _OPEN:
            depth += 1
            if depth > limits.max_depth:
                raise BadJson("nested too deeply")
        elif char in _CLOSE:
            depth -= 1
        elif char == ":":
            keys += 1
            if keys > limits.max_keys:
                raise BadJson("too many members")
        elif char == '"' and longest is not None and match.end() - match.start() - 2 > longest:
            raise BadJson("a string is too long")


def _no_constant(name: str) -> Any:
    raise BadJson("NaN and Infinity are not JSON")


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise BadJson("a number is out of range")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise BadJson("a member name is repeated")
    return found


def _check_surrogates(value: Any) -> None:
    """An escaped lone surrogate decodes to a string no UTF-8 encoder accepts."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings = [item]
        elif isinstance(item, dict):
            strings = list(item)
            stack.extend(item.values())
            strings = [s for s in strings if isinstance(s, str)]
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for string in strings:
            try:
                string.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson("a string holds a lone surrogate") from None
