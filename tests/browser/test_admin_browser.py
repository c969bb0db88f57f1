"""The node administration pages in chromium, every page and error state checked by
axe-core: an admin imports a peer (a wrong fingerprint refused first), adds a coordinator
who then sets up their account through the single-use link and enrols, creates and revokes
an API client, rotates the area's keys and sets a meeting date that the acknowledgement
page then offers. The new person's name and email never reach a URL, a title or a log
line of the node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.browser import SUFFIX, Visitor, pyotp_code, sign_in
from support.pages_world import inbound
from support.site import A, Site, fresh_code

from gateway.domain.clock import utcnow
from gateway.web.ui.transfer_words import long_date
from keys import fingerprint

NAME, EMAIL = "Perpetua Canarywood", "perpetua.canary@northshire.example"
THIRD = "west-dale"


def import_a_peer(site: Site, admin: Visitor, tmp_path: Path) -> None:
    site.south.create_area(THIRD)
    bundle = site.south.bundle(THIRD)
    path = tmp_path / f"{THIRD}.bundle.json"
    path.write_text(json.dumps(bundle))
    page = admin.page
    page.get_by_role("link", name="Administration", exact=True).click()
    admin.check()
    assert admin.title() == "Administration" + SUFFIX
    page.get_by_role("link", name="Peers: the other areas").click()
    admin.check()
    page.get_by_role("button", name="Import a peer's bundle").click()
    admin.check()
    page.get_by_role("button", name="Continue").click()
    admin.check()
    assert admin.title() == "Error: Import a peer's bundle" + SUFFIX
    page.get_by_label("Bundle file").set_input_files(str(path))
    page.get_by_role("button", name="Continue").click()
    admin.check()
    assert admin.title() == "Confirm the fingerprint" + SUFFIX
    page.get_by_label("Fingerprint read out by the other area").fill("0" * 64)
    page.get_by_role("button", name="Import the peer").click()
    admin.check()
    assert admin.title() == "Error: Confirm the fingerprint" + SUFFIX
    assert "Nothing was imported" in page.locator(".govuk-error-summary").inner_text()
    typed = fingerprint(bundle["body"]).upper()
    page.get_by_label("Fingerprint read out by the other area").fill(typed)
    page.get_by_role("button", name="Import the peer").click()
    admin.check()
    assert admin.title() == "Peers" + SUFFIX
    assert "West-Dale MARAC has been imported" in page.locator("main").inner_text()


def add_a_coordinator(admin: Visitor) -> str:
    admin.visit("/admin/people")
    page = admin.page
    page.get_by_role("button", name="Add a person").click()
    admin.check()
    page.get_by_role("button", name="Add the person").click()
    admin.check()
    assert admin.title() == "Error: Add a person" + SUFFIX
    page.get_by_label("Full name").fill(NAME)
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Coordinator: sends and receives").check()
    page.get_by_role("button", name="Add the person").click()
    admin.check()
    assert admin.title() == "Person added" + SUFFIX
    link = page.locator("#setup-link").inner_text()
    return link[link.index("/welcome") :]


def first_sign_in(newcomer: Visitor, path: str) -> None:
    newcomer.visit(path)
    page = newcomer.page
    assert newcomer.title() == "Set up your account" + SUFFIX
    page.get_by_role("button", name="Continue").click()
    newcomer.check()
    page.get_by_label("Password", exact=True).fill("too short")
    page.get_by_label("Type the password again").fill("too short")
    page.get_by_role("button", name="Continue").click()
    newcomer.check()
    assert newcomer.title() == "Error: Create your password" + SUFFIX
    page.get_by_label("Password", exact=True).fill("Seven lighthouses at dawn 42")
    page.get_by_label("Type the password again").fill("Seven lighthouses at dawn 42")
    page.get_by_role("button", name="Continue").click()
    newcomer.check()
    assert newcomer.title() == "Set up your authenticator app" + SUFFIX
    secret = page.locator(".app-secret").inner_text().strip()
    page.get_by_label("Code", exact=True).fill(fresh_code(secret, pyotp_code))
    page.get_by_role("button", name="Confirm and sign in").click()
    newcomer.check()
    assert newcomer.title() == "Your work" + SUFFIX


def create_and_revoke_a_client(admin: Visitor) -> None:
    admin.visit("/admin/clients")
    page = admin.page
    page.get_by_role("button", name="Create an API client").click()
    admin.check()
    page.get_by_role("button", name="Create the client").click()
    admin.check()
    assert admin.title() == "Error: Create an API client" + SUFFIX
    page.get_by_label("Name of the system").fill("Case system")
    page.get_by_label("Read the area's transfers").check()
    page.get_by_role("button", name="Create the client").click()
    admin.check()
    assert admin.title() == "API client created" + SUFFIX
    assert page.locator("#client-secret").inner_text()
    page.get_by_role("link", name="Back to API clients").click()
    admin.check()
    page.get_by_role("link", name="Revoke Case system").click()
    admin.check()
    page.get_by_role("button", name="Revoke the client").click()
    admin.check()
    assert "has been revoked" in page.locator("main").inner_text()


def rotate_the_keys(admin: Visitor) -> None:
    admin.visit("/admin/area")
    page = admin.page
    page.get_by_role("button", name="Rotate the keys").click()
    admin.check()
    page.get_by_role("button", name="Continue").click()
    admin.check()
    assert admin.title() == "Error: Rotate the area's keys" + SUFFIX
    page.get_by_label("Yes, rotate the keys now").check()
    page.get_by_role("button", name="Continue").click()
    admin.check()
    assert admin.title() == "Keys rotated" + SUFFIX
    assert page.locator("#new-fingerprint code").count() == 16


def set_a_meeting(admin: Visitor) -> Any:
    admin.visit("/admin/meetings")
    page = admin.page
    page.get_by_role("button", name="Add the date").click()
    admin.check()
    assert admin.title() == "Error: Meetings, time limits and retention" + SUFFIX
    day = utcnow().date().replace(year=utcnow().year + 1)
    page.get_by_label("Day", exact=True).fill(str(day.day))
    page.get_by_label("Month", exact=True).fill(str(day.month))
    page.get_by_label("Year", exact=True).fill(str(day.year))
    page.get_by_role("button", name="Add the date").click()
    admin.check()
    assert long_date(day) in page.locator("#meeting-dates").inner_text()
    return day


def test_an_admin_sets_up_the_area(
    site: Site,
    browser_page: Any,
    canaries: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    canaries += [NAME, EMAIL]
    transfer_id, _ = inbound(site)  # before the rotation: the peer holds the current key
    admin = browser_page(java_script=True)
    sign_in(admin, site.add_user("admin", A, "admin"))
    import_a_peer(site, admin, tmp_path)
    path = add_a_coordinator(admin)
    newcomer = browser_page(java_script=False)
    first_sign_in(newcomer, path)
    create_and_revoke_a_client(admin)
    rotate_the_keys(admin)
    day = set_a_meeting(admin)

    newcomer.visit(f"/cases/{transfer_id}/acknowledge")
    assert newcomer.page.get_by_label(long_date(day)).count() == 1
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gateway"))
    assert NAME not in logged and EMAIL not in logged


def test_the_other_admin_pages_and_their_errors_without_java_script(
    site: Site, browser_page: Any, canaries: list[str]
) -> None:
    """Managing a person (a refusal shown in the error summary), a second factor reset and
    its new link, a link that no longer works, and the limit's error state, JavaScript off."""
    canaries += [NAME, EMAIL]
    admin = browser_page(java_script=False)
    person = site.add_user("admin", A, "admin")
    sign_in(admin, person)
    path = add_a_coordinator(admin)
    page = admin.page
    page.get_by_role("link", name="Back to people").click()
    admin.check()
    page.get_by_role("link", name=f"Manage {NAME}").click()
    admin.check()
    assert admin.title() == "Manage a person" + SUFFIX
    page.get_by_role("button", name="Add the role").click()
    admin.check()
    assert admin.title() == "Error: Manage a person" + SUFFIX
    page.get_by_role("link", name="Reset their second factor").click()
    admin.check()
    page.get_by_role("button", name="Reset and make a new link").click()
    admin.check()
    assert admin.title() == "Second factor reset" + SUFFIX
    gone = browser_page(java_script=False)
    gone.visit(path)  # the first link stopped working when the new one was made
    assert gone.title() == "This link no longer works" + SUFFIX
    admin.visit("/admin/meetings")
    page.get_by_label("Working days to acknowledge").fill("30")
    page.get_by_role("button", name="Save the limit").click()
    admin.check()
    assert admin.title() == "Error: Meetings, time limits and retention" + SUFFIX
    assert "between 1 and 20" in page.locator(".govuk-error-summary").inner_text()
