"""HTTP for one worker process: a shared keep-alive pool and a hard per-attempt deadline.

`requests`' timeouts bound each socket operation, not the request: a server
that drips one header byte a second never trips them. So every request runs
under a `DeadlineSlot`; a watchdog thread shuts the socket down once the slot's
deadline passes, and a response that arrives after that is discarded (http.client
may take the shutdown's end-of-file for the end of the headers and report 200).

One adapter serves all threads of a process, as Go's `http.Transport` serves
all goroutines: idle connections are shared, so a process holds at most
`threads` sockets per host instead of `threads` x `hosts`.

A kept-alive connection is only as good as its framing: a connection goes back
to the pool only when its answer was read to the byte (interim 1xx answers
included), and never while a deadline could still cut it under another request.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import requests
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from requests.models import PreparedRequest
from requests.utils import urldefragauth
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.response import HTTPResponse

from pcheck.check.connections import HTTPPool, HTTPSPool, current

from pcheck.check.deadlines import (  # noqa: F401 - re-exported
    WATCHDOG_TICK_S,
    DeadlineExceeded,
    DeadlineSlot,
    Watchdog,
)
from pcheck.check.netguard import NetGuard
from pcheck.check.pages import Page, SinkFor, read_page
from pcheck.check.proxies import ProxyRoutes, refused
from pcheck.check.tls import client_context
from pcheck.models import redact_userinfo

if TYPE_CHECKING:
    from pcheck.config import CheckConfig


#: Bodies up to this size are read and discarded so the connection can be reused; larger ones are cut.
DRAIN_LIMIT = 16 * 1024
#: Longest a small body is read for, to keep its connection; a slower one is cut.
DRAIN_BUDGET_S = 0.5
class _Adapter(HTTPAdapter):
    """requests' adapter, with connections the watchdog can cut off, minus what a check never uses.

    `build_response` and `request_url` are the adapter's documented subclassing
    hooks. pcheck reads a status and two headers, so the `Response` with its
    cookie jar and charset guess is left out: `send` hands back urllib3's
    response, whose headers are already case-insensitive. The proxy is chosen
    by the Transport (`proxies={"all": url}` or none); a proxy's pools use the
    same connection classes, so the watchdog reaches a socket to a proxy too.
    """

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}
        self._by_origin: dict[tuple, HTTPConnectionPool] = {}

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # type: ignore[no-untyped-def]
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # Plain http through the proxy shares one kept-alive pool to it; https tunnels (CONNECT) pool per target.
        manager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}
        return manager

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):  # type: ignore[no-untyped-def]
        # The pool manager re-parses the URL and rebuilds its pool key on every request;
        # the pool of an origin is found again by the URL's scheme://authority instead.
        url = request.url
        end = url.find("/", url.find("//") + 2)
        key = (url if end < 0 else url[:end], verify, cert, proxies.get("all") if proxies else None)
        pool = self._by_origin.get(key)
        if pool is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._by_origin) >= self._pool_connections:
                # Bounded like the pool manager: a pool it has let go keeps working, but its
                # sockets stay open for as long as something holds it.
                self._by_origin.clear()
            self._by_origin[key] = pool
        return pool

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
        host, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host["scheme"] == "https":  # the process's context for this mode, CAs loaded once (check.tls)
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = client_context(verify)
        return host, pool_kwargs

    def cert_verify(self, conn, url, verify, cert):  # type: ignore[no-untyped-def]
        # requests names the CA file on the pool, and urllib3 would load it into the shared
        # context again for every connection: the context already holds it.
        conn.cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        conn.ca_certs = conn.ca_cert_dir = None

    def close_idle(self) -> None:
        """Close every idle kept-alive connection, keeping the pools usable: their descriptors are needed."""
        for pool in [m.pools.get(k) for m in (self.poolmanager, *self.proxy_manager.values()) for k in m.pools.keys()]:
            idle = getattr(pool, "pool", None)  # None once the pool manager has closed it
            if idle is None:
                continue
            taken = []
            try:
                while True:
                    taken.append(idle.get_nowait())
            except queue.Empty:
                pass
            for conn in taken:
                if conn is not None:
                    conn.close()  # a closed connection object reconnects when next used
                try:
                    idle.put_nowait(conn)  # keep the slot count
                except queue.Full:
                    pass

    def request_url(self, request, proxies):  # type: ignore[no-untyped-def]
        if proxies and request.url.startswith("http:"):  # absolute form to a proxy; https goes through CONNECT
            return urldefragauth(request.url)
        return request.path_url

    def build_response(self, req, resp):  # type: ignore[no-untyped-def]
        return resp


# A URL that requests' prepare_url passes through unchanged: lower-case scheme and host,
# RFC 3986 characters and %XX escapes of reserved ones, no "." or ".." path segment, no empty query.
_SENDABLE = re.compile(
    r"https?://[a-z0-9.-]+(?::[0-9]{1,5})?/(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-F]{2})*(?<!\?)"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|\?|$)")
# requests decodes escaped unreserved characters (%41 -> A); such URLs go through prepare().
_UNRESERVED_ESCAPE = re.compile(r"%(?:3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE]|2[DE])")


def prepare(method: str, url: str, headers: dict[str, str]) -> PreparedRequest:
    """The request to send; built directly when `prepare()` would change nothing (a fifth of the CPU)."""
    if _SENDABLE.fullmatch(url) is None or _DOT_SEGMENT.search(url.partition("?")[0], 8) \
            or ("%" in url and _UNRESERVED_ESCAPE.search(url)):
        return requests.Request(method, url, headers=headers).prepare()
    request = PreparedRequest()
    # The checker's own headers, not a copy: they were validated when the options were read,
    # and neither the adapter nor urllib3 writes to them.
    request.method, request.url, request.headers = method, url, headers  # type: ignore[assignment]
    return request


@dataclass(frozen=True, slots=True)
class Hop:
    """What one request answered, with the body already discarded."""

    status: int
    location: str | None
    retry_after: str | None
    challenge: bool
    #: The host's quota is spent (`RateLimit-Remaining: 0` or `X-RateLimit-Remaining: 0`): when it resets, as
    #: sent ("" when not said); None while requests are left.
    quota_reset: str | None = None
    #: The body, when asked for (a page whose anchors a #fragment names): see Transport.fetch.
    page: Page | None = None
    #: A redirect's `Set-Cookie` headers (check/cookies.py keeps them for the rest of its chain).
    set_cookies: tuple[str, ...] = ()


class Transport:
    """Sends single requests (no redirects, no body download) under a total deadline.

    Requests go straight to the adapter: `Session.request` would merge
    .netrc credentials into URLs pcheck did not write, and `Session.send` with
    `allow_redirects=False` still resolves the next hop. Proxies are the
    environment's (or `proxy`), chosen per origin by `ProxyRoutes`.
    """

    def __init__(self, pool_maxsize: int, verify: bool | str = True, guard: NetGuard | None = None,
                 pool_hosts: int | None = None, proxy: str | None = None) -> None:
        self.verify = verify  # True, or a CA bundle path; False only with --insecure
        self.guard = guard  # set with --exclude-private: every new connection is checked
        self.routes = ProxyRoutes(proxy, redact_userinfo)  # read here, once per process: workers inherit the environment
        # config.POOL_HOSTS in a run (fewer only when the open-files limit cannot hold their idle sockets);
        # requests' own default otherwise.
        self.adapter = _Adapter(pool_connections=pool_hosts or DEFAULT_POOLSIZE, pool_maxsize=pool_maxsize, max_retries=0)
        self.watchdog = Watchdog()
        #: When this process began to run short of descriptors, memory or ports; None once an attempt got by
        #: (kept by the checkers, here because all threads of a process share it).
        self.short_since: float | None = None
        self._local = threading.local()  # .slot: this thread's slot with this transport's watchdog

    def _slot(self, guard: NetGuard | None) -> DeadlineSlot:
        slot = getattr(self._local, "slot", None)
        if slot is None:
            slot = self._local.slot = self.watchdog.new_slot()
        current.slot = slot
        current.guard = guard
        return slot

    def fetch(self, method: str, url: str, headers: dict[str, str], deadline: float,
              page_limit: int | None = None, sink_for: SinkFor | None = None, body_s: float | None = None) -> Hop:
        """One request; raises requests' exceptions, or DeadlineExceeded.

        With `page_limit`, a 2xx answer's body is read too (up to that many bytes, kept or fed to a
        sink) and returned as `Hop.page`. The status is the answer: the body is read within a bound of
        its own, `body_s` seconds from its headers (else the request's deadline), and a body cut short
        by it is a page read in part (`Page.timed_out`), not a failed request.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded()
        proxy = self.routes.proxy_for(url)
        if proxy is not None:
            self.routes.before(proxy, url, self.guard)  # a proxy pcheck cannot use, or a private target, goes no further
        slot = self._slot(None if proxy else self.guard)  # a socket to a proxy: the proxy's address is not judged
        slot.arm(deadline)
        failure = None
        try:
            prepared = prepare(method, url, headers)
            # No read timeout: the watchdog bounds the whole request, and a socket without a
            # timeout reads and writes with one system call (and one GIL hand-off) instead of
            # poll() then the call, a tenth of the CPU per check with 64 threads.
            response = self.adapter.send(prepared, stream=True, timeout=(remaining, None), verify=self.verify,
                                         cert=None, proxies={"all": proxy} if proxy else {})
        except Exception as exc:
            if slot.disarm():
                raise DeadlineExceeded() from None
            if proxy is None or (failure := self.routes.failure(exc, proxy)) is None:
                raise
        if failure is not None:
            raise failure  # outside the handler: the proxy's words are the whole story, not a cause of them
        if slot.fired:  # the headers were cut off; what http.client made of them is not an answer
            slot.disarm()
            _cut(response)
            raise DeadlineExceeded()
        if proxy is not None and response.status == 407 and not url.startswith("https:"):
            slot.disarm()  # plain http through a proxy: this 407 is the proxy's (https's comes as a ProxyError)
            _cut(response)
            raise refused(proxy, redact_userinfo)
        answered = response.headers
        left = answered.get("RateLimit-Remaining") or answered.get("X-RateLimit-Remaining")
        hop = Hop(
            response.status,
            answered.get("Location"),
            answered.get("Retry-After"),
            answered.get("cf-mitigated", "").lower() == "challenge",
            (answered.get("RateLimit-Reset") or answered.get("X-RateLimit-Reset") or "")
            if left is not None and left.strip() == "0" else None,
            set_cookies=tuple(answered.getlist("Set-Cookie")) if 300 <= response.status < 400 else (),
        )
        if page_limit is not None and 200 <= response.status < 300:
            if body_s is not None:
                slot.arm(time.monotonic() + body_s, slot.conn)
            try:
                page = read_page(response, page_limit, sink_for, lambda: slot.fired)
            except Exception:
                slot.disarm()
                _cut(response)
                raise
            fired = slot.disarm()
            if fired or not page.complete:
                _cut(response)
                if fired and not page.timed_out:  # the bound passed as the last byte came: still a part
                    page = replace(page, complete=False, timed_out=True)
            else:
                response.release_conn()
            return Hop(hop.status, hop.location, hop.retry_after, hop.challenge, hop.quota_reset, page)
        # The answer is complete; reading a small body only saves the connection, so it gets a
        # short budget of its own and any trouble with it just costs the connection.
        slot.arm(min(deadline, time.monotonic() + DRAIN_BUDGET_S), slot.conn)
        try:
            reusable = _discard_body(response)
        except Exception:  # noqa: BLE001
            reusable = False
        # Stop watching before the connection goes back: once pooled it may carry another
        # thread's request, which this slot's deadline must never cut (see DeadlineSlot.detach).
        if slot.disarm() or not reusable:
            _cut(response)
        else:
            response.release_conn()
        return hop

    def close_idle(self) -> None:
        """Give back the descriptors of idle kept-alive connections (this machine ran short of them)."""
        self.adapter.close_idle()

    def close(self) -> None:
        self.watchdog.stop()
        self.adapter.close()


def _discard_body(response: HTTPResponse) -> bool:
    """Read a small, announced body to its end; True when the connection is fit for another request."""
    remaining = response.length_remaining  # 0 for HEAD, None when chunked or close-delimited
    if remaining is None or remaining > DRAIN_LIMIT:
        return False
    while remaining:  # a read may return less than asked; the rest must not be left for the next request
        if not response.read(remaining, decode_content=False):
            return False
        remaining = response.length_remaining or 0
    return True


def _cut(response: HTTPResponse) -> None:
    """Close the connection and give its slot back to the pool (as requests' Response.close does)."""
    response.close()
    response.release_conn()


def make_transport(config: CheckConfig, per_host: int | None = None, pool_hosts: int | None = None) -> Transport:
    """The transport a worker process uses for `config`: per_host idle connections kept for each of pool_hosts hosts."""
    if not config.verify_tls:
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        # The CLI has warned once; one warning per request from every worker would drown stderr.
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    verify = config.ca_bundle or config.verify_tls
    guard = NetGuard() if config.exclude_private else None
    return Transport(per_host or config.threads, verify=verify, guard=guard, pool_hosts=pool_hosts, proxy=config.proxy)
