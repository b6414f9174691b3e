"""The embedded local test site: every behaviour pcheck must classify, on loopback only.

One asyncio loop listens on 127.0.0.1 ... 127.0.0.N (Linux routes all of
127.0.0.0/8 to the loopback interface), one port for all, so tests and
benchmarks get many "hosts" with no network. Per host it counts connections,
requests and concurrent requests, which is how tests prove keep-alive and
--max-per-host. Routes (any query string is ignored, so `?i=1` makes URLs distinct):

  /ok                       200                /status/<code>         that status
  /delay/<ms>               200 after ms       /redirect/<n>          n hops of 302, then 200
  /loop/a/<k>, /loop/b/<k>  a 302 loop         /redirect-to?url=U     302 to U
  /hang                     never answers      /drip-headers          a header byte every 0.1 s
  /drip-body                body byte per 0.1 s /bytes/<n>            n-byte streamed body
  /endless                  endless chunked    /redirect-endless-body 302 to /ok, endless body
  /head-refused             405 to HEAD        /reset-on-head         RST on HEAD, 200 on GET
  /retry-after/<v>/<k>      429 Retry-After v once per k, then 200
  /flaky/<n>/<k>            503 n times per k, then 200
  /challenge                403 with cf-mitigated: challenge
  /flip/<k>                 lab.flips[k] (200 until a test sets it)
  /interim/<i>/<code>       interim responses i (e.g. 103 or 100,102,103) with headers, a pause, then code
  /status-line/<text>       a status line `HTTP/1.1 <text> Odd` as written ('+200', '2_00'), no body
  /__lab/stats              the counters as JSON
"""

from __future__ import annotations

import asyncio
import collections
import http
import json
import socket
import ssl
import struct
import sys
import threading
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, unquote

DRIP_INTERVAL_S = 0.1
#: Between interim (1xx) responses and the final one, as a server computing its answer after Early Hints.
INTERIM_PAUSE_S = 0.05
#: Every slow behaviour stops by itself after this, so nothing the lab does is unbounded.
MAX_BEHAVIOUR_S = 60.0
CHUNK = 64 * 1024
REQUEST_LOG_SIZE = 10_000
_MAX_HEAD = 64 * 1024


@dataclass
class HostStats:
    requests: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    address: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]


