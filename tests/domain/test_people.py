"""An area's admins manage its people and clients (gateway/domain/identity/people.py,
clients.py): a person added with a single-use link (stored as a digest, expiring, spent
once), roles added and removed, a lock lifted, a lost second factor reset; clients listed
and revoked; the area's retention period. Every refusal writes nothing; every change is
audited naming ids only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from support.local_nodes import NORTH, PASSWORD, LocalNode

from gateway.domain import retention
from gateway.domain.identity import clients, people, users
from gateway.domain.identity.principals import Principal
from gateway.errors import Conflict, Invalid, NotFound, Unauthorized
from keys import totp_code

TABLES = ("users", "user_roles", "invitations", "audit_events")
EMAIL, NAME = "new.person@northshire.example", "Ottoline Canary"
NEW_PASSWORD = "Another long passphrase 7"


def admin(north: LocalNode, now: datetime) -> Principal:
    return north.user("admin@northshire.example", NORTH, "admin", now)


def add(north: LocalNode, who: Principal, now: datetime, **changes: str) -> people.Added:
    fields = {"email": EMAIL, "name": NAME, "role": "coordinator", **changes}
    with north.session() as session:
        return people.add_person(session, north.master, who, NORTH, now=now, **fields)


def accept(north: LocalNode, token: str, now: datetime, password: str = NEW_PASSWORD) -> str:
    with north.session() as session:
        found = people.open_invitation(session, north.master, token, now)
        return people.accept_invitation(session, found.id, password, now)


def sign_in(
    north: LocalNode, now: datetime, password: str = NEW_PASSWORD
) -> users.PasswordAccepted:
    policy = users.LoginPolicy(
        5, timedelta(minutes=15), users.rate_limits.RateLimit.parse("99/minute")
    )
    with north.session() as session:
        return users.check_password(
            session, email=EMAIL, password=password, source="192.0.2.9", policy=policy, now=now
        )


def audit_text(north: LocalNode) -> str:
    with north.node.engine.connect() as connection:
        rows = connection.execute(text("SELECT action, leaf FROM audit_events")).all()
    return "\n".join(f"{action} {leaf}" for action, leaf in rows)


def test_a_person_is_added_and_sets_up_their_account_through_the_link_once(
    north: LocalNode, now: datetime
) -> None:
    who = admin(north, now)
    added = add(north, who, now)
    assert added.token and added.expires_at == now + people.INVITATION_LIFETIME
    with north.node.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_digest FROM invitations")).scalar_one()
    assert added.token not in stored  # a keyed digest only
    with pytest.raises(Unauthorized):
        sign_in(north, now, PASSWORD)  # no password until the link is used
    user_id = accept(north, added.token, now)
    assert user_id == added.user_id
    accepted = sign_in(north, now)
    assert accepted.user_id == user_id and not accepted.enrolled
    with north.session() as session:
        secret = users.enrolment_for(session, north.master, user_id).totp_secret
        users.check_second_factor(
            session,
            north.master,
            user_id=user_id,
            code=totp_code(secret, now),
            source="192.0.2.9",
            policy=users.LoginPolicy(
                5, timedelta(minutes=15), users.rate_limits.RateLimit.parse("9/minute")
            ),
            now=now,
            enrolling=True,
        )
    with pytest.raises(NotFound):
        accept(north, added.token, now)  # single use
    log = audit_text(north)
    for action in ("user.invited", "user.role_granted", "user.password_set"):
        assert action in log
    assert EMAIL not in log and NAME not in log


def test_a_link_expires(north: LocalNode, now: datetime) -> None:
    added = add(north, admin(north, now), now)
    assert added.token
    later = now + people.INVITATION_LIFETIME + timedelta(seconds=1)
    with pytest.raises(NotFound) as gone:
        accept(north, added.token, later)
    assert gone.value.detail == people.LINK_GONE
    with pytest.raises(NotFound):
        accept(north, "x" * 43, now)  # a token never issued


def test_a_weak_password_spends_nothing(north: LocalNode, now: datetime) -> None:
    added = add(north, admin(north, now), now)
    assert added.token
    with pytest.raises(Invalid) as weak:
        accept(north, added.token, now, password="short")
    assert weak.value.errors and "password" in weak.value.errors
    assert accept(north, added.token, now) == added.user_id  # still usable


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"name": "  "}, "name"), ({"email": "nope"}, "email"), ({"role": "owner"}, "role")],
)
def test_a_bad_person_is_refused_and_nothing_is_written(
    north: LocalNode, now: datetime, changes: dict[str, str], field: str
) -> None:
    who = admin(north, now)
    before = north.counts(*TABLES)
    with pytest.raises(Invalid) as refused:
        add(north, who, now, **changes)
    assert refused.value.errors and field in refused.value.errors
    assert north.counts(*TABLES) == before


def test_only_an_admin_of_the_area_manages_its_people(north: LocalNode, now: datetime) -> None:
    coordinator = north.user("coord@northshire.example", NORTH, "coordinator", now)
    for who in (coordinator, Principal.client("gwc-x", NORTH, ["transfers:write"])):
        with pytest.raises(NotFound):
            add(north, who, now)
    other = Principal.user("someone", [("eastmoor", "admin")])
    with pytest.raises(NotFound):
        add(north, other, now)


def test_roles_lock_and_second_factor(north: LocalNode, now: datetime) -> None:
    who = admin(north, now)
    added = add(north, who, now)
    assert added.token
    accept(north, added.token, now)
    with north.session() as session:
        people.grant_role(session, who, NORTH, added.user_id, "chair", now)
        with pytest.raises(Conflict):
            people.grant_role(session, who, NORTH, added.user_id, "chair", now)
        people.remove_role(session, who, NORTH, added.user_id, "coordinator", now)
        with pytest.raises(Conflict):
            people.remove_role(session, who, NORTH, added.user_id, "coordinator", now)
        with pytest.raises(Conflict):
            people.remove_role(session, who, NORTH, who.id, "admin", now)
        assert users.current_roles(session, added.user_id) == {(NORTH, "chair")}
        with pytest.raises(Conflict):
            people.unlock(session, who, NORTH, added.user_id, now)
    with north.node.engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET locked_until = :t WHERE id = :u"),
            {"t": now + timedelta(minutes=5), "u": added.user_id},
        )
    with north.session() as session:
        assert people.person(session, who, NORTH, added.user_id, now).locked
        people.unlock(session, who, NORTH, added.user_id, now)
        assert not people.person(session, who, NORTH, added.user_id, now).locked
        token, _ = people.reset_second_factor(session, north.master, who, NORTH, added.user_id, now)
        with pytest.raises(Conflict):
            people.reset_second_factor(session, north.master, who, NORTH, who.id, now)
    with pytest.raises(Unauthorized):
        sign_in(north, now)  # the password went with the authenticator
    accept(north, token, now, password="A third long passphrase")
    assert not sign_in(north, now, "A third long passphrase").enrolled
    with north.session() as session:
        listed = people.list_people(session, who, NORTH, now)
        assert {p.id for p in listed} == {who.id, added.user_id}
        with pytest.raises(NotFound):
            people.person(session, who, NORTH, "no-such-user", now)
    log = audit_text(north)
    for action in ("user.role_removed", "user.unlocked", "user.second_factor_reset"):
        assert action in log


def test_clients_are_listed_and_revoked(north: LocalNode, now: datetime) -> None:
    who = admin(north, now)
    with north.session() as session:
        view, secret = clients.create_client(
            session,
            north.master,
            name="cms",
            area=NORTH,
            scopes="transfers:read",
            now=now,
            actor=who.admin_actor(NORTH),
        )
        assert [c.id for c in clients.list_clients(session, who, NORTH)] == [view.id]
        with pytest.raises(NotFound):
            clients.revoke_client(session, who, NORTH, "gwc-nosuchclientatall", now)
        revoked = clients.revoke_client(session, who, NORTH, view.id, now)
        assert revoked.revoked
        with pytest.raises(Conflict):
            clients.revoke_client(session, who, NORTH, view.id, now)
        assert not clients.check_secret(session, north.master, view.id, secret)
        assert clients.find_client(session, view.id) is None
    assert "client.revoked" in audit_text(north)


def test_the_area_retention_period(north: LocalNode, now: datetime) -> None:
    who = admin(north, now)
    with north.session() as session:
        assert retention.area_retention(session, who, NORTH, 12) == retention.AreaRetention(
            12, False
        )
        with pytest.raises(Invalid):
            retention.set_area_retention(session, who, NORTH, 0, now=now)
        retention.set_area_retention(session, who, NORTH, 24, now=now)
        assert retention.area_retention(session, who, NORTH, 12) == retention.AreaRetention(
            24, True
        )
