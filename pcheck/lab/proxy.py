"""A small forward proxy on loopback, for tests and benchmarks: what went through it is counted.

Plain http arrives in absolute form (`GET http://host:port/path HTTP/1.1`) and is forwarded in
origin form with `Via: 1.1 pcheck-lab-proxy` added (so the site can tell it came through here),
the answer relayed with its framing kept, so a client's connection to the proxy stays alive.
https arrives as `CONNECT host:port` and is tunnelled byte for byte. With `credentials`, a
request without the matching `Proxy-Authorization: Basic` is answered 407; with `hang`, nothing
is ever answered. Use as a context manager: `with Proxy() as proxy: proxy.url`.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pcheck.lab.site import loop_in_thread

VIA = "1.1 pcheck-lab-proxy"
_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


@dataclass
class Forwarded:
    """One request the proxy took: CONNECT (target host:port) or a forwarded one (its absolute URL)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = field(default=())


class Proxy:
    """The proxy, in a daemon thread. `log` holds what it took, `connections` what it accepted."""

    def __init__(self, host: str = "127.0.0.1", credentials: tuple[str, str] | None = None, hang: bool = False) -> None:
        self.host = host
        self.port = 0
        self.hang = hang
        self.expected = None if credentials is None else "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.log: list[Forwarded] = []
        self.connections = 0
        self.refused = 0  # answered 407
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}{self.host}:{self.port}"

    def __enter__(self) -> Proxy:
        self._loop, self._thread, self._server = loop_in_thread(
            lambda: asyncio.start_server(self._serve, self.host, 0), "pcheck-lab-proxy")
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is None:
            return

        async def stop() -> None:
            self._server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop)
        if self._thread is not None:
            self._thread.join(10)

    # -- serving --------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        upstreams: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        try:
            while True:
                head = await _read_head(reader)
                if head is None:
                    return
                if self.hang:
                    await asyncio.Event().wait()
                method, target, headers = head
                self.log.append(Forwarded(method, target, tuple(headers)))
                if self.expected is not None and _get(headers, "proxy-authorization") != self.expected:
                    self.refused += 1
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Proxy-Authenticate: Basic realm=\"lab\"\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                if not await self._forward(method, target, headers, reader, writer, upstreams):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
            return
        finally:
            for _, up in upstreams.values():
                up.close()
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _forward(self, method: str, target: str, headers: list[tuple[str, str]], reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, upstreams: dict) -> bool:
        """Forward one absolute-form request and relay its answer; False when the client connection must end."""
        parts = urlsplit(target)
        origin = parts.netloc
        if origin not in upstreams:
            try:
                upstreams[origin] = await asyncio.open_connection(parts.hostname, parts.port or 80)
            except OSError:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return True
        up_reader, up_writer = upstreams[origin]
        path = parts.path or "/"
        lines = [f"{method} {path}{'?' + parts.query if parts.query else ''} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP_BY_HOP]
        lines.append(f"Via: {VIA}")
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        length = int(_get(headers, "content-length") or 0)
        if length:
            up_writer.write(await reader.readexactly(length))
        await up_writer.drain()
        while True:  # interim answers first, relayed as they are
            status_line = await up_reader.readline()
            if not status_line:
                return False
            answer = [status_line]
            while True:
                line = await up_reader.readline()
                answer.append(line)
                if line in (b"\r\n", b"\n", b""):
                    break
            writer.write(b"".join(answer))
            status = int(status_line.split()[1])
            if not (100 <= status < 200 and status != 101):
                break
        got = {}
        for raw in answer[1:]:
            name, _, value = raw.decode("latin-1").partition(":")
            got[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (101, 204, 304):
            await writer.drain()
            return status != 101
        if "chunked" in got.get("transfer-encoding", "").lower():
            while True:
                size_line = await up_reader.readline()
                writer.write(size_line)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                writer.write(await up_reader.readexactly(size + 2))
                await writer.drain()
                if size == 0:
                    return True
        if "content-length" in got:
            remaining = int(got["content-length"])
            while remaining:
                chunk = await up_reader.read(min(remaining, 65536))
                if not chunk:
                    return False
                writer.write(chunk)
                remaining -= len(chunk)
                await writer.drain()
            return True
        await _pipe(up_reader, writer)  # close-delimited: the end of the answer ends the connection
        return False


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]]] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            return method, target, headers
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
