"""What a view of the application API says about itself for the OpenAPI document: one
`@documented(...)` under its route and `@requires`. gateway/web/api/openapi.py builds the
document from these; kept apart so views need neither apispec nor the builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, TypeVar

from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])
# A body: one marshmallow schema (sent as JSON), or media type -> schema (or raw schema).
Body = type[Schema] | Mapping[str, type[Schema] | dict[str, Any]]
Security = list[dict[str, list[str]]]
JSON = "application/json"
DECLARATION = "_gateway_openapi"
ACTING_AREA = {
    "in": "query",
    "name": "area",
    "required": False,
    "schema": {"type": "string"},
    "description": "The area to act in, for a user holding the role in several.",
}


@dataclass(frozen=True)
class Operation:
    """A view's operation: `ok` is the success status and description, `answer` that
    response's body, `problems` the problem statuses it answers (texts in openapi.PROBLEMS),
    `query` a query schema or one parameter, `body` the required request body. Security
    follows from the route's `@requires`; `security` is only for a public route."""

    operation_id: str
    summary: str
    _: KW_ONLY
    ok: tuple[int, str]
    answer: Body | None = None
    problems: tuple[int, ...] = ()
    query: type[Schema] | dict[str, Any] | None = None
    body: Body | None = None
    security: Security | None = None

    def __call__(self, view: F) -> F:
        setattr(view, DECLARATION, self)
        return view


documented = Operation
