"""A transport without sockets, in the spirit of httpx's MockTransport, for the Checker's own rules.

The Checker asks its transport for one request at a time (`fetch(method, url, headers, deadline,
page_limit, sink_for) -> Hop`, see pcheck/check/transport.py) and never follows anything itself but
redirects. `FakeTransport(handler)` answers every request from `handler(method, url, headers)`, which
returns a `Reply` (or raises, as the real transport does: an exception becomes an error verdict through
the Checker's own `classify`). Every request is kept in `.requests`, headers as sent.

    def site(method, url, headers):
        return Reply(405) if method == "HEAD" else Reply(200)

    checker = fake_checker(site)              # the fixture in conftest.py
    assert checker.check("http://a.test/").method == "GET"

`NoWaits` is the Checker's stop event with waits that return at once and are kept in `.waits`:
a retry after `Retry-After: 1` costs no second, and the test can say which wait was asked for.

What the fake cannot stand in for stays on the local site: deadlines and slow servers, connection
errors, TLS, proxies, kept-alive connections, bodies that must not be downloaded, and how the real
transport reads headers (Retry-After, RateLimit-*, cf-mitigated), which the fake only mirrors.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from requests.structures import CaseInsensitiveDict

from pcheck.check.pages import Page, SinkFor, read_page
from pcheck.check.transport import Hop


@dataclass(frozen=True)
class Reply:
    """What the fake site answers to one request: a status, headers and (for a page asked for) a body."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, {"Location": location})


class Request(NamedTuple):
    """One request the Checker made, as it made it."""

    method: str
    url: str
    headers: dict[str, str]


Handler = Callable[[str, str, dict[str, str]], Reply]


class _Body:
    """The little of urllib3's HTTPResponse that read_page uses: headers, and read(n)."""

    def __init__(self, reply: Reply) -> None:
        self.headers = CaseInsensitiveDict(reply.headers)
        self._bytes = io.BytesIO(reply.body)

    def read(self, amt: int, decode_content: bool = False) -> bytes:
        return self._bytes.read(amt)


class FakeTransport:
    """Stands in for pcheck.check.transport.Transport: the same methods, answering from `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        #: The real transport's shortage clock, which the Checker keeps on it (see Checker._attempt_within_means).
        self.short_since: float | None = None
        self.idle_closes = 0
        self.closed = False
        self._lock = threading.Lock()

    def fetch(self, method: str, url: str, headers: dict[str, str], deadline: float,
              page_limit: int | None = None, sink_for: SinkFor | None = None, body_s: float | None = None) -> Hop:
        """One request, answered by the handler: a Hop made from its Reply as the real transport makes one."""
        with self._lock:
            self.requests.append(Request(method, url, dict(headers)))
        reply = self.handler(method, url, headers)  # may raise, as the real transport does
        answered = CaseInsensitiveDict(reply.headers)
        left = answered.get("RateLimit-Remaining") or answered.get("X-RateLimit-Remaining")
        page: Page | None = None
        if page_limit is not None and 200 <= reply.status < 300:
            page = read_page(_Body(reply), page_limit, sink_for)  # type: ignore[arg-type]
        return Hop(
            reply.status,
            answered.get("Location"),
            answered.get("Retry-After"),
            answered.get("cf-mitigated", "").lower() == "challenge",
            (answered.get("RateLimit-Reset") or answered.get("X-RateLimit-Reset") or "")
            if left is not None and left.strip() == "0" else None,
            page,
        )

    def close_idle(self) -> None:
        self.idle_closes += 1

    def close(self) -> None:
        self.closed = True

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


class NoWaits(threading.Event):
    """A stop event whose waits return at once (not stopped) and are recorded: retries without sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()
