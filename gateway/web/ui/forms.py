"""Question pages: what a form asks, how its answers become the JSON the domain's
marshmallow schemas load, and how the schemas' refusals become a GOV.UK error summary with
a message at each field (DESIGN section 8: the page validates nothing the schema does not,
and can never allow what the API refuses).

A `Question` names the answer's path in the payload (`victim.given_names`), its label and
its kind. `read_answers` turns a posted form into values by kind (a date from its day,
month and year boxes; a list from lines; yes/no to a boolean); `problems` turns the
schema's messages, keyed by the same paths, into plain English as the layout's ErrorMap
(path -> message, gateway/web/ui/layout.py), and `anchors` says where a date's summary
link lands. Messages never repeat what was typed.

Templates render questions with `macros/questions.html` (`question(q, values, form,
errors)`), which picks the GOV.UK component for the question's kind.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from gateway.web.ui.layout import field_id

LONDON = ZoneInfo("Europe/London")
# What a date box holds when what was typed is not a date: the schema then refuses it as
# "Not a valid date." without the page echoing anything.
NOT_A_DATE = "not-a-date"

TEXT, TEXTAREA, EMAIL, NUMBER = "text", "textarea", "email", "number"
DATE, MOMENT = "date", "moment"  # a day; a day and a time of day (UK time)
RADIOS, CHECKBOXES, YESNO, LINES = "radios", "checkboxes", "yesno", "lines"
BLANK = (
    "Missing data for required field.",
    "Field may not be null.",
    "May not be blank.",
    "Required.",
)


@dataclass(frozen=True)
class Question:
    """One answer on a page. `path` is relative to what the page edits."""

    path: str
    label: str
    kind: str = TEXT
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    # Names, dates of birth, addresses and phone numbers: never offered for autofill.
    personal: bool = False
    # The answer is required by the schema (a blank answer reads "Enter ...").
    required: bool = False
    width: str | None = None
    # How an error message names the answer when the label is a question:
    # "Select whether the victim was told" rather than "Select was the victim told?".
    noun: str | None = None

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def summary_href(self) -> str:
        """Where the error summary links: the first box of a date, the first option."""
        if self.kind in (DATE, MOMENT):
            return "#" + self.id + "-day"
        return "#" + self.id

    def shown(self, value: Any) -> str:
        """The answer as a person reads it on a check-answers page."""
        if value is None or value == [] or value == "":
            return "Not given"
        if self.kind == YESNO:
            return "Yes" if value else "No"
        labels = dict(self.options)
        if self.kind in (RADIOS,):
            return labels.get(str(value), str(value))
        if self.kind in (CHECKBOXES,):
            return ", ".join(labels.get(str(v), str(v)) for v in value)
        if self.kind == LINES:
            return ", ".join(str(v) for v in value)
        if self.kind == DATE:
            return _long_date(str(value))
        if self.kind == MOMENT:
            return _long_moment(str(value))
        return str(value)


# --- reading a posted form ----------------------------------------------------------------


def read_answers(form: MultiDict[str, str], questions: Sequence[Question]) -> dict[str, Any]:
    """Each question's answer by its path, typed for the schema (blank -> None)."""
    answers: dict[str, Any] = {}
    for q in questions:
        value = _read(form, q)
        if value is None and q.kind == YESNO and not q.required:
            continue  # an optional yes/no left unanswered: the schema's default (no) applies
        answers[q.path] = value
    return answers


def _read(form: MultiDict[str, str], q: Question) -> Any:
    raw = (form.get(q.id) or "").strip()
    if q.kind == CHECKBOXES:
        return [v for v in form.getlist(q.id) if v]
    if q.kind == LINES:
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if q.kind == YESNO:
        return {"yes": True, "no": False}.get(raw)
    if q.kind == NUMBER:
        return int(raw) if re.fullmatch(r"\d{1,6}", raw) else (raw or None)
    if q.kind == DATE:
        return _date(form, q.id)
    if q.kind == MOMENT:
        return _moment(form, q.id)
    return raw or None


def _date(form: MultiDict[str, str], name: str) -> str | None:
    parts = [(form.get(f"{name}-{box}") or "").strip() for box in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(p) for p in parts)
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return NOT_A_DATE


