"""The holder's answer pages over two real nodes (the shared node plays the flag index):
"Answer" on a received request leads to one question and a confirmation; the asker reads
the answer on "Requests you sent" (confirmed: which MARAC to contact; not a match: the
other area says it is not their case). No name or case reference in any URL, title or log."""

from __future__ import annotations

import pytest
from support.pages_world import Browser
from support.site import Site
from test_flag_pages import (  # the flag pages' own fixtures and form helpers
    OTHER_REF,
    coordinators,
    logged,
    no_canaries,
    person_fields,
    set_flag,
    site,
)

__all__ = ["logged", "site"]  # fixtures, used by name
FAMILY = "Harrowcanary"


def ask(coordinator: Browser, family: str = FAMILY) -> None:
    found = coordinator.post("/flags/lookup", person_fields(family=family))
    assert "Possibly flagged in another area" in found.text
    body = {
        "ref": found.text.split('name="ref" value="')[1].split('"')[0],
        **person_fields(family=family),
        "note": "",
    }
    assert coordinator.post("/flags/lookup/ask", body).status_code == 303


def answer_link(holder: Browser) -> str:
    page = holder.get("/flags/verifications")
    return page.text.split('href="/flags/verifications/')[1].split('"')[0]


def test_the_holder_confirms_and_the_asker_is_told_whom_to_contact(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, holder = coordinators(site)
    set_flag(holder, case_ref=OTHER_REF)
    ask(coordinator)
    waiting = coordinator.get("/flags/verifications/sent")
    assert waiting.status_code == 200 and "No answer yet" in waiting.text
    assert waiting.headers["Cache-Control"] == "no-store"

    link = answer_link(holder)
    assert link.endswith("/answer")
    path = f"/flags/verifications/{link}"
    page = holder.get(path)
    assert page.status_code == 200 and "<title>Is this your case?" in page.text
    assert "Northshire" in page.text and FAMILY not in page.text

    # No choice: the question's own error, nothing sent.
    empty = holder.post(path, {})
    assert empty.status_code == 422 and "Error: Is this your case?" in empty.text
    assert "Select whether this is your case" in empty.text
    assert "No answer yet" in coordinator.get("/flags/verifications/sent").text

    done = holder.post(path, {"answer": "confirmed"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/answered")
    confirmed = holder.follow(done)
    assert "Answer sent" in confirmed.text and "You said this is your case" in confirmed.text
    # Answered: the question page goes to the confirmation; a second answer is not offered.
    assert holder.get(path).status_code == 303
    assert holder.post(path, {"answer": "not_a_match"}).status_code == 303
    received = holder.get("/flags/verifications").text
    assert "This is our case" in received and f"{link}" not in received

    told = coordinator.get("/flags/verifications/sent").text
    assert "Their case" in told and "Contact Eastmoor MARAC" in told
    assert "marac@" in told
    no_canaries(logged, coordinator, holder)
    for seen in (*coordinator.urls, *holder.urls, *coordinator.titles, *holder.titles):
        assert FAMILY not in seen


def test_not_a_match_tells_the_asker_nothing_else(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, holder = coordinators(site)
    set_flag(holder, case_ref=OTHER_REF)
    ask(coordinator)
    path = f"/flags/verifications/{answer_link(holder)}"
    done = holder.post(path, {"answer": "not_a_match"})
    assert "You said this is not your case" in holder.follow(done).text
    told = coordinator.get("/flags/verifications/sent").text
    assert "The other area says this is not their case" in told
    assert "Eastmoor" not in told.split("<main")[1] and "mailto:" not in told
    no_canaries(logged, coordinator, holder)


def test_only_the_holders_coordinators_reach_the_answer_pages(site: Site) -> None:
    coordinator, holder = coordinators(site)
    set_flag(holder, case_ref=OTHER_REF)
    ask(coordinator)
    path = f"/flags/verifications/{answer_link(holder)}"
    assert coordinator.get(path).status_code == 404
    assert coordinator.post(path, {"answer": "confirmed"}).status_code == 404
    assert coordinator.get(path.replace("/answer", "/answered")).status_code == 404
    assert holder.get(path.replace("/answer", "/answered")).status_code == 404  # not yet
    assert holder.get("/flags/verifications/not-a-request/answer").status_code == 404
    assert "Your area has not sent" in holder.get("/flags/verifications/sent").text
