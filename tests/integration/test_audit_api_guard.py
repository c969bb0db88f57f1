"""The audit API is closed to anyone not authenticated: every route
answers 401 problem+json, whatever credential-looking thing comes with the request, and
gives away nothing of the log (DESIGN section 5: deny by default)."""

from __future__ import annotations

import httpx
import pytest
from support.audit_world import NORTH, World, secret_keys

from keys import canonical_json, issue_request_token

ROUTES = [
    ("/api/v1/audit", {"area": NORTH}),
    ("/api/v1/audit", {"area": NORTH, "from": "2000-01-01", "to": "2100-01-01", "limit": "5"}),
    ("/api/v1/audit/verify", {"area": NORTH}),
    ("/api/v1/reports/disclosures", {"area": NORTH, "from": "2000-01-01"}),
    ("/api/v1/audit", {}),  # even a request the route itself would reject
]


def credentials(world: World, url: str) -> dict[str, dict[str, str]]:
    """No credential, nonsense, and a valid peer request token (federation auth is not API
    auth), and a session cookie nobody issued."""
    peer_token = issue_request_token(
        secret_keys(world.south, "south-vale"),
        audience=NORTH,
        method="GET",
        url=url,
        body=canonical_json({}),
    )
    return {
        "none": {},
        "garbage-bearer": {"Authorization": "Bearer not-a-token"},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "peer-token": {"Authorization": f"Bearer {peer_token}"},
        "cookie": {"Cookie": "session=forged"},
    }


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_audit_routes_are_denied_by_default(world: World, path: str, params: dict) -> None:
    north = world.north
    events = north.count("audit_events")
    for name, headers in credentials(world, north.url + path).items():
        response = httpx.get(north.url + path, params=params, headers=headers, timeout=10)
        assert response.status_code == 401, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 401
        assert problem["type"].endswith("/unauthorized")
        assert set(problem) <= {"type", "title", "status", "detail"}
        for leaked in ("leaf", "root", "items", "disclosures", "entries"):
            assert leaked not in response.text, (name, leaked)
        assert response.headers.get("Cache-Control") == "no-store"
    # Nothing was read into the log either (no export, no access event recorded).
    assert north.count("audit_events") == events


def test_unknown_methods_on_the_audit_routes_do_not_open_them(world: World) -> None:
    for path, _ in ROUTES[:4]:
        response = httpx.post(world.north.url + path, json={"area": NORTH}, timeout=10)
        assert response.status_code in (401, 405), response.text
        assert response.status_code != 200
