"""Node administration for the admins of an area (README "Identity and access": admins
look after keys, peers, people and clients, never a case). The area is the one the admin
is working in; every change is made by a domain service that checks the admin's role
there and audits it. People have their own module (gateway/web/ui/people.py).

Pages:
  /admin                              "Administration"                   admins
  /admin/area                         "This area"                        admins
  /admin/area/bundle                  (the signed public bundle, JSON)   admins
  /admin/area/rotate                  "Rotate the area's keys"           admins
  /admin/area/rotated                 "Keys rotated"                     admins
  /admin/area/revoke                  "Revoke the area's key"            admins
  /admin/area/revoked                 "Key revoked"                      admins
  /admin/peers                        "Peers"                            admins
  /admin/peers/import                 "Import a peer's bundle"           admins
  /admin/peers/confirm                "Confirm the fingerprint"          admins
  /admin/peers/<peer>/pending         (a fetched bundle -> "Confirm the fingerprint")  admins
  /admin/peers/<peer>/keys/<key_id>/revoke  "Revoke a peer's key"       admins
  /admin/clients                      "API clients"                      admins
  /admin/clients/new                  "Create an API client"             admins
                                      then "API client created" (the secret, shown once)
  /admin/clients/<id>/revoke          "Revoke the API client"            admins
  /admin/meetings                     "Meetings, time limits and retention"  admins
  POST /admin/meetings/add, /admin/meetings/remove, /admin/settings, /admin/retention
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, request, session
from werkzeug.wrappers import Response

from gateway.domain import retention
from gateway.domain.areas import local_areas, peers
from gateway.domain.clock import utcnow
from gateway.domain.identity import clients
from gateway.domain.identity.principals import ADMIN, SCOPES
from gateway.domain.schedule import meetings
from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.web import node
from gateway.web.guard import current_principal, requires
from gateway.web.ui.forms import CHECKBOXES, DATE, NUMBER, RADIOS, Question, problems, read_answers
from gateway.web.ui.layout import FORM, current_area
from gateway.web.ui.pages import go, refusal, render
from gateway.web.ui.transfer_words import long_date
from keys import BadJson, canonical_json, fingerprint, parse_json
from schemas.common import parse_timestamp

admin = Blueprint("admin", __name__)

# The uploaded bundle waits in the server-side session (public data: keys, a URL, a
# mailbox) between the upload and the fingerprint typed on the second page.
PENDING_BUNDLE = "admin.pending_bundle"
BUNDLE_MAX_BYTES = 64 * 1024
YES = "yes"

CONFIRM_ROTATION = Question(
    "confirm",
    "Are you sure you want to rotate the area's keys?",
    kind=RADIOS,
    options=((YES, "Yes, rotate the keys now"), ("no", "No, keep the current keys")),
    noun="whether to rotate the keys",
)
CONFIRM_REVOCATION = Question(
    "confirm",
    "Are you sure the key is compromised and must be revoked?",
    kind=RADIOS,
    options=((YES, "Yes, revoke it now"), ("no", "No, keep it")),
    noun="whether to revoke the key",
)
FINGERPRINT = Question(
    "fingerprint",
    "Fingerprint read out by the other area",
    hint="64 letters and digits in groups of four. Spaces and capital letters do not matter.",
    width="govuk-input--width-30",
    noun="the fingerprint",
)
SCOPE_WORDS = {
    "transfers:read": "Read the area's transfers",
    "transfers:write": "Send transfers and act on them",
    "flags:query": "Look people up in the shared flags",
    "flags:write": "Raise and review flags",
    "audit:read": "Read the area's audit log",
}
CLIENT_QUESTIONS = (
    Question(
        "name",
        "Name of the system",
        hint="For example, the case-management system's name: letters, digits, spaces, "
        "dots and dashes.",
        noun="the name of the system",
    ),
    Question(
        "scopes",
        "What may it do?",
        kind=CHECKBOXES,
        options=tuple((scope, SCOPE_WORDS[scope]) for scope in SCOPES),
        noun="what the system may do",
    ),
)
MEETING = Question(
    "date", "Add a meeting date", kind=DATE, hint="For example, 27 3 2027", noun="the meeting date"
)
ACK_DAYS = Question(
    "ack_working_days",
    "Working days to acknowledge a received transfer",
    kind=NUMBER,
    hint="Between 1 and 20. Weekends and bank holidays in England and Wales do not count.",
    noun="the number of working days",
)
RETENTION = Question(
    "retention_months",
    "Months to keep a case's content after its last activity",
    kind=NUMBER,
    hint="Between 1 and 1200. Then the content is deleted; what happened stays in the audit log.",
    noun="the number of months",
)


def admin_area() -> str:
    """The area the admin is working in (one they are an admin of)."""
    principal = current_principal()
    return principal.choose_area(current_area(principal), [ADMIN], ADMIN)


# --- the hub --------------------------------------------------------------------------------


@admin.get("/admin")
@requires(roles=[ADMIN])
def hub() -> Response:
    area = admin_area()
    with node().sessions() as db:
        names = local_areas.area_names(db, [area])
    return render("admin/hub.html", area_name=names.get(area, area))


# --- this area: fingerprint, bundle, rotation ------------------------------------------------


def grouped(text: str) -> list[str]:
    """A fingerprint as its groups of four, for reading aloud one group at a time."""
    return text.split()


def _bundle(area: str) -> dict[str, Any]:
    current = node()
    with current.sessions() as db:
        return local_areas.published_bundle(db, current.master, area, utcnow())


@admin.get("/admin/area")
@requires(roles=[ADMIN])
def area() -> Response:
    code = admin_area()
    bundle = _bundle(code)
    body = bundle["body"]
    return render(
        "admin/area.html",
        area=body,
        groups=grouped(fingerprint(body)),
        since=long_date(parse_timestamp(body["valid_from"])),
        previous=[
            {"key_id": k["key_id"], "until": long_date(parse_timestamp(k["valid_until"]))}
            for k in body.get("previous_keys", [])
        ],
    )


@admin.get("/admin/area/bundle")
@requires(roles=[ADMIN])
def bundle() -> Response:
    code = admin_area()
    document = _bundle(code)
    response = Response(canonical_json(document), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{code}.bundle.json"'
    return response


@admin.get("/admin/area/rotate")
@requires(roles=[ADMIN])
def rotate() -> Response:
    admin_area()
    return render("admin/rotate.html", question=CONFIRM_ROTATION)


@admin.post("/admin/area/rotate")
@requires(roles=[ADMIN])
def rotate_submit() -> Response:
    code = admin_area()
    answer = read_answers(request.form, [CONFIRM_ROTATION]).get("confirm")
    if answer not in (YES, "no"):
        errors = {"confirm": "Select whether to rotate the keys"}
        return render("admin/rotate.html", 400, question=CONFIRM_ROTATION, errors=errors)
    if answer != YES:
        return go("admin.area")
    current = node()
    principal = current_principal()
    with current.sessions() as db:
        local_areas.rotate_keys(
            db,
            current.master,
            code,
            grace=current.key_grace,
            now=utcnow(),
            actor=principal.admin_actor(code),
        )
    return go("admin.rotated")


@admin.get("/admin/area/rotated")
@requires(roles=[ADMIN])
def rotated() -> Response:
    code = admin_area()
    body = _bundle(code)["body"]
    if not body.get("previous_keys"):
        raise NotFound("The keys of this area have not been rotated.")
    return render(
        "admin/rotated.html",
        groups=grouped(fingerprint(body)),
        until=long_date(parse_timestamp(body["previous_keys"][-1]["valid_until"])),
    )


def _confirmed(template: str, question: Question, **context: Any) -> bool | Response:
    """The answer to a yes/no confirmation page, or that page again with its error."""
    answer = read_answers(request.form, [question]).get("confirm")
    if answer not in (YES, "no"):
        errors = {"confirm": f"Select {question.noun}"}
        page: Response = render(template, 400, question=question, errors=errors, **context)
        return page
    return bool(answer == YES)


@admin.get("/admin/area/revoke")
@requires(roles=[ADMIN])
def revoke_key() -> Response:
    admin_area()
    return render("admin/revoke_key.html", question=CONFIRM_REVOCATION)


@admin.post("/admin/area/revoke")
@requires(roles=[ADMIN])
def revoke_key_submit() -> Response:
    code = admin_area()
    answer = _confirmed("admin/revoke_key.html", CONFIRM_REVOCATION)
    if isinstance(answer, Response):
        return answer
    if not answer:
        return go("admin.area")
    current = node()
    with current.sessions() as db:
        key_id = local_areas.current_key_id(db, code, utcnow())
        local_areas.revoke_key(
            db,
            current.master,
            code,
            key_id,
            now=utcnow(),
            actor=current_principal().admin_actor(code),
        )
    return go("admin.revoked")


@admin.get("/admin/area/revoked")
@requires(roles=[ADMIN])
def revoked() -> Response:
    code = admin_area()
    body = _bundle(code)["body"]
    if not body.get("revocations"):
        raise NotFound("No key of this area has been revoked.")
    return render("admin/revoked.html", groups=grouped(fingerprint(body)))


# --- peers ----------------------------------------------------------------------------------


def _key_rows(view: peers.PeerView, now: datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    revoked = {key_id: (when, by) for key_id, when, by in view.revoked}
    for key_id, start, end in view.validity:
        if key_id in revoked:
            when, by = revoked[key_id]
            state = f"Revoked on {long_date(when)} " + (
                "by the area itself" if by == "peer" else "by an admin here"
            )
        elif end is not None and end <= now:
            state = "Expired"
        elif start > now:
            state = "Not yet valid"
        else:
            state = "Valid" if end is None else "Valid until " + long_date(end)
        rows.append(
            {
                "key_id": key_id,
                "since": long_date(start),
                "state": state,
                "revocable": key_id not in revoked and not (end is not None and end <= now),
            }
        )
    return rows


@admin.get("/admin/peers")
@requires(roles=[ADMIN])
def peer_list() -> Response:
    admin_area()
    now = utcnow()
    with node().sessions() as db:
        found = peers.list_peers(db)
    imported = request.args.get("imported")
    revoked_key = request.args.get("revoked")
    return render(
        "admin/peers.html",
        peers=[
            {
                "view": p,
                "groups": grouped(p.fingerprint),
                "key_rows": _key_rows(p, now),
                "pending_groups": grouped(p.pending_fingerprint or ""),
                "pending_since": long_date(p.pending_since) if p.pending_since else None,
                "rotated_on": long_date(p.rotated_at) if p.rotated_at else None,
            }
            for p in found
        ],
        imported=next((p.name for p in found if p.code == imported), None),
        revoked=next((k for p in found for k in p.key_ids if k == revoked_key), None),
    )


@admin.get("/admin/peers/<peer>/pending")
@requires(roles=[ADMIN])
def pending_peer(peer: str) -> Response:
    """A fetched bundle no pinned key endorsed goes through the same fingerprint check as
    an uploaded one."""
    admin_area()
    with node().sessions() as db:
        document = peers.pending_bundle(db, peer)
    session[PENDING_BUNDLE] = document
    return go("admin.confirm_peer")


def _peer_key(peer: str, key_id: str) -> dict[str, str]:
    with node().sessions() as db:
        found = {p.code: p for p in peers.list_peers(db)}
    view = found.get(peer)
    if view is None or key_id not in view.key_ids:
        raise NotFound("No such key is pinned for that peer.")
    return {"code": view.code, "name": view.name, "key_id": key_id}


@admin.get("/admin/peers/<peer>/keys/<key_id>/revoke")
@requires(roles=[ADMIN])
def revoke_peer_key(peer: str, key_id: str) -> Response:
    admin_area()
    return render(
        "admin/revoke_peer_key.html", key=_peer_key(peer, key_id), question=CONFIRM_REVOCATION
    )


@admin.post("/admin/peers/<peer>/keys/<key_id>/revoke")
@requires(roles=[ADMIN])
def revoke_peer_key_submit(peer: str, key_id: str) -> Response:
    code = admin_area()
    key = _peer_key(peer, key_id)
    answer = _confirmed("admin/revoke_peer_key.html", CONFIRM_REVOCATION, key=key)
    if isinstance(answer, Response):
        return answer
    if not answer:
        return go("admin.peer_list")
    try:
        with node().sessions() as db:
            peers.revoke_peer_key(
                db, peer, key_id, utcnow(), actor=current_principal().admin_actor(code)
            )
    except Conflict as exc:
        return render(
            "admin/revoke_peer_key.html",
            409,
            key=key,
            question=CONFIRM_REVOCATION,
            errors=refusal(exc),
        )
    return go("admin.peer_list", revoked=key_id)


def _import_page(status: int = 200, errors: dict[str, str] | None = None) -> Response:
    return render("admin/import.html", status, errors=errors or {})


@admin.get("/admin/peers/import")
@requires(roles=[ADMIN])
def import_peer() -> Response:
    admin_area()
    return _import_page()


@admin.post("/admin/peers/import")
@requires(roles=[ADMIN])
def import_peer_submit() -> Response:
    admin_area()
    part = request.files.get("bundle")
    raw = part.stream.read(BUNDLE_MAX_BYTES + 1) if part is not None else b""
    if not raw:
        return _import_page(400, {"bundle": "Select the bundle file the other area sent you"})
    if len(raw) > BUNDLE_MAX_BYTES:
        return _import_page(413, {"bundle": "The file must be smaller than 64 KB"})
    try:
        document = parse_json(raw)
        if not isinstance(document, dict):
            raise BadJson("not an object")
        with node().sessions() as db:
            peers.read_bundle(db, document)
    except (BadJson, Invalid):
        return _import_page(
            422, {"bundle": "The file is not a valid bundle. Ask the other area to send it again"}
        )
    except Conflict as exc:
        return _import_page(409, {"bundle": exc.detail})
    session[PENDING_BUNDLE] = document
    return go("admin.confirm_peer")


def _pending() -> dict[str, Any]:
    document = session.get(PENDING_BUNDLE)
    if not isinstance(document, dict):
        raise NotFound("There is no bundle waiting to be confirmed. Upload it again.")
    return document


def _confirm_page(
    document: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    with node().sessions() as db:
        summary = peers.read_bundle(db, document)
    return render(
        "admin/confirm.html",
        status,
        summary=summary,
        question=FINGERPRINT,
        form=request.form if errors else None,
        errors=errors or {},
    )


@admin.get("/admin/peers/confirm")
@requires(roles=[ADMIN])
def confirm_peer() -> Response:
    admin_area()
    return _confirm_page(_pending())


@admin.post("/admin/peers/confirm")
@requires(roles=[ADMIN])
def confirm_peer_submit() -> Response:
    code = admin_area()
    document = _pending()
    typed = request.form.get(FINGERPRINT.id, "")
    if not typed.strip():
        return _confirm_page(document, 400, {"fingerprint": "Enter the fingerprint"})
    try:
        with node().sessions() as db:
            view = peers.import_peer(
                db, document, typed, utcnow(), actor=current_principal().admin_actor(code)
            )
    except Invalid:
        return _confirm_page(
            document,
            422,
            {"fingerprint": "Enter the fingerprint as 64 letters (a to f) and digits"},
        )
    except Forbidden:
        return _confirm_page(
            document,
            403,
            {
                "fingerprint": "The fingerprint does not match this bundle. Nothing was imported. "
                "Check it with the other area by phone"
            },
        )
    session.pop(PENDING_BUNDLE, None)
    return go("admin.peer_list", imported=view.code)


# --- API clients ----------------------------------------------------------------------------


@admin.get("/admin/clients")
@requires(roles=[ADMIN])
def client_list() -> Response:
    area_code = admin_area()
    with node().sessions() as db:
        rows = clients.list_clients(db, current_principal(), area_code)
    return render(
        "admin/clients.html",
        rows=[
            {
                "row": r,
                "created": long_date(r.created_at),
                "scopes": [SCOPE_WORDS.get(s, s) for s in r.scopes],
            }
            for r in rows
        ],
        revoked=request.args.get("revoked"),
    )


@admin.get("/admin/clients/new")
@requires(roles=[ADMIN])
def new_client() -> Response:
    admin_area()
    return render("admin/new_client.html", questions=CLIENT_QUESTIONS, form=None)


@admin.post("/admin/clients/new")
@requires(roles=[ADMIN])
def new_client_submit() -> Response:
    area_code = admin_area()
    answers = read_answers(request.form, CLIENT_QUESTIONS)
    errors: dict[str, str] = {}
    if not answers.get("name"):
        errors["name"] = "Enter the name of the system"
    if not answers.get("scopes"):
        errors["scopes"] = "Select what the system may do"
    if not errors:
        current = node()
        try:
            with current.sessions() as db:
                view, secret = clients.create_client(
                    db,
                    current.master,
                    name=str(answers["name"]),
                    area=area_code,
                    scopes=" ".join(answers["scopes"]),
                    now=utcnow(),
                    actor=current_principal().admin_actor(area_code),
                )
        except Invalid as exc:
            errors = problems(exc.errors or {}, CLIENT_QUESTIONS) or {FORM: exc.detail}
            if "name" in errors:
                errors["name"] = (
                    "The name must use only letters, digits, spaces, dots, underscores and "
                    "dashes, and be 200 characters or fewer"
                )
        else:
            return render("admin/client_created.html", view=view, secret=secret)
    return render(
        "admin/new_client.html", 400, questions=CLIENT_QUESTIONS, form=request.form, errors=errors
    )


def _client_row(area_code: str, client_id: str) -> clients.ClientRow:
    with node().sessions() as db:
        rows = clients.list_clients(db, current_principal(), area_code)
    found = next((r for r in rows if r.id == client_id), None)
    if found is None:
        raise NotFound("No such API client.")
    return found


@admin.get("/admin/clients/<client_id>/revoke")
@requires(roles=[ADMIN])
def revoke_client(client_id: str) -> Response:
    row = _client_row(admin_area(), client_id)
    return render("admin/revoke_client.html", row=row)


@admin.post("/admin/clients/<client_id>/revoke")
@requires(roles=[ADMIN])
def revoke_client_submit(client_id: str) -> Response:
    area_code = admin_area()
    try:
        with node().sessions() as db:
            clients.revoke_client(db, current_principal(), area_code, client_id, utcnow())
    except Conflict as exc:
        row = _client_row(area_code, client_id)
        return render("admin/revoke_client.html", 409, row=row, errors=refusal(exc))
    return go("admin.client_list", revoked=client_id)


# --- meetings, the acknowledgement limit, retention ----------------------------------------


def _meetings_page(status: int = 200, errors: dict[str, str] | None = None) -> Response:
    code = admin_area()
    current = node()
    principal = current_principal()
    with current.sessions() as db:
        plan = meetings.schedule(db, principal, code)
    with current.sessions() as db:
        kept = retention.area_retention(db, principal, code, current.settings.retention_months)
    return render(
        "admin/meetings.html",
        status,
        dates=[{"iso": d.isoformat(), "words": long_date(d)} for d in plan.meeting_dates],
        ack_working_days=plan.ack_working_days,
        kept=kept,
        meeting=MEETING,
        ack=ACK_DAYS,
        keep=RETENTION,
        form=request.form if errors else None,
        errors=errors or {},
    )


@admin.get("/admin/meetings")
@requires(roles=[ADMIN])
def meeting_page() -> Response:
    return _meetings_page()


def _schedule_change(question: Question, change: Any) -> Response:
    """Run one change of the meetings page; a refusal shows the page again at its answer."""
    code = admin_area()
    try:
        with node().sessions() as db:
            change(db, current_principal(), code)
    except Invalid as exc:
        found = problems(exc.errors or {}, [question]) if exc.errors else {}
        message = next(iter(found.values()), exc.detail)
        return _meetings_page(422, {question.path: message})
    return go("admin.meeting_page")


@admin.post("/admin/meetings/add")
@requires(roles=[ADMIN])
def add_meeting() -> Response:
    day = read_answers(request.form, [MEETING]).get("date")
    if day is None:
        return _meetings_page(400, {"date": "Enter the meeting date"})
    try:
        chosen = datetime.fromisoformat(str(day)).date()
    except ValueError:
        return _meetings_page(400, {"date": "The meeting date must be a real date"})
    if chosen < utcnow().date():
        return _meetings_page(400, {"date": "The meeting date must be today or in the future"})
    return _schedule_change(
        MEETING,
        lambda db, who, code: meetings.set_meetings(db, who, code, now=utcnow(), add=[chosen]),
    )


@admin.post("/admin/meetings/remove")
@requires(roles=[ADMIN])
def remove_meeting() -> Response:
    try:
        chosen = datetime.fromisoformat(request.form.get("date", "")).date()
    except ValueError:
        return _meetings_page(400, {FORM: "Choose a meeting date from the list to remove"})
    return _schedule_change(
        MEETING,
        lambda db, who, code: meetings.set_meetings(db, who, code, now=utcnow(), remove=[chosen]),
    )


def _whole_number(question: Question) -> int | Response:
    value = read_answers(request.form, [question]).get(question.path)
    if value is None:
        return _meetings_page(400, {question.path: f"Enter {question.noun}"})
    if not isinstance(value, int):
        return _meetings_page(400, {question.path: f"Enter {question.noun} as a whole number"})
    return value


@admin.post("/admin/settings")
@requires(roles=[ADMIN])
def set_ack_limit() -> Response:
    days = _whole_number(ACK_DAYS)
    if isinstance(days, Response):
        return days
    if not 1 <= days <= 20:
        return _meetings_page(
            422, {ACK_DAYS.path: "Enter a number of working days between 1 and 20"}
        )
    return _schedule_change(
        ACK_DAYS,
        lambda db, who, code: meetings.set_settings(
            db, who, code, now=utcnow(), ack_working_days=days
        ),
    )


@admin.post("/admin/retention")
@requires(roles=[ADMIN])
def set_retention() -> Response:
    months = _whole_number(RETENTION)
    if isinstance(months, Response):
        return months
    if not 1 <= months <= retention.MAX_MONTHS:
        return _meetings_page(422, {RETENTION.path: "Enter a number of months between 1 and 1200"})
    return _schedule_change(
        RETENTION,
        lambda db, who, code: retention.set_area_retention(db, who, code, months, now=utcnow()),
    )
