"""Schemathesis against /api/v1/openapi.json, in-process through the WSGI app, 200
examples per operation, on SQLite and PostgreSQL, authenticated with a real bearer token
(from the real token endpoint) so the examples reach the handlers: no answer may be a 5xx,
and every error is a problem document."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from support.site import A, Site, make_site

from schemas.api.access import SCOPES

EXAMPLES = 200


@pytest.fixture
def site(node_factory: Any) -> Site:
    return make_site(node_factory)


# Every operation of the API at 200 examples: the longest single test (several minutes on
# two busy cores), so it has its own time limit rather than the suite's 300 s.
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_no_operation_answers_5xx(site: Site) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", site.app)
    headers = site.bearer(A, " ".join(SCOPES))
    site.outbound(A)  # something to list
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {
        "POST /api/v1/oauth/token",
        "GET /api/v1/transfers",
        "POST /api/v1/transfers",
        "GET /api/v1/transfers/{transfer_id}",
        "POST /api/v1/transfers/{transfer_id}/approve",
        "POST /api/v1/transfers/{transfer_id}/acknowledgement",
    } <= labels
    reached: dict[str, set[int]] = {}

    for operation in operations:
        fuzz(operation, headers, reached.setdefault(operation.label, set()))

    # The token got the examples past authentication to the handlers.
    assert 200 in reached["GET /api/v1/transfers"]
    assert reached["GET /api/v1/transfers"] - {401, 403}
    assert reached["POST /api/v1/transfers"] - {401, 403}


def fuzz(operation: Any, headers: dict[str, str], seen: set[int]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        seen.add(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.status_code)
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith("application/problem+json")

    check()
