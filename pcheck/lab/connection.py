"""One client connection of the local site, and the behaviours a route can ask of it (drip, hang, reset...).

Every slow behaviour stops by itself after MAX_BEHAVIOUR_S: nothing the lab does is unbounded.
"""

from __future__ import annotations

import asyncio
import collections
import http
import socket
import struct
import time
from dataclasses import dataclass
from typing import Protocol

DRIP_INTERVAL_S = 0.1
#: Between interim (1xx) responses and the final one, as a server computing its answer after Early Hints.
INTERIM_PAUSE_S = 0.05
#: Every slow behaviour stops by itself after this, so nothing the lab does is unbounded.
MAX_BEHAVIOUR_S = 60.0
CHUNK = 64 * 1024
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the lab saw it (Lab.log)."""

    address: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    #: When the request arrived (time.monotonic()).
    at: float = 0.0


@dataclass
class HostStats:
    """One host address's counters (`Lab.stats`), kept by the connections made to it and the routes."""

    requests: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    #: Bytes of streamed bodies written (/bytes, /endless, /redirect-endless-body): what a client downloaded, at most.
    body_bytes: int = 0
    #: 429s answered by /rate (requests over the host's rate) and /every-other.
    refused: int = 0
    #: TLS connections that resumed an earlier session (an abbreviated handshake); the rest were full ones.
    tls_resumed: int = 0


class Site(Protocol):
    """What a connection needs of the site that accepted it (`site.Lab`, which imports this module)."""

    stats: dict[str, HostStats]
    log: collections.deque[LoggedRequest]
    _connections: set[Connection]

    def respond(self, conn: Connection, method: str, target: str) -> None: ...


_REASONS = {s.value: s.phrase for s in http.HTTPStatus}
_simple_cache: dict[tuple[int, bool], bytes] = {}


def _head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection(asyncio.Protocol):
    """One client connection; requests on it are answered one after another (keep-alive)."""

    def __init__(self, lab: Site) -> None:
        self.lab = lab
        self.buffer = b""
        self.busy = False  # a request is being answered
        self.close_after = False
        self.headers: tuple[tuple[str, str], ...] = ()  # the request being answered: its headers (routes read them)
        self.task: asyncio.Task | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.address = transport.get_extra_info("sockname")[0]
        self.stats = self.lab.stats[self.address]
        self.stats.connections += 1
        tls = transport.get_extra_info("ssl_object")
        if tls is not None and tls.session_reused:
            self.stats.tls_resumed += 1
        self.lab._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lab._connections.discard(self)
        if self.task is not None:
            self.task.cancel()
        if self.busy:
            self._finish(close=True)
        self.can_write.set()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        while not self.busy and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
            request_line, *header_lines = head.split("\r\n")
            try:
                method, target, version = request_line.split(" ")
            except ValueError:
                self.transport.close()
                return
            headers = tuple((k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines))
            self.close_after = version != "HTTP/1.1" or any(
                k.lower() == "connection" and v.lower() == "close" for k, v in headers
            )
            self.lab.log.append(LoggedRequest(self.address, method, target, headers, time.monotonic()))
            self.headers = headers
            self.busy = True
            stats = self.stats
            stats.requests += 1
            stats.in_flight += 1
            if stats.in_flight > stats.max_in_flight:
                stats.max_in_flight = stats.in_flight
            self.lab.respond(self, method, target)

    def _finish(self, close: bool = False) -> None:
        self.busy = False
        self.task = None
        self.stats.in_flight -= 1
        if close or self.close_after:
            self.transport.close()

    # -- ways to answer --------------------------------------------------------
    def simple(self, status: int, head: bool, headers: list[tuple[str, str]] | None = None, body: bytes | None = None) -> None:
        bodiless = status < 200 or status in (204, 304)  # RFC 9110: these never carry a body
        if headers is None and body is None:
            key = (status, head)
            data = _simple_cache.get(key)
            if data is None:
                body = b"" if bodiless else b"ok" if status == 200 else str(status).encode()
                data = _simple_cache[key] = _head(status, [("Content-Type", "text/plain")], len(body)) + (b"" if head else body)
        else:
            body = b"" if bodiless else body if body is not None else str(status).encode()
            data = _head(status, headers or [], len(body)) + (b"" if head else body)
        if self.transport.is_closing():
            return
        self.transport.write(data)
        self._finish()
        if self.buffer:
            self._next()

    def interim(self, status: int, headers: list[tuple[str, str]]) -> None:
        """An informational (1xx) response: a status line and headers, never a body."""
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", *(f"{k}: {v}" for k, v in headers)]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def later(self, delay: float, then) -> None:  # type: ignore[no-untyped-def]
        async def wait() -> None:
            await asyncio.sleep(delay)
            self.task = None
            then()

        self.start(wait())

    def start(self, coro) -> None:  # type: ignore[no-untyped-def]
        self.task = asyncio.ensure_future(coro)

    def reset(self) -> None:
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close sends RST, as a hostile middlebox would
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def abort(self) -> None:
        self.transport.abort()

    async def hang(self) -> None:
        await asyncio.sleep(MAX_BEHAVIOUR_S)
        self.transport.close()

    async def drip_headers(self) -> None:
        self.transport.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        for _ in range(int(MAX_BEHAVIOUR_S / DRIP_INTERVAL_S)):
            await asyncio.sleep(DRIP_INTERVAL_S)
            self.transport.write(b"x")
        self.transport.close()

    async def drip_body(self, head: bool, headers: list[tuple[str, str]] | None = None, first: bytes = b"") -> None:
        """200 at once; `first` at once, then a body byte every DRIP_INTERVAL_S (1000 of them announced)."""
        self.transport.write(_head(200, headers or [], len(first) + 1000))
        if head:
            return self._finish()
        self.transport.write(first)
        for _ in range(int(MAX_BEHAVIOUR_S / DRIP_INTERVAL_S)):
            await asyncio.sleep(DRIP_INTERVAL_S)
            self.transport.write(b"x")
        self.transport.close()

    async def body(self, status: int, length: int | None, head: bool, headers: list[tuple[str, str]] | None = None) -> None:
        """A streamed body: `length` bytes, or endless chunks when None, written only as fast as read."""
        self.transport.write(_head(status, headers or [], length))
        if head:
            return self._finish()
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + MAX_BEHAVIOUR_S
        left = length
        zeros = bytes(CHUNK)
        chunk = f"{CHUNK:x}\r\n".encode() + zeros + b"\r\n"
        while (left is None or left > 0) and loop.time() < stop_at:
            await self.can_write.wait()
            if self.transport.is_closing():
                return
            if left is None:
                self.transport.write(chunk)
                self.lab.stats[self.address].body_bytes += CHUNK
            else:
                n = min(left, CHUNK)
                self.transport.write(zeros[:n])
                self.lab.stats[self.address].body_bytes += n
                left -= n
        if left == 0:
            return self._finish()
        self.transport.close()


