"""Thin web layers: they parse HTTP, call a domain service, and render its answer."""

from __future__ import annotations

from flask import current_app

from gateway.node import Node


def node() -> Node:
    found = current_app.extensions["gateway.node"]
    if not isinstance(found, Node):
        raise RuntimeError("the app has no gateway node")
    return found
