"""The WSGI app for servers run by hand, from the installed package:
`gunicorn -c deploy/gunicorn.conf.py gateway.wsgi:app`. `marac-gateway serve` is the
usual way: it runs the start-up checks first (gateway/readiness.py)."""

from gateway.app import create_app
from gateway.config import Settings
from gateway.serve import settle_heap

app = create_app(Settings.from_env())
settle_heap()
