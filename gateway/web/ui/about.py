"""Pages about the service itself, public (no sign-in): the accessibility statement and
the cookies page (the one essential session cookie, gateway/web/sessions.py). Linked from
every page's footer.

Pages:
  /accessibility   "Accessibility statement"   everyone
  /cookies         "Cookies"                   everyone
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from gateway.web import node
from gateway.web.sessions import COOKIE
from gateway.web.ui.pages import render

about = Blueprint("about", __name__)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


@about.get("/accessibility")
def accessibility() -> Response:
    return render("about/accessibility.html")


@about.get("/cookies")
def cookies() -> Response:
    settings = node().settings
    return render(
        "about/cookies.html",
        cookie=COOKIE,
        idle=_duration(settings.session_idle_timeout),
        absolute=_duration(settings.session_absolute_timeout),
    )
