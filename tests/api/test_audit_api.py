"""The audit API with real identities: auditors see their own area's log, its
verification, reports and subject-access answers; every sign-in, sign-out, content
opening and token issue is in the log; another area's auditor sees none of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.site import PEER, A, B, Site, make_site

from gateway.devtools.samples import sample_transfer


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def actions(site: Site, area: str) -> list[str]:
    with site.north.node.engine.connect() as connection:
        from sqlalchemy import text

        rows = connection.execute(
            text("SELECT leaf FROM audit_events WHERE area_code = :a ORDER BY seq"), {"a": area}
        )
        return [json.loads(leaf)["action"] for (leaf,) in rows]


def test_auditor_reads_the_log_pages_verifies_and_reports(site: Site) -> None:
    auditor = site.login(site.add_user("aud", A, "auditor"))
    for _ in range(3):
        site.outbound(A)
    first = auditor.get("/api/v1/audit?limit=2")
    assert first.status_code == 200, first.text
    assert [item["seq"] for item in first.json["items"]] == [0, 1]
    assert first.json["next"] == "1"
    rest = auditor.get(f"/api/v1/audit?cursor={first.json['next']}&limit=500").json
    assert rest["next"] is None
    seen = [item["action"] for item in first.json["items"] + rest["items"]]
    assert seen == actions(site, A)
    assert seen.count("transfer.sent") == 3
    assert all(len(item["leaf_hash"]) == 64 for item in rest["items"])

    sent_only = auditor.get("/api/v1/audit?action=transfer.sent").json["items"]
    assert [item["action"] for item in sent_only] == ["transfer.sent"] * 3

    verified = auditor.get("/api/v1/audit/verify")
    assert verified.status_code == 200
    assert verified.json["ok"] is True
    assert verified.json["entries"] == len(seen)

    report = auditor.get("/api/v1/reports/disclosures?period=year").json
    assert report["disclosures_sent"]["total"] == 3
    assert report["disclosures_sent"]["by_peer_area"] == {PEER: 3}


def test_sign_in_out_content_and_tokens_are_logged(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    browser = site.login(person)
    transfer = site.outbound(A)
    assert browser.get(f"/api/v1/transfers/{transfer}").status_code == 200
    site.logout(browser)
    site.bearer(A, "audit:read")
    logged = actions(site, A)
    for action in (
        "user.role_granted",
        "login",
        "transfer.sent",
        "content.opened",
        "logout",
        "client.created",
        "client.token_issued",
    ):
        assert action in logged, action
    assert logged.index("login") < logged.index("content.opened") < logged.index("logout")
    assert "login" not in actions(site, B)  # the user holds no role in B


def test_a_failed_sign_in_is_logged_against_the_account(site: Site) -> None:
    person = site.add_user("coord", A, "coordinator")
    site.login(person)
    browser = site.app.test_client()
    page = browser.get("/login")
    from support.site import csrf_from

    browser.post(
        "/login",
        data={"email": person.email, "password": "wrong", "csrf_token": csrf_from(page.text)},
    )
    assert actions(site, A)[-1] == "login.failed"


def test_subject_access_through_the_api(site: Site) -> None:
    auditor = site.login(site.add_user("aud", A, "auditor"))
    payload = sample_transfer(A, PEER, victim="Subjecta")
    site.north.send(payload, A, PEER)
    person = {
        "given_names": payload["victim"]["given_names"],
        "family_name": payload["victim"]["family_name"],
        "date_of_birth": payload["victim"]["date_of_birth"],
    }
    csrf = {"X-CSRF-Token": site.csrf(auditor)}
    found = auditor.post("/api/v1/audit/subject-access", json=person, headers=csrf)
    assert found.status_code == 200, found.text
    [disclosure] = found.json["disclosures"]
    assert (disclosure["disclosed_by"], disclosure["disclosed_to"]) == (A, PEER)
    assert disclosure["roles"] == ["victim"]
    assert disclosure["legal_basis"] or disclosure["consent"] == "given"
    none = auditor.post(
        "/api/v1/audit/subject-access",
        json={**person, "date_of_birth": "1901-01-01"},
        headers=csrf,
    )
    assert none.json["disclosures"] == []
    assert actions(site, A)[-2:] == ["audit.subject_access", "audit.subject_access"]
    # Neither the name nor the date of birth reached the log.
    with site.north.node.engine.connect() as connection:
        from sqlalchemy import text

        leaves = " ".join(r[0] for r in connection.execute(text("SELECT leaf FROM audit_events")))
    assert "Subjecta" not in leaves
    assert person["date_of_birth"] not in leaves
    refused = auditor.post("/api/v1/audit/subject-access", json={"given_names": "X"}, headers=csrf)
    assert refused.status_code == 422
    assert "date_of_birth" in refused.json["errors"]


def test_an_auditor_of_another_area_sees_nothing_of_it(site: Site) -> None:
    site.outbound(A)
    other = site.login(site.add_user("aud_b", B, "auditor"))
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/reports/disclosures"):
        assert other.get(f"{path}?area={A}").status_code == 404, path
    own = other.get("/api/v1/audit").json["items"]
    assert {item["area"] for item in own} == {B}
    coordinator = site.login(site.add_user("coord", A, "coordinator"))
    assert coordinator.get("/api/v1/audit").status_code == 403


def test_a_subject_access_decision_through_the_api(site: Site) -> None:
    headers = site.bearer(A, "audit:read")
    client = site.app.test_client()
    person = {"given_names": "Nobody", "date_of_birth": "1990-01-01", "reference": "DPA-9"}
    found = client.post("/api/v1/audit/subject-access", json=person, headers=headers)
    assert found.status_code == 200, found.text
    assert (found.json["reference"], found.json["perpetrator"]) == ("DPA-9", False)
    decision = {"search": found.json["search"], "reference": "DPA-9", "decision": "referred"}
    done = client.post("/api/v1/audit/subject-access/decisions", json=decision, headers=headers)
    assert done.status_code == 201, done.text
    assert actions(site, A)[-1] == "audit.subject_access_decided"
    again = client.post("/api/v1/audit/subject-access/decisions", json=decision, headers=headers)
    assert again.status_code == 409
    wrong = client.post(
        "/api/v1/audit/subject-access/decisions",
        json={**decision, "decision": "burned"},
        headers=headers,
    )
    assert wrong.status_code == 422 and "decision" in wrong.json["errors"]
    spaced = client.post(
        "/api/v1/audit/subject-access", json={**person, "reference": "a b"}, headers=headers
    )
    assert spaced.status_code == 422 and "reference" in spaced.json["errors"]
