"""What the coordinator-page tests share: a site (two real nodes, real HTTP between them),
transfers in every state the pages show, made through the real domain services on each
node (the peer's steps as its operator), and a browser that records every URL it asked
for or was sent to and every page title, for the canary checks."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update
from support.site import PEER, A, B, Person, Site, csrf_from

from adapters.db.models import Transfer
from gateway.devtools.samples import sample_transfer
from gateway.domain.casework import forwarding, information_requests, repeat_incidents
from gateway.domain.clock import utcnow
from gateway.domain.federation.delivery import claim_due, deliver
from gateway.domain.identity import users
from gateway.domain.identity.principals import Principal
from gateway.domain.transfers import drafts, sending

# Canaries: the victim's name and the case reference travel sealed; they may appear in a
# page's body where the case is shown, never in a URL or a title.
VICTIM = "Zenobiacanary"
CASE_REF = "CANARY-REF-7731"
SIGNER = {"name": "Philippa Signer", "role": "MARAC coordinator"}
TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def payload(from_area: str, to_area: str, *, held: bool = False) -> dict[str, Any]:
    made = sample_transfer(from_area, to_area, victim=VICTIM)
    made["originating_case_ref"] = CASE_REF
    if held:
        made["consent"]["decision_forum"] = "chair_after_meeting"
    return made


class Browser:
    """A signed-in test client that records URLs (asked for and redirected to) and titles."""

    def __init__(self, site: Site, person: Person) -> None:
        self.site, self.person = site, person
        self.client: FlaskClient = site.login(person)
        self.urls: list[str] = []
        self.titles: list[str] = []

    def _seen(self, path: str, answer: Any) -> Any:
        self.urls.append(path)
        if "Location" in answer.headers:
            self.urls.append(answer.headers["Location"])
        page = answer.mimetype == "text/html" and not 300 <= answer.status_code < 400
        found = TITLE.search(answer.text) if page else None
        if found:
            self.titles.append(found[1])
        return answer

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._seen(path, self.client.get(path, **kwargs))

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        form = {"csrf_token": self.site.csrf(self.client), **(data or {})}
        return self._seen(path, self.client.post(path, data=form, **kwargs))

    def follow(self, answer: Any) -> Any:
        assert answer.status_code == 303, answer.text
        return self.get(answer.headers["Location"])

    def no_canaries(self) -> None:
        for seen in (*self.urls, *self.titles):
            for canary in (VICTIM, CASE_REF, SIGNER["name"]):
                assert canary not in seen, seen
        assert all(t.endswith("MARAC Exchange") for t in self.titles), self.titles


def grant(site: Site, person: Person, area: str, role: str) -> None:
    with site.north.node.sessions() as session:
        users.add_user_role(
            session,
            site.north.node.master,
            email=person.email,
            area=area,
            role=role,
            password=None,
            now=utcnow(),
        )


def user_principal(person: Person, *roles: tuple[str, str]) -> Principal:
    return Principal.user(person.user_id, roles)


def send_as(site: Site, principal: Principal, made: dict[str, Any], to: str = PEER) -> str:
    with site.north.node.sessions() as session:
        sent = sending.send(
            session,
            site.north.node.master,
            principal,
            sending.addressed(made, A, to),
            utcnow(),
        )
    return sent.id


def held(site: Site, principal: Principal | None = None) -> str:
    """A transfer from A decided by the chair after the meeting: held for approval."""
    return send_as(site, principal or Principal.operator(), payload(A, PEER, held=True))


def draft(site: Site) -> str:
    with site.north.node.sessions() as session:
        saved = drafts.save_draft(
            session, site.north.node.master, Principal.operator(), payload(A, PEER), utcnow()
        )
    return saved.id


def delivered(site: Site) -> tuple[str, str]:
    """A transfer from A delivered to the peer: (id on north, id on the peer)."""
    before = {t.id for t in site.south.transfers(PEER)}
    north_id = send_as(site, Principal.operator(), payload(A, PEER))
    assert site.north.deliver() >= 1
    [received] = [t for t in site.south.transfers(PEER) if t.id not in before]
    return north_id, received.id


def inbound(site: Site) -> tuple[str, str]:
    """A transfer from the peer to A, delivered: (id on north, id on the peer)."""
    before = {t.id for t in site.north.transfers(A)}
    sent = site.south.send(payload(PEER, A), PEER, A)
    assert site.south.deliver() >= 1
    [received] = [t for t in site.north.transfers(A) if t.id not in before]
    return received.id, sent.id


def peer_asks_for(site: Site, south_id: str, what: list[str]) -> None:
    """The peer's coordinator asks area A for documents; the request arrives at A."""
    with site.south.node.sessions() as session:
        information_requests.request_information(
            session,
            site.south.node.master,
            Principal.operator(),
            south_id,
            {"what": what, "requested_by": SIGNER},
            utcnow(),
        )
    assert site.south.deliver() >= 1


def peer_asks_to_forward(site: Site, south_id: str, to: str = B) -> None:
    with site.south.node.sessions() as session:
        forwarding.request_permission(
            session,
            site.south.node.master,
            Principal.operator(),
            south_id,
            {"forward_to": to, "reason": "relocation_permanent", "requested_by": SIGNER},
            utcnow(),
        )
    assert site.south.deliver() >= 1


def peer_reports_repeat(site: Site, south_id: str) -> None:
    with site.south.node.sessions() as session:
        repeat_incidents.report(
            session,
            site.south.node.master,
            Principal.operator(),
            south_id,
            {"incident_date": utcnow().date().isoformat(), "reported_by": SIGNER},
            utcnow(),
        )
    assert site.south.deliver() >= 1


def fail_next_delivery(site: Site) -> None:
    """The peer cannot be reached and the outbox gives up on what it claims next."""
    node = site.north.node
    url = site.north.scalar("SELECT url FROM peers WHERE code = :c", c=PEER)
    site.sql("UPDATE peers SET url = :u WHERE code = :c", u="http://127.0.0.1:9", c=PEER)
    impatient = dataclasses.replace(node.delivery_policy, max_age=0.0)
    with node.sessions() as session:
        claims = claim_due(session, node.master, now=utcnow(), lease=impatient.lease, limit=5)
    for claim in claims:
        with node.sessions() as session:
            outcome = deliver(session, node.master, node.client, claim, impatient, utcnow)
        assert outcome.final and not outcome.delivered
    site.sql("UPDATE peers SET url = :u WHERE code = :c", u=url, c=PEER)


def make_overdue(site: Site, transfer_id: str, days: int = 14) -> None:
    """Move the arrival back in time: the area's limit (2 working days) has long passed."""
    with site.north.node.engine.begin() as connection:
        connection.execute(
            update(Transfer)
            .where(Transfer.id == transfer_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )


def csrf(html: str) -> str:
    return csrf_from(html)
