"""The disclosure report as charts the server draws: horizontal bar charts as inline SVG
(templates/macros/charts.html), each with an SVG <title>, a text alternative in words and
its data table beside it, so nothing needs a script and a screen reader loses nothing.

Why templates and not a charting library: pygal, the well-known pure-Python SVG library,
writes a <style> element and loads a tooltip script into its SVG; this node's CSP forbids
both (style-src and script-src 'self'), and its output needs work to give each chart a
title and description axe accepts. A bar is a rectangle and two texts: a few lines here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.web.ui import audit_words
from gateway.web.ui.transfer_words import area_names

# The SVG's coordinate width, about the half column it sits in on a desktop screen, so
# its 16px text stays 16px there (it scales with the column on other screens).
WIDTH = 460
BAR_SPACE = 330  # the longest bar, leaving room for the value after it
ROW = 46  # a label line and a bar


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str
    width: int
    y: int


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    what: str  # the column header of the labels in the table
    unit: str  # the column header of the values
    bars: list[Bar]

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW + 8

    @property
    def summary(self) -> str:
        """The text alternative: every bar in words."""
        if not self.bars:
            return f"{self.title}: none in this period."
        parts = "; ".join(f"{bar.label}: {bar.shown}" for bar in self.bars)
        return f"{self.title}. {parts}."


def chart(
    ident: str, title: str, what: str, unit: str, values: list[tuple[str, float, str]]
) -> Chart:
    biggest = max((value for _, value, _ in values), default=0) or 1
    bars = [
        Bar(label, value, shown, round(BAR_SPACE * value / biggest), index * ROW)
        for index, (label, value, shown) in enumerate(values)
    ]
    return Chart(ident, title, what, unit, bars)


def counts(counted: dict[str, int], words: Any) -> list[tuple[str, float, str]]:
    ordered = sorted(counted.items(), key=lambda pair: (-pair[1], pair[0]))
    return [(words(code), count, str(count)) for code, count in ordered]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "No data"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n][:2]
    return " ".join(words) if words else f"{secs} second{'' if secs == 1 else 's'}"


def report_charts(report: dict[str, Any]) -> list[Chart]:
    sent, received = report["disclosures_sent"], report["disclosures_received"]
    overdue = report["overdue_acknowledgements"]
    codes = {*sent["by_peer_area"], *received["by_peer_area"], *overdue["by_peer_area"]}
    names = area_names(code for code in codes if code)

    def area(code: str) -> str:
        return names.get(code, code) or "Unknown area"

    charts = []
    for key, words, direction in (("sent", sent, "sent"), ("received", received, "received")):
        charts += [
            chart(
                f"{key}-by-area",
                f"Disclosures {direction}, by peer area",
                "Peer area",
                "Disclosures",
                counts(words["by_peer_area"], area),
            ),
            chart(
                f"{key}-by-ground",
                f"Disclosures {direction}, by legal ground",
                "Legal ground",
                "Disclosures",
                counts(words["by_legal_basis"], audit_words.ground_words),
            ),
            chart(
                f"{key}-by-consent",
                f"Disclosures {direction}, by consent position",
                "Consent position",
                "Disclosures",
                counts(words["by_consent"], audit_words.consent_words),
            ),
        ]
    timing = []
    for name, found in (
        ("Delivery", report["delivery"]),
        ("Acknowledgement", report["acknowledgement"]),
    ):
        for label, key in (("median", "median_seconds"), ("90th percentile", "p90_seconds")):
            seconds = found[key]
            timing.append((f"{name}, {label}", seconds or 0, duration(seconds)))
    charts.append(
        chart("times", "Time to delivery and to acknowledgement", "Measure", "Time", timing)
    )
    charts.append(
        chart(
            "overdue",
            "Overdue acknowledgements, by peer area",
            "Peer area",
            "Transfers",
            counts(overdue["by_peer_area"], area),
        )
    )
    return charts


def totals(report: dict[str, Any]) -> dict[str, int]:
    return {
        "sent": report["disclosures_sent"]["total"],
        "received": report["disclosures_received"]["total"],
        "overdue": report["overdue_acknowledgements"]["total"],
        "timed_deliveries": report["delivery"]["count"],
        "timed_acknowledgements": report["acknowledgement"]["count"],
    }
