"""The local site's server: an asyncio loop on 127.0.0.1..N, its counters and its routes (see pcheck.lab)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import gzip
import html
import json
import socket
import ssl
import sys
import threading
from dataclasses import asdict
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import parse_qs, parse_qsl, unquote

from pcheck.lab import crawlsite, soft404site
from pcheck.lab.connection import INTERIM_PAUSE_S, Connection, HostStats, LoggedRequest

REQUEST_LOG_SIZE = 10_000
MAX_HOSTS = 250  # 127.0.0.1 ... 127.0.0.250
T = TypeVar("T")


class Lab:
    """The local site. Use as a context manager; it runs in a daemon thread."""

    def __init__(self, hosts: int = 1, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be 1..{MAX_HOSTS}")
        self.ssl_context = ssl_context  # serve HTTPS with this server-side context
        self.addresses = [f"127.0.0.{i}" for i in range(1, hosts + 1)]
        self.port = 0
        self._wanted_port = port  # 0: any port free on every address; else this one, or OSError from start()
        self.stats: dict[str, HostStats] = {a: HostStats() for a in self.addresses}
        self.log: collections.deque[LoggedRequest] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._hits: collections.Counter[str] = collections.Counter()
        self.flips: dict[str, int] = {}  # /flip/<key> answers flips[key], 200 by default
        self._windows: dict[str, collections.deque[float]] = {}  # /rate: request times in the last second, per address
        self._outages: dict[str, float] = {}  # /outage: when the first request to each came
        self._every_other: collections.Counter[str] = collections.Counter()  # /every-other: requests, per address
        self.crawl_hits: collections.Counter[str] = collections.Counter()  # crawl routes: "<address> <method> <kind>"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._thread: threading.Thread | None = None
        self._connections: set[Connection] = set()

    # -- life cycle ---------------------------------------------------------
    def start(self) -> Lab:
        self._loop, self._thread, _ = loop_in_thread(self._listen, "pcheck-lab")
        return self

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(50):  # find one port free on every address
            sockets = []
            try:
                port = self._wanted_port
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
                if self._wanted_port:
                    raise
                continue
            self.port = port
            for sock in sockets:
                self._servers.append(await loop.create_server(lambda: Connection(self), sock=sock, ssl=self.ssl_context))
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

    def _origin(self, conn: Connection) -> str:
        """scheme://address:port as the request came to it (the address it was sent to)."""
        return f"{'https' if self.ssl_context is not None else 'http'}://{conn.address}:{self.port}"

    def snapshot(self) -> dict[str, HostStats]:
        return {a: HostStats(**asdict(s)) for a, s in self.stats.items()}

    def reset_stats(self) -> None:
        for address in self.addresses:
            self.stats[address] = HostStats()
        self.log.clear()
        self.crawl_hits.clear()

    def hits(self, key: str) -> int:
        return self._hits[key]

    def open_connections(self) -> int:
        """Client connections the site holds open right now."""
        return len(list(self._connections))

    def _rate_limited(self, conn: Connection, per_second: int, head: bool) -> None:
        """/rate/<n>/...: at most n requests a second to this host address (a sliding second), else 429."""
        now = asyncio.get_running_loop().time()
        window = self._windows.setdefault(conn.address, collections.deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= per_second:
            self.stats[conn.address].refused += 1
            conn.simple(429, head, [("Retry-After", "1")])
        else:
            window.append(now)
            conn.simple(200, head)

    # -- routing ----------------------------------------------------------------
    def respond(self, conn: Connection, method: str, target: str) -> None:
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
        elif name == "typed-page" and len(args) == 1:  # /typed-page/<ids>?type=T&encoding=E&as=C: see pcheck.lab
            params = dict(parse_qsl(query))
            sent = [(h, params[k]) for k, h in (("type", "Content-Type"), ("encoding", "Content-Encoding")) if k in params]
            conn.simple(200, head, sent, _page(args[0].split(",")).decode().encode(params.get("as", "utf-8")))
        elif name == "slow-page" and args:  # the page at once, then a byte every 0.1 s
            params = dict(parse_qsl(query))
            conn.start(conn.drip_body(head, [("Content-Type", params.get("type", "text/html"))], _page(args[0].split(","))))
        elif name == "page" and len(args) == 1:
            conn.simple(200, head, [("Content-Type", "text/html; charset=utf-8")], _page(args[0].split(",")))
        elif name == "big-page" and len(args) == 2 and args[0].isdigit():
            conn.simple(200, head, [("Content-Type", "text/html")], _page(args[1].split(","), int(args[0])))
        elif name in ("sitemap", "sitemap-index") and (sitemap := _sitemap(name, args, self._origin(conn))):
            body, gz = sitemap
            conn.simple(200, head, [("Content-Type", "application/gzip" if gz else "application/xml")], body)
        elif name == "outage" and len(args) == 2 and args[0].replace(".", "", 1).isdigit():
            now = asyncio.get_running_loop().time()
            began = self._outages.setdefault(f"{conn.address}/{args[1]}", now)  # its first request starts it, for every URL
            conn.simple(503 if now - began < float(args[0]) else 200, head)
        elif name == "rate" and len(args) >= 1 and args[0].isdigit():
            self._rate_limited(conn, int(args[0]), head)
        elif name == "every-other":  # the 1st, 3rd, ... request to this host address: 429, no Retry-After
            self._every_other[conn.address] += 1
            refuse = self._every_other[conn.address] % 2 == 1
            self.stats[conn.address].refused += refuse
            conn.simple(429 if refuse else 200, head)
        elif name == "headers":  # /headers?code=N&Name=value...: status N with those headers (a rate-limit quota)
            params = [(k, v) for k, v in parse_qsl(query) if k not in ("code", "i")]
            conn.simple(int(dict(parse_qsl(query)).get("code", "200")), head, params)
        elif name == "set-cookie-redirect":  # 302 to url with Set-Cookie: name=value (and attributes, if given)
            params = dict(parse_qsl(query))
            cookie = f"{params.get('name', 'c')}={params.get('value', '1')}" + params.get("attrs", "; Path=/")
            conn.simple(302, head, [("Location", params.get("url", "/ok")), ("Set-Cookie", cookie)])
        elif name == "needs-cookie" and len(args) == 1:  # 200 when a Cookie header holds the cookie named, else 403
            sent = [c.strip().partition("=")[0] for k, v in conn.headers if k.lower() == "cookie" for c in v.split(";")]
            conn.simple(200 if args[0] in sent else 403, head)
        elif name == "needs-basic" and len(args) == 2:  # 200 with Authorization: Basic user:password, else 401
            wanted = "Basic " + base64.b64encode(f"{args[0]}:{args[1]}".encode()).decode()
            ok = any(k.lower() == "authorization" and v == wanted for k, v in conn.headers)
            conn.simple(200 if ok else 401, head, None if ok else [("WWW-Authenticate", 'Basic realm="lab"')])
        elif name == "wayback" and args == ["available"]:  # a fake of the Wayback Machine's availability API
            body = _wayback(dict(parse_qsl(query)), self._origin(conn))
            conn.simple(200, head, [("Content-Type", "application/json")], body)
        elif name == "web" and len(args) >= 2:  # a snapshot the fake API names
            conn.simple(200, head, [("Content-Type", "text/html; charset=utf-8")], _page(["archived"]))
        elif name in crawlsite.CRAWL_ROUTES or (name == "__lab" and args == ["crawl"]):  # trees, robots.txt, traps
            crawlsite.respond(self, conn, method, name, args, query)
        elif name == soft404site.SOFT_ROUTE and args:  # a host that serves soft 404s
            soft404site.respond(conn, method, args, path)
        elif name == "challenge":
            conn.simple(403, head, [("cf-mitigated", "challenge")])
        elif name == "__lab" and args == ["stats"]:
            body = json.dumps({a: asdict(s) for a, s in self.stats.items()}).encode()
            conn.simple(200, head, [("Content-Type", "application/json")], body)
        else:
            conn.simple(404, head)


def loop_in_thread(listen: Callable[[], Awaitable[T]], name: str) -> tuple[asyncio.AbstractEventLoop, threading.Thread, T]:
    """A new event loop in a daemon thread: `listen()` runs first (its result returned, its error raised
    here), then the loop runs until stopped. For the site and the lab's proxy."""
    ready = threading.Event()
    started: dict[str, Any] = {}

    def run() -> None:
        loop = started["loop"] = asyncio.new_event_loop()
        try:
            started["value"] = loop.run_until_complete(listen())
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            started["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError(f"{name} did not start within 10 s")
    if "error" in started:
        raise started["error"]
    return started["loop"], thread, started["value"]


def _page(ids: list[str], filler: int = 0) -> bytes:
    """An HTML page whose anchors are `ids` (an `id` each, and `name=` for those starting with `n:`),
    after `filler` bytes of text (at most 64 MiB)."""
    parts = [f"<p>{'x' * min(filler, 64 << 20)}</p>"] if filler else []
    for anchor in filter(None, ids):
        if anchor.startswith("n:"):
            parts.append(f'<a name="{html.escape(anchor[2:])}"></a>')
        else:
            parts.append(f'<h2 id="{html.escape(anchor)}">{html.escape(anchor)}</h2>')
    return ("<!doctype html><html><body>" + "".join(parts) + "</body></html>").encode()


#: The largest sitemaps the lab serves: URLs in a /sitemap (sitemaps.org's cap), sitemaps in a /sitemap-index.
MAX_SITEMAP_URLS = 50_000
MAX_SITEMAP_CHILDREN = 1_000


def _sitemap(name: str, args: list[str], origin: str) -> tuple[bytes, bool] | None:
    """/sitemap/[name-]<n>.xml[.gz]: a urlset of n URLs of this lab, one a line from line 3, gzipped for .gz;
    /sitemap-index/<k>/<n>.xml[.gz]: an index of k such sitemaps (/sitemap/<n>.xml?part=<j>). None: no such route."""
    gz = args[-1].endswith(".xml.gz")
    stem = args[-1][: -len(".xml.gz" if gz else ".xml")] if gz or args[-1].endswith(".xml") else ""
    digits = stem[len(stem.rstrip("0123456789")):]
    if not digits or int(digits) > MAX_SITEMAP_URLS:
        return None
    n = int(digits)
    if name == "sitemap" and len(args) == 1:
        root, entries = "urlset", [f"<url><loc>{origin}/ok?s={i}</loc></url>" for i in range(n)]
    elif name == "sitemap-index" and len(args) == 2 and args[0].isdigit() and int(args[0]) <= MAX_SITEMAP_CHILDREN:
        root = "sitemapindex"
        entries = [f"<sitemap><loc>{origin}/sitemap/{n}.xml?part={j}</loc></sitemap>" for j in range(int(args[0]))]
    else:
        return None
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "".join(entry + "\n" for entry in entries) + f"</{root}>\n").encode()
    return (gzip.compress(body, mtime=0) if gz else body), gz


def _wayback(params: dict[str, str], origin: str) -> bytes:
    """The availability API's answer for `url` at `timestamp` (see pcheck.lab: the URL's words choose it)."""
    url, asked = params.get("url", ""), params.get("timestamp", "20200101000000")
    if "no-snapshot" in url:
        return json.dumps({"url": url, "archived_snapshots": {}}).encode()
    stamp = str(int(asked) + 10**10) if "snapshot-later" in url else asked  # a year after the time asked
    copy = f"{origin}/status/404?copy" if "snapshot-dead" in url else f"{origin}/web/{stamp}/{url}"
    closest = {"status": "404" if "snapshot-404" in url else "200", "available": True, "url": copy, "timestamp": stamp}
    return json.dumps({"url": url, "archived_snapshots": {"closest": closest}}).encode()


def _hosts(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_HOSTS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hosts from 1 to {MAX_HOSTS}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """`python -m pcheck.lab [HOSTS] [--tls CERT_CHAIN_PEM KEY_PEM]`: serve (HTTPS with --tls) until stdin
    closes; print the port and the scheme as JSON first. --help: the usage, exit 0; a bad argument: exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m pcheck.lab", description="Serve pcheck's local test site on 127.0.0.1..HOSTS, one port for all, "
        "until stdin closes. The first line printed is JSON: the port, the addresses and the scheme.")
    parser.add_argument("hosts", nargs="?", type=_hosts, default=1, metavar="HOSTS",
                        help=f"how many loopback addresses to serve, 1 to {MAX_HOSTS} (default 1)")
    parser.add_argument("--tls", nargs=2, metavar=("CERT_CHAIN_PEM", "KEY_PEM"), help="serve HTTPS with this certificate and key")
    args = parser.parse_args(argv)  # None: sys.argv[1:]
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(*args.tls)
        except (OSError, ssl.SSLError) as e:
            parser.error(f"--tls: {e}")
    with Lab(args.hosts, ssl_context=context) as lab:
        print(json.dumps({"port": lab.port, "addresses": lab.addresses, "scheme": "https" if context else "http"}),
              flush=True)
        sys.stdin.read()  # the parent closes stdin (or dies) to stop us
    return 0
