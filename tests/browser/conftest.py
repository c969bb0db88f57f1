"""Browser tests: Playwright for Python driving Debian's chromium (/usr/bin/chromium)
against real nodes on real HTTP (tests/support: `make_site`, its users and areas).

Run them alone with `pytest -m browser` or `pytest tests/browser`. Without chromium they
are skipped locally and fail under CI (`apt-get install chromium`; `.ci/run` does it).

- `browser_page(java_script=True)` opens a fresh browser context and returns a `Visitor`.
  `visitor.visit(path)` goes to a page of the node and `visitor.check()` checks the page
  now shown; both run axe-core for the WCAG 2.0/2.1/2.2 A and AA tags and fail on any
  violation (printed rule by rule, element by element), fail on a CSP violation or a
  script error, and record the page's title. Every request URL of the context is
  recorded too. With JavaScript off, axe runs in a companion JavaScript-on page over the
  very HTML the JavaScript-off page shows, with init.js withheld so nothing changes it.
- `canaries`: add strings (a victim's name, a case reference, an email address) to it;
  at the end of the test none of them may appear in any recorded URL or page title.
- `sign_in(visitor, person)` signs in through the pages, with a TOTP code computed by
  pyotp from the secret the test created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import CHROMIUM, Records, Visitor
from support.site import Site, make_site

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the browser tests)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The browser tests run on SQLite only: the pages run no SQL of their own (they call
    the domain services, whose tests run on both databases), and a browser journey on
    PostgreSQL doubles CI time for no new coverage."""
    return str(request.param)


@pytest.fixture
def site(node_factory: Callable[..., Any]) -> Site:
    return make_site(node_factory)


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def browser_page(chromium: Any, site: Site, records: Records) -> Iterator[Callable[..., Visitor]]:
    opened: list[Visitor] = []

    def open_page(java_script: bool = True, base_url: str | None = None) -> Visitor:
        context = chromium.new_context(java_script_enabled=java_script)
        visitor = Visitor(context, base_url or site.north.url, records, java_script)
        opened.append(visitor)
        return visitor

    yield open_page
    for visitor in opened:
        visitor.close()


@pytest.fixture
def canaries(records: Records) -> Iterator[list[str]]:
    found: list[str] = []
    yield found
    assert records.urls and records.titles, "the test visited nothing"
    for canary in found:
        low = canary.lower()
        assert not [u for u in records.urls if low in u.lower()], f"{canary!r} in a URL"
        assert not [t for t in records.titles if low in t.lower()], f"{canary!r} in a title"


@pytest.fixture(params=[True, False], ids=["js-on", "js-off"])
def java_script(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)
