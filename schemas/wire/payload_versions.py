"""Payload versions and their negotiation between nodes (DESIGN section 4: "A node accepts
every version it accepted before; its bundle lists the versions it accepts; a sender sends
the newest the peer accepts"). docs/contract.md records each version.

One registry: payload type -> the newest version this release understands, and for each
version above 1 its down-converter to the version before. A node accepts every version from
1 to its newest (a version is never dropped). A down-converter returns the payload rewritten
for the older version, or raises `DoesNotFit` naming the fields the older version has no
place for: a fact is never dropped silently, the sender is told instead.

Giving a payload type a new version: write the new schema beside the old one, make the
type's loader accept both, add a `Versions(newest=N, down={N: converter})` entry here, and a
section to docs/contract.md. Nothing else changes: the bundle, sending and receiving read
this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.common import DoesNotFit
from schemas.wire import (
    acknowledgement,
    document,
    forward_permission,
    idva_referral,
    transfer_request,
)
from schemas.wire.envelope import PAYLOAD_TYPES

# A payload rewritten for the version below its own (its `schema_version` included).
DownConverter = Callable[[Mapping[str, Any]], dict[str, Any]]
# Payload type -> the versions a node accepts, ascending (a bundle's `accepts` member).
Accepts = Mapping[str, tuple[int, ...]]
# Far above any real history; keeps a peer's bundle from naming a huge list.
MAX_VERSION = 100


class NotAccepted(Exception):
    """The recipient accepts no version this payload can be sent as."""

    def __init__(
        self,
        payload_type: str,
        version: int,
        accepted: tuple[int, ...],
        fields: tuple[str, ...] = (),
    ) -> None:
        self.payload_type, self.version = payload_type, version
        self.accepted, self.fields = accepted, fields
        super().__init__(self.explanation)

    @property
    def explanation(self) -> str:
        if not self.accepted:
            return (
                f"The receiving area's gateway does not accept {self.payload_type} at all "
                f"(its bundle lists no version of it); this {self.payload_type} is version "
                f"{self.version}."
            )
        versions = ", ".join(str(v) for v in self.accepted)
        why = f" (it has no place for: {', '.join(self.fields)})" if self.fields else ""
        return (
            f"The receiving area accepts {self.payload_type} version(s) {versions} only; "
            f"this {self.payload_type} is version {self.version} and does not fit an older "
            f"version{why}."
        )


@dataclass(frozen=True)
class Versions:
    """The versions of one payload type this release understands."""

    newest: int = 1
    # version N -> converter from N to N-1, for every N from 2 to `newest`.
    down: Mapping[int, DownConverter] = field(default_factory=dict)
    # A type added after DESIGN section 4's list: a node whose bundle does not list it
    # (or has no `accepts` at all) predates it and is never sent it.
    listed_only: bool = False

    def __post_init__(self) -> None:
        missing = [n for n in range(2, self.newest + 1) if n not in self.down]
        if missing:
            raise ValueError(f"no down-converter for version(s) {missing}")

    @property
    def all(self) -> tuple[int, ...]:
        return tuple(range(1, self.newest + 1))


Registry = Mapping[str, Versions]


def _fitting(convert: DownConverter, *fields: str) -> DownConverter:
    """A payload module's converter, whose ValueError (it has no place for `fields`)
    becomes DoesNotFit; the modules stay free of this one."""

    def down(payload: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return convert(payload)
        except ValueError as exc:
            raise DoesNotFit(fields) from exc

    return down


def _registry() -> dict[str, Versions]:
    registry = {payload_type: Versions() for payload_type in PAYLOAD_TYPES}
    registry[transfer_request.PAYLOAD_TYPE] = Versions(
        newest=transfer_request.SCHEMA_VERSION, down={2: transfer_request.down_to_v1}
    )
    # Version 2: the reason for a redirect (docs/contract.md).
    registry[acknowledgement.PAYLOAD_TYPE] = Versions(
        newest=2, down={2: _fitting(acknowledgement.to_version_1, "redirect_reason")}
    )
    # Version 2: a grant's terms, restrictions and covered documents (docs/contract.md);
    # a grant with terms never goes as version 1.
    registry[forward_permission.PAYLOAD_TYPE] = Versions(
        newest=forward_permission.SCHEMA_VERSION, down={2: forward_permission.to_version_1}
    )
    # Version 2: structured minutes of format version 2 (docs/contract.md).
    registry[document.PAYLOAD_TYPE] = Versions(
        newest=document.SCHEMA_VERSION, down={2: document.to_version_1}
    )
    # Its own reply after the acknowledgement (docs/contract.md); older nodes lack it.
    registry[idva_referral.PAYLOAD_TYPE] = Versions(listed_only=True)
    return registry


REGISTRY: Registry = _registry()


def accepted(caps: Mapping[str, int] | None = None, registry: Registry = REGISTRY) -> Accepts:
    """What this node accepts per payload type: 1 to the newest this release understands,
    or to a lower cap a node sets (GATEWAY_PAYLOAD_VERSIONS, for a staged roll-out)."""
    caps = caps or {}
    return {
        payload_type: tuple(v for v in versions.all if v <= caps.get(payload_type, v))
        for payload_type, versions in registry.items()
    }


def peer_accepts(member: Mapping[str, Any] | None) -> Accepts:
    """A peer's accepted versions from its bundle's `accepts` member; a bundle without it
    (a node that predates payload versions) means version 1 of everything."""
    if member is None:
        return {}
    return {str(key): tuple(sorted(int(v) for v in value)) for key, value in member.items()}


def versions_for(
    accepts: Accepts, payload_type: str, registry: Registry = REGISTRY
) -> tuple[int, ...]:
    """The versions of one type a node accepts; a type its bundle omits: version 1, or
    none for a type newer than DESIGN section 4's list (`Versions.listed_only`)."""
    listed = accepts.get(payload_type)
    if listed:
        return tuple(listed)
    known = registry.get(payload_type)
    return () if known is not None and known.listed_only else (1,)


def version_of(payload: Mapping[str, Any]) -> int:
    version = payload.get("schema_version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def negotiate(
    payload_type: str,
    payload: Mapping[str, Any],
    recipient: tuple[int, ...],
    registry: Registry = REGISTRY,
) -> dict[str, Any]:
    """The payload as the newest version the recipient accepts, at most its own: sent as
    is, or down-converted one version at a time. Raises NotAccepted (naming the
    recipient's versions, and the fields that did not fit) when no accepted version can
    carry it."""
    version = version_of(payload)
    current = dict(payload)
    if version in recipient:
        return current
    target = max((v for v in recipient if v < version), default=None)
    if target is None:
        raise NotAccepted(payload_type, version, recipient)
    converters = registry[payload_type].down if payload_type in registry else {}
    for step in range(version, target, -1):
        convert = converters.get(step)
        if convert is None:
            raise NotAccepted(payload_type, version, recipient)
        try:
            current = convert(current)
        except DoesNotFit as exc:
            raise NotAccepted(payload_type, version, recipient, exc.fields) from exc
    return current


__all__ = [
    "REGISTRY",
    "Accepts",
    "DoesNotFit",
    "DownConverter",
    "NotAccepted",
    "Versions",
    "accepted",
    "negotiate",
    "peer_accepts",
    "version_of",
    "versions_for",
]
