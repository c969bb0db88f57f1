"""Who is asking: a signed-in user (roles per area), an API client (scopes, one area) or
the operator at the node's command line. Every use case takes one of these and checks
what it implies; there is no second entry point per caller.

Roles and scopes (DESIGN sections 1 and 4):
- coordinator: sends, lists and opens its area's transfers.
- chair: lists and opens its area's transfers and approves those decided after the meeting.
- auditor: sees metadata, the audit and reports of its area; never case content.
- admin: peers, keys and users; never case content, not even metadata of transfers.
A user may hold roles in several areas of a shared node; every check names the area, so
an area's users never see another area's data.

The operator holds the node's master key, so it may act for any area the node hosts (the
service still checks the area exists); it holds no role, so it never acts in a person's
name: a chair's approval or a coordinator's acknowledgement at the command line is made
as that named user's principal (`users.principal_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from gateway.domain.identity.actors import Actor
from gateway.errors import Invalid, NotFound
from schemas.api.access import ROLES, SCOPES

COORDINATOR, CHAIR, AUDITOR, ADMIN = ROLES
CONTENT_ROLES = frozenset({COORDINATOR, CHAIR})
METADATA_ROLES = frozenset({COORDINATOR, CHAIR, AUDITOR})
SEND_ROLES = frozenset({COORDINATOR})

TRANSFERS_READ, TRANSFERS_WRITE, FLAGS_QUERY, FLAGS_WRITE, AUDIT_READ = SCOPES
__all__ = ["ROLES", "SCOPES", "Principal"]


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "client", "operator"]
    id: str
    # (area, role) pairs for users; empty for clients.
    roles: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    # Granted scopes and the one area of a client; empty/None for users.
    scopes: frozenset[str] = field(default_factory=frozenset)
    area: str | None = None

    @classmethod
    def user(cls, user_id: str, roles: Iterable[tuple[str, str]]) -> Principal:
        return cls("user", user_id, roles=frozenset(roles))

    @classmethod
    def client(cls, client_id: str, area: str, scopes: Iterable[str]) -> Principal:
        return cls("client", client_id, scopes=frozenset(scopes), area=area)

    @classmethod
    def operator(cls) -> Principal:
        return cls("operator", "cli")

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def has_any_role(self, roles: Iterable[str]) -> bool:
        wanted = set(roles)
        return any(role in wanted for _, role in self.roles)

    def has_any_scope(self, scopes: Iterable[str]) -> bool:
        return bool(self.scopes & set(scopes))

    def areas_for(self, roles: Iterable[str] = (), scope: str | None = None) -> list[str]:
        """The areas in which this principal holds one of `roles` (users) or `scope`
        (clients: its own area)."""
        if self.kind == "client":
            return [self.area] if self.area and scope in self.scopes else []
        wanted = set(roles)
        return sorted({area for area, role in self.roles if role in wanted})

    def may_read_content(self, area: str) -> bool:
        return self.is_operator or area in self.areas_for(CONTENT_ROLES, TRANSFERS_READ)

    def may_list_transfers(self, area: str) -> bool:
        return self.is_operator or area in self.areas_for(METADATA_ROLES, TRANSFERS_READ)

    def may_send(self, area: str) -> bool:
        return self.is_operator or area in self.areas_for(SEND_ROLES, TRANSFERS_WRITE)

    def choose_area(self, requested: str | None, roles: Iterable[str], scope: str) -> str:
        """The area to act in: the one asked for, or the only one the principal holds the
        right in. An area it holds no right in answers like one that does not exist."""
        if self.is_operator:
            if requested is None:
                raise Invalid("Name the area.", errors={"area": ["Required."]})
            return requested
        allowed = self.areas_for(roles, scope)
        if requested is None:
            if len(allowed) == 1:
                return allowed[0]
            raise Invalid(
                "Name the area.", errors={"area": ["Required: you act in several areas."]}
            )
        if requested not in allowed:
            raise NotFound("No such area.")
        return requested

    def actor(self, area: str, roles: Iterable[str] = ()) -> Actor:
        """The actor for an audit event: a user acting in the first matching role there."""
        if self.kind == "client":
            return Actor.client(self.id)
        if self.is_operator:
            return Actor.operator()
        wanted = list(roles)
        held = sorted(role for a, role in self.roles if a == area and role in wanted)
        return Actor.user(self.id, held[0] if held else None)

    def admin_actor(self, area: str) -> Actor:
        """The actor of an admin of `area` (never an API client) or the operator, for the
        node's administration (keys, peers, people, clients, the area's settings); any
        other caller is told the area does not exist, as one that does not."""
        if self.is_operator:
            return self.actor(area)
        if self.kind != "user" or area not in self.areas_for({ADMIN}):
            raise NotFound("No such area.")
        return self.actor(area, [ADMIN])
