"""Identity: accounts and roles, the two login steps, lockout and rate limits, API clients
and their tokens. Every refusal is checked to have written nothing it should not."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.local_nodes import NORTH, PASSWORD, LocalNode

from gateway.domain.identity import clients, rate_limits, users
from gateway.domain.identity.rate_limits import RateLimit
from gateway.errors import Conflict, Invalid, TooManyRequests, Unauthorized
from keys import totp_code

EMAIL = "coordinator@northshire.example"
TABLES = ("users", "user_roles", "recovery_codes", "audit_events")


def policy(max_failures: int = 3, per_source: str = "100/minute") -> users.LoginPolicy:
    return users.LoginPolicy(max_failures, timedelta(minutes=15), RateLimit.parse(per_source))


def grant(north: LocalNode, now: datetime, **changes: str | None) -> users.Grant:
    fields: dict[str, str | None] = {
        "email": EMAIL,
        "area": NORTH,
        "role": "coordinator",
        "password": PASSWORD,
        **changes,
    }
    with north.session() as session:
        return users.add_user_role(session, north.master, now=now, **fields)  # type: ignore[arg-type]


def login(north: LocalNode, now: datetime, password: str = PASSWORD, **kw: object) -> object:
    with north.session() as session:
        return users.check_password(
            session,
            email=EMAIL,
            password=password,
            source="192.0.2.1",
            policy=kw.get("login_policy", policy()),  # type: ignore[arg-type]
            now=now,
        )


def second_factor(
    north: LocalNode, user_id: str, code: str, now: datetime, *, enrolling: bool
) -> None:
    with north.session() as session:
        users.check_second_factor(
            session,
            north.master,
            user_id=user_id,
            code=code,
            source="192.0.2.1",
            policy=policy(),
            now=now,
            enrolling=enrolling,
        )


def tampered(token: str) -> str:
    """One character changed well inside the signature (the last one may carry only
    padding bits)."""
    at = len(token) - 10
    return token[:at] + ("B" if token[at] == "A" else "A") + token[at + 1 :]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "aaaaaaaaaaaaaaaaaaaa"}, "password"),
        ({"password": None}, "password"),
        ({"role": "superuser"}, "role"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_a_bad_account_is_refused_and_nothing_is_written(
    north: LocalNode, now: datetime, changes: dict[str, str | None], field: str
) -> None:
    before = north.counts(*TABLES)
    with pytest.raises(Invalid) as refused:
        grant(north, now, **changes)
    assert refused.value.slug == "invalid"
    assert refused.value.errors is not None and field in refused.value.errors
    assert north.counts(*TABLES) == before


def test_a_role_held_twice_is_a_conflict(north: LocalNode, now: datetime) -> None:
    first = grant(north, now)
    assert first.enrolment is not None and len(first.enrolment.recovery_codes) > 0
    before = north.counts(*TABLES)
    with pytest.raises(Conflict):
        grant(north, now)
    assert north.counts(*TABLES) == before
    # A second role for the same person is no new account and shows no new secret.
    second = grant(north, now, role="chair", password=None)
    assert second.user_id == first.user_id and second.enrolment is None


def test_password_then_enrolment_with_the_right_code(north: LocalNode, now: datetime) -> None:
    made = grant(north, now)
    assert made.enrolment is not None
    accepted = login(north, now)
    assert accepted == users.PasswordAccepted(made.user_id, enrolled=False)
    second_factor(
        north, made.user_id, totp_code(made.enrolment.totp_secret, now), now, enrolling=True
    )
    assert north.scalar("SELECT totp_confirmed_at FROM users") is not None
    assert login(north, now) == users.PasswordAccepted(made.user_id, enrolled=True)


def test_a_wrong_totp_code_is_refused_and_counted(north: LocalNode, now: datetime) -> None:
    made = grant(north, now)
    assert made.enrolment is not None
    right = totp_code(made.enrolment.totp_secret, now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(Unauthorized) as refused:
        second_factor(north, made.user_id, wrong, now, enrolling=True)
    assert refused.value.detail == users.FAILED
    assert north.scalar("SELECT totp_confirmed_at FROM users") is None
    assert north.scalar("SELECT failed_logins FROM users") == 1


def test_a_totp_code_is_accepted_once(north: LocalNode, now: datetime) -> None:
    made = grant(north, now)
    assert made.enrolment is not None
    code = totp_code(made.enrolment.totp_secret, now)
    second_factor(north, made.user_id, code, now, enrolling=True)
    with pytest.raises(Unauthorized):
        second_factor(north, made.user_id, code, now, enrolling=False)


def test_a_recovery_code_is_spent_once(north: LocalNode, now: datetime) -> None:
    made = grant(north, now)
    assert made.enrolment is not None
    second_factor(
        north, made.user_id, totp_code(made.enrolment.totp_secret, now), now, enrolling=True
    )
    code = made.enrolment.recovery_codes[0]
    second_factor(north, made.user_id, code, now, enrolling=False)
    with pytest.raises(Unauthorized):
        second_factor(north, made.user_id, code, now, enrolling=False)
    assert north.count("recovery_codes", "used_at IS NOT NULL") == 1


def test_the_account_locks_after_repeated_failures(north: LocalNode, now: datetime) -> None:
    made = grant(north, now)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            login(north, now, password="not the password at all")
    assert north.scalar("SELECT locked_until FROM users") is not None
    # Locked: even the right password is refused, with the same answer.
    with pytest.raises(Unauthorized) as refused:
        login(north, now + timedelta(minutes=1))
    assert refused.value.detail == users.FAILED
    later = now + timedelta(minutes=16)
    assert login(north, later) == users.PasswordAccepted(made.user_id, enrolled=False)


def test_failures_from_one_source_are_rate_limited(north: LocalNode, now: datetime) -> None:
    grant(north, now)
    limited = policy(max_failures=100, per_source="2/hour")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            login(north, now, password="not the password at all", login_policy=limited)
    with pytest.raises(TooManyRequests) as refused:
        login(north, now, login_policy=limited)
    assert refused.value.status == 429 and 0 < refused.value.retry_after <= 3600
    # The limit is shared by every worker because it lives in the database.
    with north.session() as session, session.begin():
        decision = rate_limits.peek(
            session, "login-source:192.0.2.1", limited.failures_per_source, now
        )
    assert not decision.allowed


def test_a_rate_limit_counts_per_window(north: LocalNode, now: datetime) -> None:
    limit = RateLimit.parse("2/minute")
    with north.session() as session, session.begin():
        results = [rate_limits.hit(session, "k", limit, now).allowed for _ in range(3)]
        after = rate_limits.hit(session, "k", limit, now + timedelta(minutes=1)).allowed
    assert results == [True, True, False] and after
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit.parse("lots")


def test_client_tokens(north: LocalNode, now: datetime) -> None:
    with north.session() as session:
        client, secret = clients.create_client(
            session, north.master, name="case system", area=NORTH, scopes="transfers:read", now=now
        )
        assert clients.check_secret(session, north.master, client.id, secret)
        assert not clients.check_secret(session, north.master, client.id, secret + "x")
        before = north.counts("token_keys", "audit_events")
        with pytest.raises(Invalid):
            clients.issue_token(
                session,
                north.master,
                client,
                requested=frozenset({"transfers:write"}),
                issuer="https://north.example",
                audience="https://north.example",
                lifetime=300,
                now=now,
            )
        assert north.counts("token_keys", "audit_events") == before
        issued = clients.issue_token(
            session,
            north.master,
            client,
            requested=None,
            issuer="https://north.example",
            audience="https://north.example",
            lifetime=300,
            now=now,
        )
        who = clients.verify_bearer(
            session,
            issued.access_token,
            issuer="https://north.example",
            audience="https://north.example",
            now=now,
        )
        assert (who.kind, who.id, who.area, who.scopes) == (
            "client",
            client.id,
            NORTH,
            frozenset({"transfers:read"}),
        )
        for token, audience, moment in [
            (tampered(issued.access_token), "https://north.example", now),
            (issued.access_token, "https://elsewhere.example", now),
            (issued.access_token, "https://north.example", now + timedelta(hours=1)),
        ]:
            with pytest.raises(Unauthorized):
                clients.verify_bearer(
                    session, token, issuer="https://north.example", audience=audience, now=moment
                )
    north.execute("UPDATE api_clients SET disabled = :yes", yes=True)
    with north.session() as session, pytest.raises(Unauthorized):
        clients.verify_bearer(
            session,
            issued.access_token,
            issuer="https://north.example",
            audience="https://north.example",
            now=now,
        )


@pytest.mark.parametrize("scopes", ["", "transfers:read everything", "admin"])
def test_a_client_with_unknown_scopes_is_refused(
    north: LocalNode, now: datetime, scopes: str
) -> None:
    with north.session() as session, pytest.raises(Invalid) as refused:
        clients.create_client(session, north.master, name="x", area=NORTH, scopes=scopes, now=now)
    assert refused.value.errors is not None and "scope" in refused.value.errors
    assert north.count("api_clients") == 0
