# gunicorn settings for `marac-gateway serve --config deploy/gunicorn.conf.py` (or
# GATEWAY_GUNICORN_CONFIG=...), or for `gunicorn -c deploy/gunicorn.conf.py gateway.wsgi:app`.
# Names are gunicorn's own (https://docs.gunicorn.org/en/stable/settings.html). What is not
# set here keeps the gateway's default (gateway/serve.py: gthread workers with 4 threads,
# JSON log lines, request ids on access lines); GUNICORN_CMD_ARGS and `serve --host/--port/
# --workers` override this file.
import multiprocessing
import os

# Behind the TLS proxy on the same host or network; the proxy alone is public.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Two per core is plenty: requests mostly wait on PostgreSQL and peers.
workers = int(os.environ.get("GUNICORN_WORKERS", min(8, 2 * multiprocessing.cpu_count())))
threads = 4
timeout = 60
graceful_timeout = 20
# A worker recycles after this many requests (and some jitter), bounding slow leaks.
max_requests = 5000
max_requests_jitter = 500
# With a read-only root file system, gunicorn's heartbeat files go to a tmpfs.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm")  # noqa: S108
# The proxy in front sets X-Forwarded-*; the gateway reads them itself
# (GATEWAY_TRUSTED_PROXIES), so gunicorn's own handling is left off.
forwarded_allow_ips = "127.0.0.1"
