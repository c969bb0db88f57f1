"""What every page shares: GOV.UK Frontend's Jinja macros, the layout's header (service
name, the signed-in area, the area switcher, sign-out), the session's end, and the one
way to show form errors.

Templates extend `layout.html` (see its header comment for the blocks). Form errors are a
mapping of field path -> message (`ErrorMap`): `""` is the form as a whole, `"email"` or
`"victim.name"` or `"perpetrators.0.name"` a field. Pass it to the template as `errors`;
the layout then prefixes the title with "Error: " and shows a GOV.UK error summary
linking each message to its field, and each field takes its inline message with
`field_error(errors, path)` and its id with `field_id(path)`. Messages never repeat the
value that was refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, session
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from gateway.domain.areas import local_areas
from gateway.domain.clock import utcnow
from gateway.domain.identity.principals import ADMIN, AUDITOR, CHAIR, COORDINATOR, Principal
from gateway.web import node

SERVICE_NAME = "MARAC Exchange"
# The area the person is working in, chosen with the area switcher (server-side session).
AREA_KEY = "area"
# MARAC areas are in England and Wales: times on the pages are UK local time.
UK = ZoneInfo("Europe/London")

ErrorMap = Mapping[str, str]
FORM = ""  # the ErrorMap key of an error about the form as a whole
FLAG_ROLES = (COORDINATOR, CHAIR)


def install_layout(app: Flask) -> None:
    """GOV.UK Frontend's macros under `govuk_frontend_jinja/...`, next to the blueprints'
    own templates, and the layout's helpers. Call before the first page is rendered."""
    app.jinja_loader = ChoiceLoader(
        [PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})]
    )
    app.jinja_env.globals.update(
        service_name=SERVICE_NAME,
        field_id=field_id,
        field_error=field_error,
        error_list=error_list,
    )
    app.context_processor(_layout_context)


def field_id(path: str) -> str:
    """The HTML id of the input for a field path: `victim.name` -> `victim-name`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-") or "form"


def field_error(errors: ErrorMap | None, path: str) -> dict[str, str] | None:
    """A GOV.UK component's `errorMessage` for the field, or None when it has no error."""
    if not errors or path not in errors:
        return None
    return {"text": errors[path]}


def error_list(
    errors: ErrorMap | None, anchors: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """The GOV.UK error summary's `errorList`, in the order the errors were given. Each
    links to `#field_id(path)`, or to `anchors[path]` where the first input has another id
    (a date input's `-day`); the form's own error (key "") links nowhere."""
    found = []
    for path, message in (errors or {}).items():
        item = {"text": message}
        if path != FORM:
            item["href"] = "#" + (anchors or {}).get(path, field_id(path))
        found.append(item)
    return found


def areas_of(principal: Principal) -> list[str]:
    return sorted({area for area, _role in principal.roles})


def current_area(principal: Principal) -> str | None:
    """The area the person is working in: the one chosen with the area switcher while they
    still hold a role there, else the first of their areas."""
    areas = areas_of(principal)
    chosen = session.get(AREA_KEY)
    if chosen in areas:
        return str(chosen)
    return areas[0] if areas else None


def local_time(moment: datetime) -> str:
    """`4:35pm`: how GOV.UK pages write a time."""
    return moment.astimezone(UK).strftime("%I:%M%p").lstrip("0").lower()


@dataclass(frozen=True)
class SignedIn:
    """What the header and the session-end notice show for a signed-in person."""

    area_code: str | None
    area_name: str | None
    several_areas: bool
    ends_at: str | None
    seconds_left: int | None
    admin: bool = False  # the navigation links to Administration
    # The navigation's "Shared flags" (gateway/web/ui/flags.py): coordinators and chairs.
    flags: bool = False
    # The navigation's "Audit" (gateway/web/ui/auditing.py): the area's auditors.
    auditor: bool = False


def _signed_in(principal: Principal) -> SignedIn:
    areas = areas_of(principal)
    area = current_area(principal)
    names = {}
    if area is not None:
        with node().sessions() as db:
            names = local_areas.area_names(db, [area])
    state = getattr(session, "state", None)
    ends_at = getattr(state, "ends_at", None)
    left = None if ends_at is None else max(0, int((ends_at - utcnow()).total_seconds()))
    return SignedIn(
        area_code=area,
        area_name=names.get(area or "", area),
        several_areas=len(areas) > 1,
        ends_at=None if ends_at is None else local_time(ends_at),
        seconds_left=left,
        admin=(area, ADMIN) in principal.roles,
        flags=any(held == area and role in FLAG_ROLES for held, role in principal.roles),
        auditor=(area, AUDITOR) in principal.roles,
    )


def _layout_context() -> dict[str, Any]:
    principal = g.get("principal")
    if not isinstance(principal, Principal) or principal.kind != "user":
        return {"signed_in": None}
    csrf = getattr(session, "csrf_token", None)
    return {
        "signed_in": _signed_in(principal),
        "csrf_token": csrf() if callable(csrf) else None,
    }
