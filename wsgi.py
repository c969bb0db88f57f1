"""`flask --app wsgi <command>` from a checkout; the app itself is gateway/wsgi.py."""

from gateway.wsgi import app

__all__ = ["app"]
