"""Errors per audience: problem+json for programs, an HTML page for people, the same status
either way; problem types that resolve; nothing from the request echoed back."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from support.site import A, Site, make_site

from gateway.errors import PROBLEM_TYPES, REFUSAL_REASONS, DomainError

CANARY = "Zebedee-Quartermaine"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


def test_api_errors_are_problems_whose_types_resolve(site: Site) -> None:
    client = site.app.test_client()
    headers = site.bearer(A, "transfers:read")
    missing = client.get("/api/v1/transfers/00000000-0000-4000-8000-000000000000", headers=headers)
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    kind = missing.json["type"]
    assert kind == site.north.node.settings.base_url + "/problems/not-found"
    page = client.get(kind.removeprefix(site.north.node.settings.base_url))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert PROBLEM_TYPES["not-found"].explanation in page.text
    assert client.get("/problems/no-such-problem").status_code == 404
    index = client.get("/problems/")
    assert index.status_code == 200 and "restricted-case" in index.text


def test_plain_http_errors_are_about_blank_and_405_says_what_is_allowed(site: Site) -> None:
    client = site.app.test_client()
    unknown = client.get(f"/api/v1/{CANARY}")
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"
    assert unknown.json == {"type": "about:blank", "title": "Not Found", "status": 404}
    wrong = client.delete("/federation/v1/envelopes")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "POST" in wrong.headers["Allow"].split(", ")
    page = client.delete("/login")
    assert page.status_code == 405 and page.mimetype == "text/html"
    assert set(page.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_pages_get_html_error_pages_that_echo_nothing(site: Site) -> None:
    client = site.app.test_client()
    missing = client.get(f"/nowhere/{CANARY}")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Page not found" in missing.text and CANARY not in missing.text
    # A form posted without its CSRF token: refused with a page, not JSON.
    refused = client.post("/logout", data={"note": CANARY})
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "CSRF" in refused.text and CANARY not in refused.text


def test_a_person_without_a_session_is_asked_to_sign_in(site: Site) -> None:
    answer = site.app.test_client().get("/")
    assert answer.status_code == 401 and answer.mimetype == "text/html"
    assert "You need to sign in" in answer.text and 'href="/login"' in answer.text
    # Programs still get 401 with a problem document.
    api = site.app.test_client().get("/api/v1/transfers")
    assert api.status_code == 401 and api.mimetype == "application/problem+json"


def test_the_operator_can_point_problem_types_elsewhere(node_factory: Any) -> None:
    node = node_factory("docs", GATEWAY_PROBLEM_BASE_URI="https://docs.example/problems")
    answer = node.app.test_client().get("/api/v1/transfers")
    assert answer.json["type"] == "https://docs.example/problems/unauthorized"


def _refusal_reasons_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "gateway").rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Refused":
                for keyword in call.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        found.add(keyword.value.value)
    return found


def test_every_problem_type_is_catalogued() -> None:
    used = _refusal_reasons_in_code()
    assert used, "the walk found no refusal at all"
    assert used <= set(REFUSAL_REASONS), used - set(REFUSAL_REASONS)

    def subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    import gateway.app  # noqa: F401  (imports every module that defines an error)

    for cls in subclasses(DomainError)[1:]:
        assert cls.slug in PROBLEM_TYPES, cls
        assert "explanation" in cls.__dict__, f"{cls.__name__} needs its own explanation"
