"""The mark of a service that owns its transaction (the convention of the domain package's
docstring): it begins and ends its own, so it must be handed a session with none open."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

P = ParamSpec("P")
R = TypeVar("R")


def owns_transaction(
    service: Callable[Concatenate[Session, P], R],
) -> Callable[Concatenate[Session, P], R]:
    """Mark `service` as beginning its own transaction; calling it inside one is a bug
    (its writes would silently join the caller's), so it is refused at once."""

    @functools.wraps(service)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if session.in_transaction():
            raise RuntimeError(
                f"{service.__module__}.{service.__qualname__} begins its own transaction: "
                "call it with a session that has none open"
            )
        return service(session, *args, **kwargs)

    return run
