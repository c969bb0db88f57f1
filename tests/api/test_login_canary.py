"""No email or password in any log line or error document produced by the login flows:
wrong password, unknown email, lockout, a wrong code, a good login, logout, API errors.

The canary email and passwords are unique per run; the records really are captured (the
login logger writes at each step), so the test can fail."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest
from support.site import PASSWORD, A, Site, csrf_from, make_site


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def test_login_flows_never_log_or_echo_emails_or_passwords(
    site: Site, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("gateway", "werkzeug", "authlib", "sqlalchemy", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    tag = secrets.token_hex(6)
    email = f"zqxcanary{tag}@{A}.example"
    unknown = f"zqxnobody{tag}@{A}.example"
    wrong = f"Zqxwrongpass{tag}"
    person = site.add_user("canary", A, "coordinator", email=email)
    bodies: list[str] = []

    def attempt(address: str, password: str) -> Any:
        browser = site.app.test_client()
        page = browser.get("/login")
        answer = browser.post(
            "/login",
            data={"email": address, "password": password, "csrf_token": csrf_from(page.text)},
        )
        bodies.append(answer.get_data(as_text=True))
        return answer

    assert attempt(unknown, wrong).status_code == 401
    assert attempt(email, wrong).status_code == 401
    browser = site.login(person)
    bodies.append(browser.get("/").get_data(as_text=True))
    site.logout(browser)
    wrong_code = site.submit_code(site.password_step(person), "123456")
    bodies.append(wrong_code.get_data(as_text=True))
    for _ in range(5):
        attempt(email, wrong)
    locked = attempt(email, PASSWORD)
    assert locked.status_code == 401
    api = site.app.test_client().post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": email, "client_secret": wrong},
    )
    bodies.append(api.get_data(as_text=True))

    assert any(r.name == "gateway.login" for r in caplog.records)
    out, err = capsys.readouterr()
    haystacks = {
        "the formatted log": caplog.text,
        "stdout/stderr": out + err,
        **{f"response {n}": body for n, body in enumerate(bodies)},
    }
    for record in caplog.records:
        haystacks[f"record {record.name}"] = " ".join(
            [record.getMessage(), repr(record.args), record.exc_text or ""]
        )
    for where, text in haystacks.items():
        for needle in (email, unknown, wrong, PASSWORD, f"zqxcanary{tag}", f"zqxnobody{tag}"):
            assert needle.lower() not in text.lower(), f"{needle!r} found in {where}"
