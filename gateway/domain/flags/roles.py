"""Where the linkage authority and the flag index are, and how an area reaches them.

`GATEWAY_LINKAGE_AUTHORITY` and `GATEWAY_FLAG_INDEX` read `<area>@<base URL>`: the area
whose key the role answers with, on the node at that URL. Unset, this node plays the role
itself. Either way an area's request goes through the same service functions
(`authority.evaluate`/`derive_in`, `index.publish`, `index.match`), which rate-limit and audit per
calling area; a remote role is reached over HTTP with a request token signed by the
calling area (DESIGN section 4), a local one in-process under the area's own name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from adapters.peer_client import PeerClient, PeerUnreachable, check_peer_url
from gateway.domain.areas.local_areas import current_secret_keys
from gateway.domain.identity.rate_limits import RateLimit
from gateway.domain.linkage import LinkageInput, Token, derive_tokens
from gateway.errors import DomainError
from keys import (
    MasterKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    issue_request_token,
    parse_json,
)
from schemas.common import AREA_CODE
from schemas.wire.flags import (
    MAX_ELEMENTS,
    SCORED_MATCH_MEDIA_TYPE,
    STRONG,
    EvaluateAnswer,
    EvaluateAnswerSchema,
    IndexMatch,
    MatchAnswerSchema,
    Publication,
    PublicationSchema,
    WireToken,
    load,
)

T = TypeVar("T")
EVALUATE_PATH = "/federation/v1/linkage/evaluate"
TOKENS_PATH = "/federation/v1/flags/tokens"
MATCH_PATH = "/federation/v1/flags/match"
VERIFICATIONS_PATH = "/federation/v1/flags/verifications"
ANSWERS_PATH = "/federation/v1/flags/verifications/answers"


class RoleUnavailable(DomainError):
    """The authority or the index could not be reached or refused us: nothing derived."""

    status, slug, title = 503, "role-unavailable", "Service unavailable"
    explanation = (
        "The linkage authority or flag index could not be reached, or refused this node."
        " Nothing was derived or sent; try again later."
    )


@dataclass(frozen=True)
class RoleAt:
    area: str
    url: str

    @classmethod
    def parse(cls, text: str) -> RoleAt:
        area, at, url = text.strip().partition("@")
        if not at or not AREA_CODE.match(area):
            raise ValueError("name the role as <area>@<base URL>, e.g. hub@https://hub.example")
        url = url.rstrip("/")
        check_peer_url(url)
        return cls(area, url)


@dataclass(frozen=True)
class Roles:
    """What a node needs to act as a client of both roles, and to play them."""

    authority: RoleAt | None  # None: this node plays the linkage authority
    index: RoleAt | None  # None: this node plays the flag index
    sessions: sessionmaker[Session]
    master: MasterKey
    client: PeerClient
    role_limit: RateLimit  # per calling area: evaluations, matches, publications each


Evaluate = Callable[[list[bytes]], list[bytes]]


def plays_both(roles: Roles) -> bool:
    return roles.authority is None and roles.index is None


def tokens_for(
    roles: Roles,
    caller: str,
    inputs: Sequence[LinkageInput],
    now: datetime,
    inside: Session | None = None,
) -> list[Token]:
    """`caller`'s tokens for `inputs`, one authority call for the whole batch.

    A remote authority gets the blinded batch (`linkage.derive_tokens`). When this node
    plays the authority, its areas' tokens are computed in process by `authority.derive_in`
    after the same rate limit and audit. `inside`: the caller's open transaction."""
    if not inputs:
        return []
    if roles.authority is not None:
        return derive_tokens(inputs, _remote_evaluate(roles, roles.authority, caller, now))
    from gateway.domain.flags import authority

    data = [item.data for item in inputs]
    if inside is not None:
        values = authority.derive_in(inside, roles.master, caller, data, roles.role_limit, now)
    else:
        with roles.sessions() as session, session.begin():
            values = authority.derive_in(session, roles.master, caller, data, roles.role_limit, now)
    return [Token(i.kind, i.rule, value) for i, value in zip(inputs, values, strict=True)]


