"""Prometheus metrics (served at /metrics to the scraper holding GATEWAY_METRICS_TOKEN).

Two kinds:
- Events counted where they happen, with prometheus-client: HTTP requests and their
  latency by route template (never the raw path), delivery attempts by outcome and reason,
  receipts, flag lookups, the worker's heartbeat. Under gunicorn each worker is its own
  process, so with PROMETHEUS_MULTIPROC_DIR set (a directory emptied at boot, shared by
  `serve` and `worker` on one host) every process writes its values there and a scrape
  adds them up; without it a scrape sees the answering process only.
- Gauges read from the database at scrape time, so they are right whichever process
  answers: outbox items by status, pending items and the age of the oldest per receiving
  area, transfers by direction and status.

Labels are fixed words, route templates, HTTP statuses and area codes: never a person, an
email, a case reference or an id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters.db import is_outage
from gateway.domain.clock import utcnow
from gateway.domain.federation import delivery
from gateway.domain.federation.delivery import Outcome
from gateway.node import Node

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "gateway_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
DELIVERY_ATTEMPTS = Counter(
    "gateway_delivery_attempts",
    "Envelope deliveries tried by the worker, by outcome (delivered, retry, failed) and"
    " reason (unreachable, http_<status>, bad_receipt, sending_key_gone; empty when delivered).",
    ["outcome", "reason"],
)
RECEIPTS = Counter(
    "gateway_receipts",
    "Signed receipts: received from peers for our envelopes, issued by us for theirs.",
    ["direction"],
)
FLAG_LOOKUPS = Counter(
    "gateway_flag_lookups",
    "Flag lookups answered, by whether anything matched.",
    ["result"],
)


@cache
def _heartbeat() -> Gauge:
    """Made on the worker's first pass, not at import: in multiprocess mode a metric
    without labels opens its file when it is made, and a command-line verb (say `db
    upgrade` in a read-only container) must not need the metrics directory."""
    return Gauge(
        "gateway_worker_heartbeat_timestamp_seconds",
        "When a worker last finished a pass (Unix time); alert when it falls behind.",
        multiprocess_mode="max",
    )


def metrics_directory_problems(env: Mapping[str, str]) -> list[str]:
    """PROMETHEUS_MULTIPROC_DIR, when set, must be a directory this process can write."""
    path = env.get(MULTIPROC_ENV)
    if path and not (os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)):
        return [f"{MULTIPROC_ENV}: {path} is not a writable directory"]
    return []


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "OTHER"
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_delivery(outcome: Outcome) -> None:
    word = "delivered" if outcome.delivered else "failed" if outcome.final else "retry"
    DELIVERY_ATTEMPTS.labels(word, outcome.reason).inc()
    if outcome.delivered and not outcome.reason:  # not one settled before (a lease race)
        RECEIPTS.labels("received").inc()


def receipt_issued() -> None:
    RECEIPTS.labels("issued").inc()


def flag_lookup(matched: bool) -> None:
    FLAG_LOOKUPS.labels("match" if matched else "no_match").inc()


def worker_heartbeat() -> None:
    _heartbeat().set_to_current_time()


class DatabaseCollector(Collector):
    """Gauges computed from the database when scraped (counts and ages only)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        up = GaugeMetricFamily("gateway_database_up", "1 if the database answered this scrape.")
        try:
            with self.node.sessions() as session:
                outbox, transfers = delivery.counts(session)
                backlog = delivery.backlog_by_peer(session)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The processes' own metrics still matter most while the database is away.
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_status = GaugeMetricFamily(
            "gateway_outbox_items", "Outbox items by status.", labels=["status"]
        )
        for status, count in outbox:
            by_status.add_metric([status], count)
        yield by_status
        pending = GaugeMetricFamily(
            "gateway_outbox_pending", "Envelopes waiting for delivery, by peer.", labels=["peer"]
        )
        oldest = GaugeMetricFamily(
            "gateway_outbox_oldest_age_seconds",
            "Age of the oldest envelope waiting for delivery, by peer.",
            labels=["peer"],
        )
        for found in backlog:
            pending.add_metric([found.peer_area], found.pending)
            oldest.add_metric([found.peer_area], max(0.0, (now - found.oldest).total_seconds()))
        yield pending
        yield oldest
        moved = GaugeMetricFamily(
            "gateway_transfers",
            "Transfers by direction and status.",
            labels=["direction", "status"],
        )
        for direction, status, count in transfers:
            moved.add_metric([direction, status], count)
        yield moved


def exposition(node: Node) -> tuple[bytes, str]:
    """The text a scrape gets: the processes' counters and the database's gauges."""
    database = CollectorRegistry(auto_describe=True)
    database.register(DatabaseCollector(node))
    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        # Process metrics (memory, CPU, open files) of the process that answered.
        ProcessCollector(registry=processes)
        events = generate_latest(processes)
    else:
        events = generate_latest(REGISTRY)
    return events + generate_latest(database), CONTENT_TYPE_LATEST
