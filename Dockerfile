# syntax=docker/dockerfile:1
# The gateway image: `serve` (the default command) and `worker` run from the same image.
#   docker build -t marac-gateway .
#   docker run ... marac-gateway            # the web app (gunicorn) on :8000
#   docker run ... marac-gateway worker     # delivery and the periodic chores
# It runs as an unprivileged user and works with a read-only root file system; what it
# writes goes to mounts (README, "Deploying"): /var/lib/marac-gateway (the instance
# folder: the master key), /run/gateway-metrics (PROMETHEUS_MULTIPROC_DIR, a tmpfs shared
# by serve and worker) and /tmp (a tmpfs: large uploads spool there).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel, then a virtual environment from the hashed lock file -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY keys ./keys
COPY schemas ./schemas
RUN python -m pip wheel --no-deps --wheel-dir /wheels .
COPY requirements.lock ./
# Every dependency pinned and checked against its hash; --no-deps so nothing unlocked
# slips in. Then the gateway's own wheel, built above from this source.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock \
 && /opt/venv/bin/pip install --no-deps /wheels/marac_gateway-*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m compileall -q /opt/venv

# --- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin gateway \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/marac-gateway /run/gateway-metrics
COPY --from=build /opt/venv /opt/venv
COPY deploy/gunicorn.conf.py /etc/marac-gateway/gunicorn.conf.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_INSTANCE_DIR=/var/lib/marac-gateway \
    GATEWAY_GUNICORN_CONFIG=/etc/marac-gateway/gunicorn.conf.py \
    PROMETHEUS_MULTIPROC_DIR=/run/gateway-metrics \
    GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_WORKER_TMP_DIR=/dev/shm
VOLUME ["/var/lib/marac-gateway"]
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["marac-gateway"]
CMD ["serve"]
