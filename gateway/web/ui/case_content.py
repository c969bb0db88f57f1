"""A transfer's content as read-only GOV.UK summary cards, for a check-answers view (a
chair reviewing a held transfer). The content is what the `transfer_request` schema
loaded, in its order (the referral form's); each part becomes a card, each list of parts
one card per item, each answer a row. Labels are the schema's field names in words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Parts whose title reads better than their field name.
TITLES = {
    "dash": "DASH risk assessment",
    "idva": "IDVA",
    "marac": "MARAC",
}
# Addressing the page already shows elsewhere.
SKIPPED = frozenset({"schema_version", "from_area", "to_area"})


@dataclass
class Card:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)


def words(key: str) -> str:
    text = TITLES.get(key) or key.replace("_", " ")
    text = re.sub(r"\b(dash|idva|marac|dob)\b", lambda m: m[0].upper(), text)
    return text[:1].upper() + text[1:]


def shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "Not given"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return value.replace("_", " ") if re.fullmatch(r"[a-z_]+", value) else value
        return f"{day.day} {day:%B %Y}"
    return str(value)


def cards(content: Mapping[str, Any]) -> list[Card]:
    """One card for the transfer's own answers, then one per part (and per list item)."""
    top = Card("About the transfer")
    found = [top]
    for key, value in content.items():
        if key in SKIPPED:
            continue
        if isinstance(value, Mapping):
            found.append(Card(words(key), _rows(value)))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            single = words(key).rstrip("s") if len(value) > 1 else words(key)
            found += [Card(f"{single} {n}", _rows(item)) for n, item in enumerate(value, 1)]
        else:
            top.rows.append((words(key), shown(value)))
    return [card for card in found if card.rows]


def _rows(part: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in part.items():
        label = f"{prefix}{words(key)}" if not prefix else f"{prefix}: {words(key).lower()}"
        if isinstance(value, Mapping):
            rows += _rows(value, label)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for n, item in enumerate(value, 1):
                rows += _rows(item, f"{label} {n}")
        else:
            rows.append((label, shown(value)))
    return rows
