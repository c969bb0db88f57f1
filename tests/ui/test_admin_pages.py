"""The node administration pages on real nodes (gateway/web/ui/admin.py, people.py,
welcome.py): this area's fingerprint, bundle and key rotation; peers imported only with the
fingerprint read out by phone; people added with a single-use link (mailed through a real
SMTP sink) who set a password and enrol; roles, locks and lost second factors; API clients
created (the secret once) and revoked; meeting dates, the acknowledgement limit and the
retention period. Every rule and error state, and the new person's name and email never
in a URL, a title or a log line."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from support.pages_world import Browser
from support.site import PASSWORD, PEER, A, B, Site, csrf_from, fresh_code, make_site
from support.smtp_sink import SmtpSink

from gateway.domain.clock import utcnow
from keys import fingerprint, totp_code

NAME, EMAIL = "Perpetua Canarywood", "perpetua.canary@northshire.example"
NEW_PASSWORD = "Seven lighthouses at dawn 42"
LINK = re.compile(r'id="setup-link"[^>]*>([^<]+)<')
SECRET = re.compile(r'class="app-secret">([A-Z2-7]+)<')
THIRD = "west-dale"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def site(node_factory: Any, sink: SmtpSink) -> Site:
    return make_site(node_factory, **sink.settings)


@pytest.fixture
def admin(site: Site) -> Browser:
    return Browser(site, site.add_user("admin", A, "admin"))


def no_canaries(browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gateway"))
    for seen in (*browser.urls, *browser.titles, ours):
        assert NAME not in seen and EMAIL not in seen
    assert all(t.endswith("MARAC Exchange") for t in browser.titles), browser.titles


def summary(page: Any) -> str:
    found = re.search(r'<div class="govuk-error-summary.*?</ul>', page.text, re.S)
    assert found, page.text
    return found[0]


def upload(admin: Browser, content: bytes | None) -> Any:
    data: dict[str, Any] = {}
    if content is not None:
        data["bundle"] = (io.BytesIO(content), "bundle.json")
    return admin.post("/admin/peers/import", data, content_type="multipart/form-data")


# --- this area -----------------------------------------------------------------------------


def test_this_area_its_bundle_and_a_key_rotation(site: Site, admin: Browser) -> None:
    bundle = site.north.bundle(A)
    old = fingerprint(bundle["body"])
    page = admin.get("/admin/area")
    assert page.status_code == 200 and "<title>This area" in page.text
    assert all(f"<code>{group}</code>" in page.text for group in old.split())
    download = admin.get("/admin/area/bundle")
    assert download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    assert fingerprint(json.loads(download.data)["body"]) == old
    assert admin.get("/admin/area/rotated").status_code == 404  # never rotated

    asked = admin.get("/admin/area/rotate")
    assert "Are you sure you want to rotate" in asked.text
    unanswered = admin.post("/admin/area/rotate")
    assert unanswered.status_code == 400 and "<title>Error: Rotate" in unanswered.text
    assert "Select whether to rotate the keys" in summary(unanswered)
    kept = admin.post("/admin/area/rotate", {"confirm": "no"})
    assert kept.headers["Location"] == "/admin/area"
    assert fingerprint(site.north.bundle(A)["body"]) == old
    done = admin.post("/admin/area/rotate", {"confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"] == "/admin/area/rotated"
    shown = admin.follow(done)
    new = fingerprint(site.north.bundle(A)["body"])
    assert new != old and "Keys rotated" in shown.text
    assert all(f"<code>{group}</code>" in shown.text for group in new.split())
    with site.north.node.engine.connect() as connection:
        actions = connection.exec_driver_sql("SELECT action FROM audit_events").scalars().all()
    assert "keys.rotated" in actions


# --- peers ---------------------------------------------------------------------------------


def test_a_peer_is_imported_only_with_the_fingerprint_read_out(site: Site, admin: Browser) -> None:
    listed = admin.get("/admin/peers")
    south = fingerprint(site.south.bundle(PEER)["body"])
    assert south.split()[0] in listed.text and "Valid" in listed.text
    site.south.create_area(THIRD)
    bundle = site.south.bundle(THIRD)
    right = fingerprint(bundle["body"])

    assert admin.get("/admin/peers/confirm").status_code == 404  # nothing uploaded yet
    for content, status, message in (
        (None, 400, "Select the bundle file"),
        (b"not json", 422, "The file is not a valid bundle"),
        (json.dumps({"kind": "x"}).encode(), 422, "The file is not a valid bundle"),
        (json.dumps(site.north.bundle(B)).encode(), 409, "is hosted on this node"),
    ):
        refused = upload(admin, content)
        assert refused.status_code == status, refused.text
        assert message in summary(refused) and "<title>Error: Import" in refused.text
    tampered = json.loads(json.dumps(bundle))
    tampered["body"]["url"] = "http://127.0.0.1:1"
    assert upload(admin, json.dumps(tampered).encode()).status_code == 422

    sent = upload(admin, json.dumps(bundle).encode())
    assert sent.status_code == 303 and sent.headers["Location"] == "/admin/peers/confirm"
    confirm = admin.follow(sent)
    assert "West-Dale MARAC" in confirm.text and right.split()[0] not in confirm.text

    for typed, status, message in (
        ("", 400, "Enter the fingerprint"),
        ("1234", 422, "64 letters"),
        (fingerprint({"other": 1}), 403, "does not match this bundle. Nothing was imported"),
    ):
        refused = admin.post("/admin/peers/confirm", {"fingerprint": typed})
        assert refused.status_code == status and message in summary(refused)
        assert "<title>Error: Confirm the fingerprint" in refused.text
    assert THIRD not in admin.get("/admin/peers").text  # nothing imported

    done = admin.post("/admin/peers/confirm", {"fingerprint": right.replace(" ", "").upper()})
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/peers?imported={THIRD}"
    page = admin.follow(done)
    assert "West-Dale MARAC has been imported" in page.text and right.split()[-1] in page.text
    assert admin.get("/admin/peers/confirm").status_code == 404  # the upload is spent


def test_an_oversized_bundle_is_refused(site: Site, admin: Browser) -> None:
    big = upload(admin, b" " * (200 * 1024))
    assert big.status_code == 413


# --- people --------------------------------------------------------------------------------


def add_person(admin: Browser, **changes: str) -> Any:
    return admin.post(
        "/admin/people/new", {"name": NAME, "email": EMAIL, "role": "coordinator", **changes}
    )


def local(link: str) -> str:
    """The link's path on the node (the node's GATEWAY_BASE_URL is its default here)."""
    return link[link.index("/welcome") :]


def welcome(site: Site, link: str, password: str = NEW_PASSWORD) -> FlaskClient:
    """The new person's first sign-in: the link, a password, the authenticator."""
    path = local(link)
    browser = site.app.test_client()
    start = browser.get(path)
    assert start.status_code == 200 and "Set up your account" in start.text
    started = browser.post(
        "/welcome", data={"token": path.split("token=")[1], "csrf_token": csrf_from(start.text)}
    )
    assert started.headers["Location"] == "/welcome/password"
    page = browser.get("/welcome/password")
    done = browser.post(
        "/welcome/password",
        data={"password": password, "confirm": password, "csrf_token": csrf_from(page.text)},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/login/enrol", done.text
    enrol = browser.get("/login/enrol")
    found = SECRET.search(enrol.text)
    assert found
    signed = browser.post(
        "/login/enrol",
        data={"code": fresh_code(found[1], totp_code), "csrf_token": csrf_from(enrol.text)},
    )
    assert signed.status_code == 303 and signed.headers["Location"] == "/"
    return browser


def test_a_person_is_added_and_sets_up_their_account_through_the_link(
    site: Site, admin: Browser, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    empty = admin.post("/admin/people/new", {})
    assert empty.status_code == 400 and "<title>Error: Add a person" in empty.text
    for message in ("Enter their full name", "Enter an email address", "Select a role"):
        assert message in summary(empty)
    bad = add_person(admin, email="not an email")
    assert bad.status_code == 400 and "like name@example.org" in summary(bad)
    assert NAME in bad.text  # what was typed stays in the boxes

    added = add_person(admin)
    assert added.status_code == 200 and "<title>Person added" in added.text
    link = LINK.search(added.text)
    assert link and "shown only once" in added.text and "emailed" in added.text
    assert "/welcome?token=" in link[1]
    (mail,) = sink.messages
    assert mail.rcpt_tos == (EMAIL,) and link[1] in mail.body
    assert NAME not in mail.body and EMAIL not in mail.body and "Canary" not in mail.subject

    listed = admin.get("/admin/people")
    assert NAME in listed.text and "Link sent" in listed.text
    again = add_person(admin)  # the same email and role
    assert again.status_code == 409 and "already holds this role" in summary(again)

    browser = welcome(site, link[1])
    assert browser.get("/").status_code == 200
    gone = site.app.test_client().get(local(link[1]))
    assert gone.status_code == 404 and "This link no longer works" in gone.text
    assert "Active" in admin.get("/admin/people").text
    no_canaries(admin, caplog)


def test_the_password_rules_and_an_expired_link(site: Site, admin: Browser) -> None:
    link = LINK.search(add_person(admin).text)
    assert link
    path = local(link[1])
    browser = site.app.test_client()
    start = browser.get(path)
    browser.post(
        "/welcome", data={"token": path.split("token=")[1], "csrf_token": csrf_from(start.text)}
    )
    page = browser.get("/welcome/password")
    token = csrf_from(page.text)
    for password, confirm, message in (
        ("", "", "Enter a password"),
        ("short", "short", "Use at least 12 characters"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The passwords do not match"),
    ):
        refused = browser.post(
            "/welcome/password",
            data={"password": password, "confirm": confirm, "csrf_token": token},
        )
        assert refused.status_code == 400 and message in refused.text
        assert "<title>Error: Create your password" in refused.text
    assert site.app.test_client().get("/welcome/password").status_code == 404
    site.sql("UPDATE invitations SET expires_at = :t", t=utcnow())
    expired = browser.post(
        "/welcome/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
    )
    assert expired.status_code == 404 and "expired or has already been used" in expired.text
    assert site.app.test_client().get(path).status_code == 404
    assert site.app.test_client().get("/welcome?token=short").status_code == 404


def person_id(admin: Browser) -> str:
    listed = admin.get("/admin/people").text
    ids = re.findall(r'href="/admin/people/([0-9a-f-]{36})"', listed)
    return next(i for i in ids if i != admin.person.user_id)


def test_roles_a_lock_and_a_lost_second_factor(site: Site, admin: Browser) -> None:
    link = LINK.search(add_person(admin).text)
    assert link
    welcome(site, link[1])
    user_id = person_id(admin)
    page = admin.get(f"/admin/people/{user_id}")
    assert "<title>Manage a person" in page.text and EMAIL in page.text

    no_role = admin.post(f"/admin/people/{user_id}/roles", {})
    assert no_role.status_code == 400 and "Select a role" in summary(no_role)
    assert admin.post(f"/admin/people/{user_id}/roles", {"role": "chair"}).status_code == 303
    assert "Chair:" in admin.get(f"/admin/people/{user_id}").text
    gone = admin.post(f"/admin/people/{user_id}/roles/remove", {"role": "coordinator"})
    assert gone.status_code == 303
    twice = admin.post(f"/admin/people/{user_id}/roles/remove", {"role": "coordinator"})
    assert twice.status_code == 409 and "does not hold this role" in summary(twice)
    own = admin.post(f"/admin/people/{admin.person.user_id}/roles/remove", {"role": "admin"})
    assert own.status_code == 409 and "your own admin role" in summary(own)

    not_locked = admin.post(f"/admin/people/{user_id}/unlock")
    assert not_locked.status_code == 409 and "not locked" in summary(not_locked)
    site.sql(
        "UPDATE users SET locked_until = :t WHERE id = :u", t=utcnow().replace(year=2099), u=user_id
    )
    assert "Unlock the account" in admin.get(f"/admin/people/{user_id}").text
    assert admin.post(f"/admin/people/{user_id}/unlock").status_code == 303
    assert "Unlock the account" not in admin.get(f"/admin/people/{user_id}").text

    confirm = admin.get(f"/admin/people/{user_id}/reset")
    assert "<title>Reset their second factor" in confirm.text
    reset = admin.post(f"/admin/people/{user_id}/reset")
    assert reset.status_code == 200 and "<title>Second factor reset" in reset.text
    new_link = LINK.search(reset.text)
    assert new_link and new_link[1] != link[1]
    old_password = site.app.test_client()
    page = old_password.get("/login")
    refused = old_password.post(
        "/login",
        data={"email": EMAIL, "password": NEW_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 401  # the password went with the authenticator
    welcome(site, new_link[1], password="Eight quiet harbours 17")
    assert (
        "Reset their second factor" not in admin.get(f"/admin/people/{admin.person.user_id}").text
    )  # never your own
    with site.north.node.engine.connect() as connection:
        actions = set(connection.exec_driver_sql("SELECT action FROM audit_events").scalars())
    assert {
        "user.invited",
        "user.role_granted",
        "user.role_removed",
        "user.unlocked",
        "user.second_factor_reset",
        "user.password_set",
    } <= actions


def test_only_the_area_s_admins_see_its_people(site: Site, admin: Browser) -> None:
    coordinator = Browser(site, site.add_user("coord", A, "coordinator"))
    for path in ("/admin", "/admin/people", "/admin/area", "/admin/clients", "/admin/meetings"):
        assert coordinator.get(path).status_code == 403
    assert "Administration" not in coordinator.get("/").text
    assert "Administration" in admin.get("/").text
    other = Browser(site, site.add_user("admin-b", B, "admin"))
    assert other.get(f"/admin/people/{admin.person.user_id}").status_code == 404
    assert other.post(f"/admin/people/{admin.person.user_id}/unlock").status_code == 404


# --- API clients ---------------------------------------------------------------------------


def test_an_api_client_is_created_shown_once_and_revoked(site: Site, admin: Browser) -> None:
    empty = admin.post("/admin/clients/new", {})
    assert empty.status_code == 400 and "<title>Error: Create an API client" in empty.text
    assert "Enter the name of the system" in summary(empty)
    assert "Select what the system may do" in summary(empty)
    bad = admin.post("/admin/clients/new", {"name": "<cms>", "scopes": "transfers:read"})
    assert bad.status_code == 400 and "only letters, digits" in summary(bad)

    made = admin.post("/admin/clients/new", {"name": "Case system", "scopes": "transfers:read"})
    assert made.status_code == 200 and "<title>API client created" in made.text
    assert "shown only once" in made.text
    client_id = re.search(r'id="client-id">([^<]+)<', made.text)
    secret = re.search(r'id="client-secret"[^>]*>([^<]+)<', made.text)
    assert client_id and secret
    token = site.token(client_id[1], secret[1])
    listed = admin.get("/admin/clients")
    assert client_id[1] in listed.text and secret[1] not in listed.text

    confirm = admin.get(f"/admin/clients/{client_id[1]}/revoke")
    assert "<title>Revoke the API client" in confirm.text
    done = admin.post(f"/admin/clients/{client_id[1]}/revoke")
    assert done.status_code == 303
    assert "has been revoked" in admin.follow(done).text
    api = site.app.test_client().get(
        "/api/v1/transfers", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 401
    again = admin.post(f"/admin/clients/{client_id[1]}/revoke")
    assert again.status_code == 409 and "already been revoked" in summary(again)
    assert admin.get("/admin/clients/gwc-nosuchclientatall0/revoke").status_code == 404
    other_area, _ = site.new_client(B, "transfers:read")
    assert admin.get(f"/admin/clients/{other_area}/revoke").status_code == 404


# --- meetings, the limit, retention --------------------------------------------------------


def date_form(day: Any) -> dict[str, str]:
    return {"date-day": str(day.day), "date-month": str(day.month), "date-year": str(day.year)}


def test_meeting_dates_the_limit_and_retention(site: Site, admin: Browser) -> None:
    page = admin.get("/admin/meetings")
    assert "No meeting dates set" in page.text and "node's default" in page.text
    soon = utcnow().date().replace(year=utcnow().year + 1)
    for data, message in (
        ({}, "Enter the meeting date"),
        ({"date-day": "31", "date-month": "2", "date-year": "2030"}, "must be a real date"),
        (date_form(utcnow().date().replace(year=2020)), "today or in the future"),
    ):
        refused = admin.post("/admin/meetings/add", data)
        assert refused.status_code == 400 and message in summary(refused)
        assert 'href="#date-day"' in refused.text
    assert admin.post("/admin/meetings/add", date_form(soon)).status_code == 303
    listed = admin.get("/admin/meetings")
    assert soon.strftime("%-d %B %Y") in listed.text
    bad_remove = admin.post("/admin/meetings/remove", {"date": "nonsense"})
    assert bad_remove.status_code == 400
    assert admin.post("/admin/meetings/remove", {"date": soon.isoformat()}).status_code == 303
    assert "No meeting dates set" in admin.get("/admin/meetings").text

    for value, status, message in (
        ("", 400, "Enter the number of working days"),
        ("two", 400, "as a whole number"),
        ("25", 422, "between 1 and 20"),
    ):
        refused = admin.post("/admin/settings", {"ack_working_days": value})
        assert refused.status_code == status and message in summary(refused), refused.text
    assert admin.post("/admin/settings", {"ack_working_days": "3"}).status_code == 303
    assert 'value="3"' in admin.get("/admin/meetings").text

    refused = admin.post("/admin/retention", {"retention_months": "0"})
    assert refused.status_code == 422 and "between 1 and 1200" in summary(refused)
    assert admin.post("/admin/retention", {"retention_months": "24"}).status_code == 303
    assert "This area keeps case content for 24 months" in admin.get("/admin/meetings").text


def test_a_person_signs_in_with_the_password_they_chose(site: Site, admin: Browser) -> None:
    """After the link, the person signs in like everyone else: password, then code."""
    link = LINK.search(add_person(admin, role="chair").text)
    assert link
    welcome(site, link[1])
    browser = site.app.test_client()
    page = browser.get("/login")
    wrong = browser.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    assert wrong.status_code == 401
    right = browser.post(
        "/login",
        data={"email": EMAIL, "password": NEW_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert right.headers["Location"] == "/login/totp"
