"""Outbound HTTP to peer nodes: timeouts always, certificate verification on by default."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import httpx

USER_AGENT = "marac-gateway/1"
MAX_RESPONSE_BYTES = 1_000_000  # a receipt or bundle is a few hundred bytes


class PeerUnreachable(Exception):
    """The peer could not be reached or did not answer in time (always retryable)."""


@dataclass(frozen=True)
class PeerResponse:
    status: int
    body: bytes
    content_type: str


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_peer_url(url: str) -> None:
    """Case data only travels over TLS, except to this machine (the demo and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_url(url)):
        if parts.query or parts.fragment or parts.username:
            raise ValueError("a node URL has no query, fragment or credentials")
        return
    raise ValueError("a node URL must use https (plain http only on loopback)")


class PeerClient:
    def __init__(
        self,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        verify: bool | str = True,
    ) -> None:
        self._timeout, self._connect_timeout = timeout, connect_timeout
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            verify=verify,
            follow_redirects=False,  # a redirect could carry a token to another host
            headers={"User-Agent": USER_AGENT},
        )

    def post(
        self, url: str, body: bytes, token: str, accept: str | None = None, *, items: int = 1
    ) -> PeerResponse:
        """`items`: how many envelopes the body carries; the peer is given the timeout for
        each, as it answers a batch only once all of it is stored."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if accept is not None:
            headers["Accept"] = accept
        timeout = None
        if items > 1:
            timeout = httpx.Timeout(self._timeout * items, connect=self._connect_timeout)
        return self._send("POST", url, body, headers, timeout)

    def get(self, url: str) -> PeerResponse:
        return self._send("GET", url, None, {"Accept": "application/json"})

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: httpx.Timeout | None = None,
    ) -> PeerResponse:
        check_peer_url(url)
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            with self._client.stream(
                method, url, content=body, headers=headers, **options
            ) as response:
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise PeerUnreachable("peer answer too large")
                return PeerResponse(
                    response.status_code, data, response.headers.get("content-type", "")
                )
        except httpx.HTTPError as exc:
            # The exception text can hold the URL; only its class is kept.
            raise PeerUnreachable(type(exc).__name__) from exc

    def close(self) -> None:
        self._client.close()
