"""Who did something: the actor named in every audit event and passed to every service.

Kinds (DESIGN section 7): a signed-in user, an API client, a peer area (inbound
federation), the node operator at the command line, or the system itself (the worker).
The id is never personal data: user and client ids are opaque, peer ids are area codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["user", "client", "peer", "operator", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    # The role the actor acted in (coordinator, chair, ...) when that matters to the audit.
    role: str | None = None

    @classmethod
    def user(cls, user_id: str, role: str | None = None) -> Actor:
        return cls("user", user_id, role)

    @classmethod
    def client(cls, client_id: str) -> Actor:
        return cls("client", client_id)

    @classmethod
    def peer(cls, area_code: str) -> Actor:
        return cls("peer", area_code)

    @classmethod
    def operator(cls) -> Actor:
        """Whoever runs the CLI on the node itself: trusted by holding the master key."""
        return cls("operator", "cli")

    @classmethod
    def system(cls, component: str = "worker") -> Actor:
        return cls("system", component)

    def as_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "id": self.id}
        if self.role:
            out["role"] = self.role
        return out