def _moment(form: MultiDict[str, str], name: str) -> str | None:
    """A date and a time of day in UK time, as the RFC 3339 UTC timestamp the schema wants."""
    day = _date(form, name)
    clock = (form.get(f"{name}-time") or "").strip()
    if day is None and not clock:
        return None
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", clock or "12:00")
    if day in (None, NOT_A_DATE) or match is None:
        return NOT_A_DATE
    try:
        local = dt.datetime.combine(
            dt.date.fromisoformat(str(day)),
            dt.time(int(match[1]), int(match[2])),
            tzinfo=LONDON,
        )
    except ValueError:
        return NOT_A_DATE
    return local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nest(answers: Mapping[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1}` -> `{"a": {"b": 1}}`: a page's answers as the object they describe."""
    out: dict[str, Any] = {}
    for path, value in answers.items():
        node = out
        *parents, leaf = path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


def value_at(data: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def prefill(q: Question, value: Any) -> dict[str, Any]:
    """What the page shows in the boxes for a saved answer."""
    if value is None:
        return {}
    if q.kind == LINES:
        return {"text": "\n".join(str(v) for v in value)}
    if q.kind == YESNO:
        return {"choice": "yes" if value else "no"}
    if q.kind in (DATE, MOMENT) and value != NOT_A_DATE:
        text = str(value)
        when = (
            dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(LONDON)
            if q.kind == MOMENT
            else dt.datetime.fromisoformat(text)
        )
        boxes = {"day": str(when.day), "month": str(when.month), "year": str(when.year)}
        if q.kind == MOMENT:
            boxes["time"] = when.strftime("%H:%M")
        return boxes
    if q.kind == CHECKBOXES:
        return {"chosen": [str(v) for v in value]}
    return {"text": str(value), "choice": str(value)}


# --- the schema's refusals as plain English -------------------------------------------------


def flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested messages as (path, message) pairs, in the schema's order."""
    if isinstance(messages, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, inner in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            pairs += flatten(inner, "" if key == "_schema" and not prefix else path)
        return pairs
    if isinstance(messages, list | tuple):
        return [(prefix, str(m)) for m in messages if isinstance(m, str)] + [
            pair for m in messages if not isinstance(m, str) for pair in flatten(m, prefix)
        ]
    return [(prefix, str(messages))]


def problems(messages: Any, questions: Iterable[Question], *, prefix: str = "") -> dict[str, str]:
    """The page's ErrorMap: each schema message in plain English at the question whose
    path it names (a path under `prefix` is read relative to it); a message about no
    question on this page is the form's own ("")."""
    by_path = {q.path: q for q in questions}
    found: dict[str, str] = {}
    for path, message in flatten(messages):
        relative = path.removeprefix(prefix + ".") if prefix and path.startswith(prefix) else path
        q = by_path.get(relative) or _owner(by_path, relative)
        key, text = (q.path, plain(message, q)) if q else ("", plain(message, None))
        found.setdefault(key, text)
    return found


def anchors(questions: Iterable[Question]) -> dict[str, str]:
    """Where the error summary links for questions whose first box has another id."""
    return {q.path: q.summary_href.lstrip("#") for q in questions if q.kind in (DATE, MOMENT)}


def _owner(by_path: Mapping[str, Question], path: str) -> Question | None:
    """The question a deeper path belongs to (`move.safe_contact.phone` -> `move.safe_contact`)."""
    while "." in path:
        path = path.rsplit(".", 1)[0]
        if path in by_path:
            return by_path[path]
    return None


def plain(message: str, q: Question | None) -> str:
    """A schema message as a GOV.UK error message: what to do, naming the question."""
    label = (q.noun or _lower_first(q.label)) if q else "this answer"
    choose = q is not None and q.kind in (RADIOS, YESNO, CHECKBOXES)
    if message in BLANK:
        return f"Select {label}" if choose else f"Enter {label}"
    if message.startswith("Must be one of") or message == "Not a valid choice.":
        return f"Select {label}"
    if message.startswith("Shorter than minimum length 1") or message.startswith(
        "Length must be between 1 and"
    ):
        if "between 1 and" in message:
            limit = message.rsplit(" ", 1)[-1].rstrip(".")
            return f"{_upper_first(label)} must be {limit} characters or fewer"
        return f"Select {label}" if choose else f"Enter {label}"
    if message.startswith("Longer than maximum length"):
        limit = message.rsplit(" ", 1)[-1].rstrip(".")
        return f"{_upper_first(label)} must be {limit} characters or fewer"
    if message in ("Not a valid date.", "Not a valid datetime."):
        return f"{_upper_first(label)} must be a real date"
    if message in ("Not a valid integer.", "Not a valid number."):
        return f"{_upper_first(label)} must be a whole number"
    if message.startswith("Must be greater than or equal to") or message.startswith(
        "Must be less than or equal to"
    ):
        return f"{_upper_first(label)} is outside the allowed range"
    if message == "Date may not be in the future." or message == "Time may not be in the future.":
        return f"{_upper_first(label)} must be today or in the past"
    if message == "Date may not be in the past.":
        return f"{_upper_first(label)} must be today or in the future"
    if message == "Not a valid email address.":
        return "Enter an email address in the correct format, like name@example.org"
    if message == "Duplicate entries are not allowed.":
        return f"{_upper_first(label)} lists the same thing twice"
    if message == "Unknown field.":
        return "This answer is not part of the form"
    # The project's own rules are already written for people ("Required when ...").
    return message


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _long_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).strftime("%-d %B %Y")
    except ValueError:
        return text


def _long_moment(text: str) -> str:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(LONDON)
    except ValueError:
        return text
    return when.strftime("%-d %B %Y at %-I:%M%p").replace("AM", "am").replace("PM", "pm")
