"""The shared-flag pages over two real nodes (the shared node plays the linkage authority and
the flag index for its two areas): the area's flags with their filters, printable list and
CSV; setting a flag ("add another person" without JavaScript) and reviewing it, each ending
on the new expiry; looking a person up (the answer is the POST's response, no-store) with
strong, possible and no matches; a verification request reaching the holder; the sharing
policy for admins. No name or case reference in any URL, title or log line."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pytest
from support.pages_world import CASE_REF, VICTIM, Browser, delivered, grant
from support.site import A, B, Site, make_site

from gateway.domain.clock import utcnow
from gateway.domain.flags.months import add_months

FAMILY = "Quillcanary"
BORN = date(1987, 3, 14)
OTHER_REF = "EAST-CANARY-55"


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def boxes(prefix: str, day: date | None) -> dict[str, str]:
    if day is None:
        return {f"{prefix}-day": "", f"{prefix}-month": "", f"{prefix}-year": ""}
    return {
        f"{prefix}-day": str(day.day),
        f"{prefix}-month": str(day.month),
        f"{prefix}-year": str(day.year),
    }


def person_fields(
    prefix: str = "", given: str = VICTIM, family: str = FAMILY, born: date | None = BORN
) -> dict[str, str]:
    at = f"{prefix}-" if prefix else ""
    return {
        f"{at}given_names": given,
        f"{at}family_name": family,
        **boxes(f"{at}date_of_birth", born),
        f"{at}aliases": "",
        f"{at}previous_family_names": "",
    }


def flag_form(
    case_ref: str = CASE_REF, reviewed: date | None = None, **subject: Any
) -> dict[str, str]:
    reviewed = reviewed or utcnow().date() - timedelta(days=30)
    return {
        "case_ref": case_ref,
        **boxes("reviewed_at", reviewed),
        "source": "local",
        "subject_count": "1",
        "subjects-0-role": "victim",
        **person_fields("subjects-0", **subject),
        "action": "set",
    }


def set_flag(
    browser: Browser, case_ref: str = CASE_REF, reviewed: date | None = None, **form: Any
) -> str:
    done = browser.post("/flags/new", {**flag_form(case_ref, reviewed), **form})
    assert done.status_code == 303, done.text
    location = str(done.headers["Location"])
    assert location.startswith("/flags/") and location.endswith("/set")
    return location.split("/")[2]


def coordinators(site: Site) -> tuple[Browser, Browser]:
    return (
        Browser(site, site.add_user("coord-a", A, "coordinator")),
        Browser(site, site.add_user("coord-b", B, "coordinator")),
    )


def no_canaries(logged: pytest.LogCaptureFixture, *browsers: Browser) -> None:
    for browser in browsers:
        browser.no_canaries()
        for seen in (*browser.urls, *browser.titles):
            assert FAMILY not in seen and OTHER_REF not in seen
    for canary in (VICTIM, FAMILY, CASE_REF, OTHER_REF, "1987-03-14"):
        assert canary not in logged.text


def test_set_a_flag_with_another_person_and_see_it_listed(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, _ = coordinators(site)
    page = coordinator.get("/flags/new")
    assert page.status_code == 200 and "Person 1" in page.text and "Person 2" not in page.text

    # "Add another person" posts the page and draws it again with one more person.
    more = coordinator.post("/flags/new", {**flag_form(), "action": "add"})
    assert more.status_code == 200 and "Person 2" in more.text
    assert 'name="subject_count" value="2"' in more.text
    assert VICTIM in more.text  # what was typed stays in the boxes
    fewer = coordinator.post(
        "/flags/new", {**flag_form(), "subject_count": "2", "action": "remove"}
    )
    assert "Person 2" not in fewer.text

    two = {
        **flag_form(),
        "subject_count": "2",
        "subjects-1-role": "child",
        **person_fields("subjects-1", given="Tiny", born=date(2019, 1, 2)),
    }
    flag_id = set_flag(coordinator, **two)
    done = coordinator.get(f"/flags/{flag_id}/set")
    reviewed = utcnow().date() - timedelta(days=30)
    expires = add_months(reviewed, 12)
    assert done.status_code == 200 and "Flag set" in done.text
    assert f"{expires.day} {expires:%B %Y}" in done.text and "new-expiry" in done.text
    assert CASE_REF in done.text and "victim, child" in done.text

    listed = coordinator.get("/flags")
    assert listed.status_code == 200
    assert CASE_REF in listed.text and "victim, child" in listed.text
    assert VICTIM not in listed.text and "Tiny" not in listed.text
    assert f"/flags/{flag_id}/review" in listed.text

    # A coordinator of both areas sees the flags of the area they work in.
    both = site.add_user("coord-both", A, "coordinator")
    grant(site, both, B, "coordinator")
    several = Browser(site, both)
    set_flag(several, case_ref=OTHER_REF)  # in Eastmoor, the first of their areas
    shown = several.get("/flags")
    assert shown.status_code == 200 and OTHER_REF in shown.text and CASE_REF not in shown.text
    assert several.get("/flags/lapsed.csv").status_code == 200

    # A chair reads the list, without the coordinator's actions.
    chair = Browser(site, site.add_user("chair-a", A, "chair"))
    read = chair.get("/flags")
    assert read.status_code == 200 and CASE_REF in read.text
    assert "/review" not in read.text and "Set a flag" not in read.text
    no_canaries(logged, coordinator, chair, several)


REFUSALS = [
    ({"case_ref": ""}, "case_ref", "Enter your area&#39;s case reference"),
    ({"subjects-0-given_names": ""}, "subjects-0-given_names", "Enter given names"),
    ({"subjects-0-role": ""}, "subjects-0-role", "Select who this person is in the case"),
    (boxes("reviewed_at", None), "reviewed_at-day", "Enter the date of the MARAC review"),
    ({"reviewed_at-month": "13"}, "reviewed_at-day", "must be a real date"),
    ({"source": "transfer"}, "transfer", "Select the transfer"),
]


def test_a_refused_flag_shows_each_problem_at_its_question(site: Site) -> None:
    delivered(site)  # one transfer of area A to offer as the source
    coordinator, other = coordinators(site)
    for change, field, message in REFUSALS:
        refused = coordinator.post("/flags/new", {**flag_form(), **change})
        assert refused.status_code == 422, (change, refused.text)
        assert "<title>Error: Set a flag" in refused.text
        assert f'href="#{field}"' in refused.text and message in refused.text, change
    # An area with no transfer: the source question itself says so.
    alone = other.post("/flags/new", {**flag_form(), "source": "transfer"})
    assert alone.status_code == 422 and 'href="#source"' in alone.text
    assert not site.north.scalar("SELECT count(*) FROM flags")
    coordinator.no_canaries()


def test_a_flag_from_a_transfer_and_a_case_flagged_twice(site: Site) -> None:
    north_id, _ = delivered(site)
    coordinator, _ = coordinators(site)
    page = coordinator.get("/flags/new")
    assert f'value="{north_id}"' in page.text  # offered by short reference, no name
    flag_id = set_flag(coordinator, source="transfer", transfer=north_id)
    listed = coordinator.get("/flags").text
    assert "South-Vale MARAC (moved)" in listed  # the case now sits with the receiving area
    again = coordinator.post("/flags/new", flag_form())
    assert again.status_code == 409 and "already flagged" in again.text
    assert flag_id


def test_review_extends_from_the_review_date_or_clears(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, other = coordinators(site)
    flag_id = set_flag(coordinator)
    page = coordinator.get(f"/flags/{flag_id}/review")
    assert page.status_code == 200 and "Review the flag" in page.text

    nothing = coordinator.post(f"/flags/{flag_id}/review", {})
    assert nothing.status_code == 422 and "Select what the review decided" in nothing.text
    backwards = coordinator.post(
        f"/flags/{flag_id}/review",
        {**boxes("reviewed_at", utcnow().date() - timedelta(days=60)), "outcome": "extend"},
    )
    assert backwards.status_code == 422 and "Must not be before the last review." in backwards.text
    future = coordinator.post(
        f"/flags/{flag_id}/review",
        {**boxes("reviewed_at", utcnow().date() + timedelta(days=3)), "outcome": "extend"},
    )
    assert future.status_code == 422 and "must be today or in the past" in future.text

    today = utcnow().date()
    done = coordinator.post(
        f"/flags/{flag_id}/review", {**boxes("reviewed_at", today), "outcome": "extend"}
    )
    assert done.headers["Location"] == f"/flags/{flag_id}/reviewed"
    shown = coordinator.follow(done)
    expires = add_months(today, 12)
    assert "Flag reviewed" in shown.text and f"{expires.day} {expires:%B %Y}" in shown.text

    # Another area's coordinator: no such flag.
    assert other.get(f"/flags/{flag_id}/review").status_code == 404
    assert other.post(f"/flags/{flag_id}/review", boxes("reviewed_at", today)).status_code == 404

    cleared = coordinator.post(
        f"/flags/{flag_id}/review", {**boxes("reviewed_at", today), "outcome": "clear"}
    )
    assert "Flag cleared" in coordinator.follow(cleared).text
    assert "This flag was cleared" in coordinator.get(f"/flags/{flag_id}/review").text
    refused = coordinator.post(
        f"/flags/{flag_id}/review", {**boxes("reviewed_at", today), "outcome": "extend"}
    )
    assert refused.status_code == 409 and "There is a problem" in refused.text
    no_canaries(logged, coordinator, other)


def test_the_filters_the_printable_list_and_the_lapsed_csv(site: Site) -> None:
    coordinator, _ = coordinators(site)
    today = utcnow().date()
    # A review 14 months ago: the flag lapsed two months ago, from the start.
    set_flag(coordinator, case_ref="=LAPSED-1", reviewed=add_months(today, -14))
    set_flag(coordinator, case_ref="SOON-1", reviewed=add_months(today, -12) + timedelta(days=10))
    set_flag(coordinator, case_ref="LATER-1", reviewed=today)
    # A review 13 months ago: the flag has lapsed from the start.
    soon = coordinator.get("/flags?show=expiring").text
    assert "SOON-1" in soon and "LATER-1" not in soon and "LAPSED-1" not in soon
    since = add_months(today, -3)
    lapsed = coordinator.get(
        "/flags", query_string={"show": "lapsed", **boxes("lapsed_since", since)}
    )
    assert "LAPSED-1" in lapsed.text and "SOON-1" not in lapsed.text
    assert "Lapsed" in lapsed.text

    missing = coordinator.get("/flags?show=lapsed")
    assert missing.status_code == 400 and "Enter the date the flags lapsed since" in missing.text
    assert "<title>Error: Shared flags" in missing.text
    assert coordinator.get("/flags?show=everything").status_code == 400
    assert coordinator.get("/flags?cursor=bm9wZQ").status_code == 400

    printed = coordinator.get("/flags/print?show=expiring")
    assert printed.status_code == 200 and "SOON-1" in printed.text
    assert "flags-print.css" in printed.text and "LATER-1" not in printed.text
    assert coordinator.get("/flags/print?show=lapsed").status_code == 400

    csv = coordinator.get("/flags/lapsed.csv", query_string=boxes("lapsed_since", since))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "attachment" in csv.headers["Content-Disposition"]
    assert "LAPSED" not in csv.headers["Content-Disposition"]
    lines = csv.text.splitlines()
    assert lines[0].startswith("Case reference,People")
    assert len(lines) == 2 and lines[1].startswith("'=LAPSED-1,victim,")  # never a formula
    recent = coordinator.get("/flags/lapsed.csv")  # by default: lapsed in the last 30 days
    assert len(recent.text.splitlines()) == 1
    coordinator.no_canaries()


def test_a_strong_match_in_another_area_names_it_and_its_expiry(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, other = coordinators(site)
    flag_id = set_flag(other, case_ref=OTHER_REF)
    expires = other.get(f"/flags/{flag_id}/set")
    assert expires.status_code == 200

    form = coordinator.get("/flags/lookup")
    assert form.status_code == 200 and 'method="post"' in form.text
    found = coordinator.post("/flags/lookup", person_fields())
    assert found.status_code == 200 and found.headers["Cache-Control"] == "no-store"
    assert "What the lookup found" in found.text and "Flagged by another MARAC" in found.text
    assert "Eastmoor" in found.text and "marac@eastmoor.example" in found.text
    assert OTHER_REF not in found.text  # the other area's own reference never travels
    reviewed = utcnow().date() - timedelta(days=30)
    until = add_months(reviewed, 12)
    assert f"{until.day} {until:%B %Y}" in found.text

    # The holder itself sees its own flag as a local match, with its reference.
    own = other.post("/flags/lookup", person_fields())
    assert "Flagged by your own MARAC" in own.text and OTHER_REF in own.text
    no_canaries(logged, coordinator, other)


def test_a_possible_match_asks_the_holder_who_reads_the_request(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    coordinator, holder = coordinators(site)
    set_flag(holder, case_ref=OTHER_REF)
    found = coordinator.post("/flags/lookup", person_fields(family="Harrowcanary"))
    assert found.status_code == 200 and "Possibly flagged in another area" in found.text
    assert "Eastmoor" not in found.text  # a possible match names no area
    assert 'action="/flags/lookup/ask"' in found.text

    ask = {
        "ref": found.text.split('name="ref" value="')[1].split('"')[0],
        **person_fields(family="Harrowcanary"),
        "note": "Moved here in the spring",
    }
    sent = coordinator.post("/flags/lookup/ask", ask)
    assert sent.status_code == 303 and sent.headers["Location"] == "/flags/lookup/asked"
    assert "Request sent" in coordinator.follow(sent).text

    received = holder.get("/flags/verifications")
    assert received.status_code == 200 and received.headers["Cache-Control"] == "no-store"
    assert "Harrowcanary" in received.text and OTHER_REF in received.text
    assert "Northshire" in received.text and "Moved here in the spring" in received.text
    assert "No other area has asked" in coordinator.get("/flags/verifications").text

    forged = coordinator.post("/flags/lookup/ask", {**ask, "ref": "bm9wZQ"})
    assert forged.status_code == 404 and "There is a problem" in forged.text
    no_canaries(logged, coordinator, holder)
    for seen in (*coordinator.urls, *holder.urls, *coordinator.titles, *holder.titles):
        assert "Harrowcanary" not in seen


def test_no_match_says_what_it_does_and_does_not_prove(site: Site) -> None:
    coordinator, _ = coordinators(site)
    nothing = coordinator.post("/flags/lookup", person_fields())
    assert nothing.status_code == 200 and "No flag found" in nothing.text
    assert "This does not prove the person was never flagged" in nothing.text
    no_birth = coordinator.post("/flags/lookup", person_fields(born=None))
    assert "no tokens could be made: nothing was checked" in no_birth.text
    refused = coordinator.post("/flags/lookup", person_fields(given=""))
    assert refused.status_code == 422 and "<title>Error: Look a person up" in refused.text
    assert 'href="#given_names"' in refused.text and refused.headers["Cache-Control"] == "no-store"
    future = coordinator.post(
        "/flags/lookup", person_fields(born=utcnow().date() + timedelta(days=2))
    )
    assert future.status_code == 422 and "Date of birth must be today or in the past" in future.text
    coordinator.no_canaries()


def test_the_sharing_policy_is_the_admins(site: Site) -> None:
    admin = Browser(site, site.add_user("admin-a", A, "admin"))
    page = admin.get("/flags/policy")
    assert page.status_code == 200 and "Shared now: child, victim." in page.text
    missing = admin.post("/flags/policy", {"perpetrators": "yes"})
    assert missing.status_code == 422
    assert "Select whether to share flags on children" in missing.text
    done = admin.post("/flags/policy", {"perpetrators": "yes", "children": "no"})
    assert done.headers["Location"] == "/flags/policy/saved"
    assert "perpetrator, victim" in admin.follow(done).text
    # Reading the policy records nothing; the change is recorded once.
    assert (
        site.north.scalar("SELECT count(*) FROM audit_events WHERE action = 'flag.policy_changed'")
        == 1
    )

    # Flags set now keep children out of the index, perpetrators in.
    coordinator, other = coordinators(site)
    set_flag(
        coordinator,
        **{"subjects-0-role": "child"},
    )
    found = other.post("/flags/lookup", person_fields())
    assert "No flag found" in found.text
    coordinator_page = coordinator.get("/flags").text
    assert "Not shared with other areas" in coordinator_page


def test_who_may_use_the_flag_pages(site: Site) -> None:
    coordinator, _ = coordinators(site)
    flag_id = set_flag(coordinator)
    auditor = Browser(site, site.add_user("auditor-a", A, "auditor"))
    for path in ("/flags", "/flags/new", "/flags/lookup", "/flags/verifications", "/flags/policy"):
        assert auditor.get(path).status_code == 403
    chair = Browser(site, site.add_user("chair-a", A, "chair"))
    assert chair.get("/flags/new").status_code == 403
    assert chair.get(f"/flags/{flag_id}/review").status_code == 403
    assert chair.post("/flags/lookup", person_fields()).status_code == 403
    assert coordinator.get("/flags/policy").status_code == 403
    assert coordinator.get(f"/flags/{flag_id}/reviewed").status_code == 200
    assert coordinator.get("/flags/00000000-0000-4000-8000-000000000000/set").status_code == 404
