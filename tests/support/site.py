"""A shared node with two areas and a peer node, real users who log in through the real
pages, and real API clients that get tokens from the real token endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from support.nodes import RunningNode

from gateway.devtools.samples import sample_transfer
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients, users
from keys import totp_code

A, B, PEER = "northshire", "eastmoor", "south-vale"
PASSWORD = "Correct horse battery 42"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_USED_STEPS: dict[str, int] = {}


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found[1]


def fresh_code(secret: str, generate: Callable[[str, datetime], str] = totp_code) -> str:
    """A TOTP code for a time step this secret has not used yet (the node refuses reuse),
    within the +-1 step the node accepts. `generate` makes the code for a moment (the
    browser tests use pyotp, an implementation independent of the node's)."""
    now = utcnow()
    for offset in (0, 30, -30):
        moment = now + timedelta(seconds=offset)
        step = int(moment.timestamp()) // 30
        if step > _USED_STEPS.get(secret, -1):
            _USED_STEPS[secret] = step
            return generate(secret, moment)
    raise AssertionError("three logins within one TOTP window for one user")


@dataclass
class Person:
    email: str
    user_id: str
    secret: str
    recovery: tuple[str, ...]
    enrolled: bool = False


@dataclass
class Site:
    north: RunningNode
    south: RunningNode
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.north.app

    def add_user(
        self,
        name: str,
        area: str,
        role: str,
        email: str | None = None,
        on: RunningNode | None = None,
    ) -> Person:
        """A user with `role` in `area`, on the shared node or on the node `on`."""
        email = email or f"{name}@{area}.example"
        node = (on or self.north).node
        with node.sessions() as session:
            grant = users.add_user_role(
                session,
                node.master,
                email=email,
                area=area,
                role=role,
                password=PASSWORD,
                now=utcnow(),
            )
        assert grant.enrolment is not None
        person = Person(
            email,
            grant.user_id,
            grant.enrolment.totp_secret,
            grant.enrolment.recovery_codes,
        )
        self.people[name] = person
        return person

    def login(self, person: Person, client: FlaskClient | None = None) -> FlaskClient:
        """The real login flow: password page, then enrolment (first time) or TOTP."""
        browser = client or self.app.test_client()
        page = browser.get("/login")
        assert page.status_code == 200
        done = browser.post(
            "/login",
            data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert done.status_code == 303, done.text
        step = done.headers["Location"]
        assert step == ("/login/totp" if person.enrolled else "/login/enrol")
        page = browser.get(step)
        assert page.status_code == 200
        done = browser.post(
            step, data={"code": fresh_code(person.secret), "csrf_token": csrf_from(page.text)}
        )
        assert done.status_code == 303 and done.headers["Location"] == "/", done.text
        person.enrolled = True
        return browser

    def password_step(self, person: Person, browser: FlaskClient | None = None) -> FlaskClient:
        """Sign in as far as the second factor (for an enrolled user)."""
        browser = browser or self.app.test_client()
        page = browser.get("/login")
        done = browser.post(
            "/login",
            data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert done.status_code == 303 and done.headers["Location"] == "/login/totp", done.text
        return browser

    def submit_code(self, browser: FlaskClient, code: str) -> Any:
        page = browser.get("/login/totp")
        assert page.status_code == 200
        return browser.post("/login/totp", data={"code": code, "csrf_token": csrf_from(page.text)})

    def logout(self, browser: FlaskClient) -> None:
        done = browser.post("/logout", data={"csrf_token": self.csrf(browser)})
        assert done.status_code == 303

    def sql(self, statement: str, **params: Any) -> None:
        from sqlalchemy import text

        with self.north.node.engine.begin() as connection:
            connection.execute(text(statement), params)

    def csrf(self, browser: FlaskClient) -> str:
        home = browser.get("/")
        assert home.status_code == 200
        return csrf_from(home.text)

    def new_client(self, area: str, scopes: str) -> tuple[str, str]:
        with self.north.node.sessions() as session:
            view, secret = clients.create_client(
                session, self.north.node.master, name="cms", area=area, scopes=scopes, now=utcnow()
            )
        return view.id, secret

    def token(self, client_id: str, secret: str, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        answer = self.app.test_client().post(
            "/api/v1/oauth/token", data=data, auth=(client_id, secret)
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json["access_token"])

    def bearer(self, area: str, scopes: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token(*self.new_client(area, scopes))}

    def outbound(self, area: str = A) -> str:
        """A transfer sent from `area` to the peer: its id on this node."""
        sent = self.north.send(sample_transfer(area, PEER), area, PEER)
        return sent.id

    def inbound(self, area: str = A) -> str:
        """A transfer from the peer to `area`, delivered over real HTTP."""
        self.south.send(sample_transfer(PEER, area), PEER, area)
        assert self.south.deliver() == 1
        newest = next(t for t in self.north.transfers(area) if t.direction == "inbound")
        return newest.id


def make_site(
    node_factory: Callable[..., RunningNode], flag_roles_on_north: bool = False, **overrides: Any
) -> Site:
    """Use from a fixture: `return make_site(node_factory)`; overrides are settings of
    the shared node (e.g. GATEWAY_LOGIN_RATE_LIMIT="3/minute"). `flag_roles_on_north`:
    the peer node uses the shared node (area A) as its linkage authority and flag index,
    so flags on either node meet (by default each node plays both roles for itself)."""
    north = node_factory("north", **overrides)
    roles = (
        {"GATEWAY_LINKAGE_AUTHORITY": f"{A}@{north.url}", "GATEWAY_FLAG_INDEX": f"{A}@{north.url}"}
        if flag_roles_on_north
        else {}
    )
    south = node_factory("south", **roles)
    north.create_area(A)
    north.create_area(B)
    south.create_area(PEER)
    for code in (A, B):
        south.import_peer(north.bundle(code))
    north.import_peer(south.bundle(PEER))
    return Site(north, south)
