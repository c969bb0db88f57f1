"""The pages the project's own problem `type` URIs resolve to: what the problem means and
what to do about it (RFC 9457 section 3.1.1: a type URI should resolve to documentation)."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from gateway.errors import PROBLEM_TYPES, NotFound

problems = Blueprint("problems", __name__)


@problems.get("/problems/", defaults={"slug": ""})
@problems.get("/problems/<slug>")
def problem_type(slug: str) -> Response | str:
    if not slug:
        return render_template("problem_types.html", types=sorted(PROBLEM_TYPES.items()))
    found = PROBLEM_TYPES.get(slug)
    if found is None:
        raise NotFound("There is no problem type of that name.")
    return render_template("problem_type.html", slug=slug, problem=found)
