"""Helpers of the browser tests (tests/browser/conftest.py has the fixtures and says how
to use them): a `Visitor` that checks every page it sees with axe-core and records its
URLs and titles, and the sign-in journey with a TOTP code computed by pyotp."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp
from axe_playwright_python.sync_playwright import Axe
from support.site import PASSWORD, Person, fresh_code

CHROMIUM = Path("/usr/bin/chromium")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SUFFIX = " \N{EN DASH} MARAC Exchange"  # every page title ends so


def pyotp_code(secret: str, moment: datetime) -> str:
    return str(pyotp.TOTP(secret).at(moment))


def code_for(person: Person) -> str:
    """A TOTP code from pyotp for a time step this person has not used yet."""
    return fresh_code(person.secret, pyotp_code)


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f"\n  {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


@dataclass
class Records:
    """Everything the browser showed or asked for, for the canary checks."""

    urls: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)


class Visitor:
    def __init__(self, context: Any, base_url: str, records: Records, java_script: bool) -> None:
        self.context, self.base_url, self.records = context, base_url, records
        self.java_script = java_script
        self.page = context.new_page()
        self.problems: list[str] = []
        self.checked = 0
        context.on("request", lambda request: records.urls.append(request.url))
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)
        self._inspector: Any = None

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and "Content Security Policy" in text:
            self.problems.append(f"CSP violation: {text}")

    def url(self, path: str) -> str:
        return self.base_url + path

    def visit(self, path: str) -> Any:
        """Go to a page of the node and check it; returns the response."""
        response = self.page.goto(self.url(path))
        self.check()
        return response

    def check(self) -> None:
        """Check the page now shown: axe-core (WCAG 2.2 A and AA), no CSP violation, no
        script error; records its title."""
        page = self.page
        page.wait_for_load_state("load")
        title = page.title()
        self.records.titles.append(title)
        self.records.urls.append(page.url)
        assert not self.problems, "\n".join(self.problems)
        target = page if self.java_script else self._inspect(page.url, page.content())
        results = Axe().run(
            target,
            options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
        )
        violations = results.response["violations"]
        assert not violations, f"axe-core on {page.url} ({title}):\n{describe(violations)}"
        self.checked += 1

    def _inspect(self, url: str, html: str) -> Any:
        """A JavaScript-on page showing exactly `html`, as the JavaScript-off page does."""
        if self._inspector is None:
            self._inspector = self.context.browser.new_page()
            self._inspector.route("**/static/init.js", lambda route: route.abort())
        inspector = self._inspector

        def same(candidate: str) -> bool:
            return candidate == url

        inspector.route(same, lambda route: route.fulfill(body=html, content_type="text/html"))
        inspector.goto(url)
        inspector.wait_for_load_state("load")
        inspector.unroute(same)
        return inspector

    def heading(self) -> str:
        return str(self.page.locator("h1").first.inner_text()).strip()

    def title(self) -> str:
        return str(self.page.title())

    def close(self) -> None:
        if self._inspector is not None:
            self._inspector.close()
        self.context.close()


def sign_in(visitor: Visitor, person: Person, password: str = PASSWORD) -> None:
    """Password, then enrolment (first time) or the code; ends on the home page."""
    visitor.visit("/login")
    page = visitor.page
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()
    visitor.check()
    first_time = not person.enrolled
    assert visitor.heading() == (
        "Set up your authenticator app" if first_time else "Enter your code"
    )
    page.get_by_label("Code", exact=True).fill(code_for(person))
    page.get_by_role("button", name="Confirm and sign in" if first_time else "Sign in").click()
    visitor.check()
    assert visitor.title() == "Your work" + SUFFIX
    person.enrolled = True
