"""What the coordinator pages share (gateway/web/ui/work.py, chair.py, outbound.py): one
way to render a page, to redirect after a change (303), to put a domain refusal into the
layout's error summary, and to link to pages other modules serve."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, redirect, render_template, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from gateway.errors import DomainError, Invalid
from gateway.web.ui.forms import Question, problems
from gateway.web.ui.layout import FORM


def render(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", {})
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def go(endpoint: str, **values: Any) -> Response:
    """Post-redirect-get: every change ends with a 303 to a page that says what happened."""
    return redirect(url_for(endpoint, **values), code=303)


def refusal(exc: DomainError, questions: Iterable[Question] = ()) -> dict[str, str]:
    """The domain's refusal as the page's ErrorMap: a schema's messages at their questions
    in plain English, any other refusal's own (already plain, value-free) detail for the
    form as a whole."""
    if isinstance(exc, Invalid) and exc.errors:
        found = problems(exc.errors, questions)
        return found or {FORM: exc.detail}
    return {FORM: exc.detail}


def url_or(endpoint: str, fallback: str, **values: Any) -> str:
    """The URL of a page another module serves (the case page, the send journey), or the
    address it has by convention when that module is not installed in this build."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


def case_url(transfer_id: str) -> str:
    return url_or("cases.case", f"/cases/{transfer_id}", transfer_id=transfer_id)


def install_page_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(url_or=url_or, case_url=case_url)