def _remote_evaluate(roles: Roles, at: RoleAt, caller: str, now: datetime) -> Evaluate:
    """The `evaluate` callback `linkage.derive_tokens` calls once with the blinded batch."""

    def evaluate(elements: list[bytes]) -> list[bytes]:
        found: list[bytes] = []
        for chunk in _chunks(elements):
            body = {"to": at.area, "elements": [b64url_encode(e) for e in chunk]}
            answer = checked(
                EvaluateAnswerSchema(),
                _post(roles, caller, at, EVALUATE_PATH, body, now, EvaluateAnswerSchema()),
                EvaluateAnswer,
            )
            if len(answer.evaluated) != len(chunk):
                raise RoleUnavailable(
                    "The linkage authority answered a different number of values."
                )
            found.extend(b64url_decode(value, length=32) for value in answer.evaluated)
        return found

    return evaluate


def publish(roles: Roles, caller: str, publication: Publication, now: datetime) -> None:
    if roles.index is None:
        from gateway.domain.flags import index

        with roles.sessions() as session:
            index.publish(session, roles.master, caller, caller, publication, roles.role_limit, now)
        return
    body = PublicationSchema().dump(publication)
    _post(roles, caller, roles.index, TOKENS_PATH, body, now, None)


def match(
    roles: Roles,
    caller: str,
    tokens: list[WireToken],
    now: datetime,
    inside: Session | None = None,
) -> list[IndexMatch]:
    if roles.index is None:
        from gateway.domain.flags import index

        if inside is not None:
            return index.match_in(
                inside, roles.master, caller, caller, tokens, roles.role_limit, now
            )

        with roles.sessions() as session:
            return index.match(session, roles.master, caller, caller, tokens, roles.role_limit, now)
    merged: dict[str, IndexMatch] = {}
    offset = 0
    for chunk in _chunks(tokens):
        body = {
            "to": roles.index.area,
            "tokens": [{"kind": t.kind, "token": t.token} for t in chunk],
        }
        answer = _post(
            roles,
            caller,
            roles.index,
            MATCH_PATH,
            body,
            now,
            MatchAnswerSchema(),
            accept=f"{SCORED_MATCH_MEDIA_TYPE}, application/json;q=0.5",
        )
        for found in checked(MatchAnswerSchema(), answer, tuple):
            if found.met is not None and max(found.met) >= len(chunk):
                raise RoleUnavailable("The flag index answered about tokens it was not sent.")
            merged[found.seal_to] = _merge(merged.get(found.seal_to), found, offset)
        offset += len(chunk)
    return list(merged.values())


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    """At most MAX_ELEMENTS a request (a subject with several aliases and previous family
    names has more inputs than that)."""
    return [items[i : i + MAX_ELEMENTS] for i in range(0, len(items), MAX_ELEMENTS)]


def _merge(known: IndexMatch | None, found: IndexMatch, offset: int) -> IndexMatch:
    """One flag's answers over several requests (keyed by the flag's own key, `seal_to`):
    the strongest answer, with the positions of every request, numbered in the whole list."""
    met = None if found.met is None else tuple(p + offset for p in found.met)
    if known is None:
        return replace(found, met=met)
    best = found if found.strength == STRONG and known.strength != STRONG else known
    both = None if met is None or known.met is None else tuple(sorted({*known.met, *met}))
    return replace(best, met=both)


def _post(
    roles: Roles,
    caller: str,
    role: RoleAt,
    path: str,
    body: dict[str, Any],
    now: datetime,
    schema: Schema | None,
    accept: str | None = None,
) -> Any:
    data = canonical_json(body)
    url = role.url + path
    with roles.sessions() as session, session.begin():
        keys = current_secret_keys(session, roles.master, caller, now)
    token = issue_request_token(
        keys, audience=role.area, method="POST", url=url, body=data, now=int(now.timestamp())
    )
    try:
        response = roles.client.post(url, data, token, accept)
    except PeerUnreachable as exc:
        raise RoleUnavailable(
            f"The {_name(path)} could not be reached ({exc}); try again later."
        ) from exc
    if response.status == 429:
        raise RoleUnavailable(f"The {_name(path)} is rate-limiting this area; try again later.")
    if response.status not in (200, 201, 204):
        raise RoleUnavailable(f"The {_name(path)} refused the request (HTTP {response.status}).")
    if schema is None:
        return None
    try:
        return parse_json(response.body)
    except ValueError as exc:
        raise RoleUnavailable(f"The {_name(path)} sent a malformed answer.") from exc


def _name(path: str) -> str:
    return "linkage authority" if path == EVALUATE_PATH else "flag index"


def checked(schema: Schema, data: Any, kind: type[Any]) -> Any:
    try:
        return load(schema, data, kind)
    except ValidationError as exc:
        raise RoleUnavailable("The remote role sent a malformed answer.") from exc