class Lab:
    """The local site. Use as a context manager; it runs in a daemon thread."""

    def __init__(self, hosts: int = 1, ssl_context: ssl.SSLContext | None = None) -> None:
        if not 1 <= hosts <= 250:
            raise ValueError("hosts must be 1..250")
        self.ssl_context = ssl_context  # serve HTTPS with this server-side context
        self.addresses = [f"127.0.0.{i}" for i in range(1, hosts + 1)]
        self.port = 0
        self.stats: dict[str, HostStats] = {a: HostStats() for a in self.addresses}
        self.log: collections.deque[LoggedRequest] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._hits: collections.Counter[str] = collections.Counter()
        self.flips: dict[str, int] = {}  # /flip/<key> answers flips[key], 200 by default
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._thread: threading.Thread | None = None
        self._connections: set[_Connection] = set()

    # -- life cycle ---------------------------------------------------------
    def start(self) -> Lab:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="pcheck-lab", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("lab did not start within 10 s")
        if errors:
            raise errors[0]
        return self

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(50):  # find one port free on every address
            sockets = []
            try:
                port = 0
                for address in self.addresses:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sockets.append(sock)
                    sock.bind((address, port))
                    port = sock.getsockname()[1]
                    sock.listen(1024)
                    sock.setblocking(False)
            except OSError:
                for sock in sockets:
                    sock.close()
                continue
            self.port = port
            for sock in sockets:
                self._servers.append(await loop.create_server(lambda: _Connection(self), sock=sock, ssl=self.ssl_context))
            return
        raise RuntimeError("no port free on all lab addresses")

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for conn in list(self._connections):
                conn.abort()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests, benchmarks and the demo ---------------------------
    def base(self, host: int = 0) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.addresses[host]}:{self.port}"

    def url(self, path: str, host: int = 0) -> str:
        return self.base(host) + "/" + path.lstrip("/")

    def snapshot(self) -> dict[str, HostStats]:
        return {a: HostStats(**asdict(s)) for a, s in self.stats.items()}

    def reset_stats(self) -> None:
        for address in self.addresses:
            self.stats[address] = HostStats()
        self.log.clear()

    def hits(self, key: str) -> int:
        return self._hits[key]

    def open_connections(self) -> int:
        """Client connections the site holds open right now."""
        return len(list(self._connections))

    # -- routing ----------------------------------------------------------------
    def respond(self, conn: _Connection, method: str, target: str) -> None:
        path, _, query = target.partition("?")
        parts = [unquote(p) for p in path.strip("/").split("/")]
        name, args = parts[0], parts[1:]
        head = method == "HEAD"
        if name in ("", "ok"):
            conn.simple(200, head)
        elif name == "status" and args and args[0].isdigit():
            conn.simple(int(args[0]), head)
        elif name == "delay" and args and args[0].isdigit():
            conn.later(int(args[0]) / 1000, lambda: conn.simple(200, head))
        elif name == "redirect" and args and args[0].isdigit():
            n = int(args[0])
            suffix = "?" + query if query else ""
            if n > 0:
                conn.simple(302, head, [("Location", f"/redirect/{n - 1}{suffix}")])
            else:
                conn.simple(200, head)
        elif name == "loop" and len(args) == 2 and args[0] in ("a", "b"):
            other = "b" if args[0] == "a" else "a"
            conn.simple(302, head, [("Location", f"/loop/{other}/{args[1]}")])
        elif name == "redirect-to":
            params = parse_qs(query)
            code = int(params.get("code", ["302"])[0])
            conn.simple(code, head, [("Location", params.get("url", ["/ok"])[0])])
        elif name == "hang":
            conn.start(conn.hang())
        elif name == "drip-headers":
            conn.start(conn.drip_headers())
        elif name == "drip-body":
            conn.start(conn.drip_body(head))
        elif name == "bytes" and args and args[0].isdigit():
            conn.start(conn.body(200, int(args[0]), head))
        elif name == "endless":
            conn.start(conn.body(200, None, head))
        elif name == "redirect-endless-body":
            conn.start(conn.body(302, None, head, [("Location", "/ok")]))
        elif name == "head-refused":
            conn.simple(405 if head else 200, head)
        elif name == "reset-on-head":
            if head:
                conn.reset()
            else:
                conn.simple(200, head)
        elif name == "retry-after" and len(args) == 2:
            self._hits[target] += 1
            if self._hits[target] == 1:
                conn.simple(429, head, [("Retry-After", args[0])])
            else:
                conn.simple(200, head)
        elif name == "flaky" and len(args) == 2 and args[0].isdigit():
            self._hits[target] += 1
            conn.simple(503 if self._hits[target] <= int(args[0]) else 200, head)
        elif name == "flip" and len(args) == 1:
            conn.simple(self.flips.get(args[0], 200), head)
        elif name == "interim" and len(args) == 2 and args[1].isdigit():
            for code in args[0].split(","):
                conn.interim(int(code), [("Link", "</style.css>; rel=preload; as=style")])
            conn.later(INTERIM_PAUSE_S, lambda: conn.simple(int(args[1]), head))
        elif name == "status-line" and len(args) == 1:
            conn.transport.write(f"HTTP/1.1 {args[0]} Odd\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
            conn._finish()
            if conn.buffer:
                conn._next()
        elif name == "challenge":
            conn.simple(403, head, [("cf-mitigated", "challenge")])
        elif name == "__lab" and args == ["stats"]:
            body = json.dumps({a: asdict(s) for a, s in self.stats.items()}).encode()
            conn.simple(200, head, [("Content-Type", "application/json")], body)
        else:
            conn.simple(404, head)


_REASONS = {s.value: s.phrase for s in http.HTTPStatus}
_simple_cache: dict[tuple[int, bool], bytes] = {}


def _head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection; requests on it are answered one after another (keep-alive)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.buffer = b""
        self.busy = False  # a request is being answered
        self.close_after = False
        self.task: asyncio.Task | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.address = transport.get_extra_info("sockname")[0]
        self.stats = self.lab.stats[self.address]
        self.stats.connections += 1
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
            self.lab.log.append(LoggedRequest(self.address, method, target, headers))
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

    async def drip_body(self, head: bool) -> None:
        self.transport.write(_head(200, [], 1000))
        if head:
            return self._finish()
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
            else:
                n = min(left, CHUNK)
                self.transport.write(zeros[:n])
                left -= n
        if left == 0:
            return self._finish()
        self.transport.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m pcheck.lab [HOSTS]`: serve until stdin closes; print the port as JSON first."""
    argv = sys.argv[1:] if argv is None else argv
    hosts = int(argv[0]) if argv else 1
    with Lab(hosts) as lab:
        print(json.dumps({"port": lab.port, "addresses": lab.addresses}), flush=True)
        sys.stdin.read()  # the parent closes stdin (or dies) to stop us
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
