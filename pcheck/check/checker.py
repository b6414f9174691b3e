"""Check one URL: HEAD (or GET), redirects hop by hop, retries, and a verdict.

No processes, threads or progress bars here: a `Checker` is driven by one
thread and returns a `Verdict` for every URL, never raising for a URL's fault.
This is also the one place that maps foreign errors (requests, urllib3,
sockets) to pcheck's `ErrorKind`.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from pcheck.anchors import MAX_PAGE_BYTES, AnchorReader
from pcheck.check.auth import listed_credentials, redirect_headers
from pcheck.check.cookies import ChainCookies
from pcheck.check.deadlines import DeadlineExceeded
from pcheck.check.netguard import PrivateAddressRefused
from pcheck.check.pages import HtmlBody
from pcheck.check.policies import https_twin, redirect_said, twin_works
from pcheck.check.proxies import causes
from pcheck.check.waits import parse_quota_reset, parse_retry_after
from pcheck.models import SLOW_DOWN_STATUSES, ErrorKind, Outcome, PageAnchors, Verdict
from pcheck.urls import changes_origin, normalise

if TYPE_CHECKING:  # both arrive built: checking needs neither module loaded (and stays one import floor low)
    from typing import Any, Callable

    from pcheck.check.pages import Page, SinkFor
    from pcheck.check.transport import Transport
    from pcheck.config import CheckConfig

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Statuses that mean "a server is there but refuses robots", not "the link is dead".
BLOCKED_STATUSES = frozenset({401, 403, 429, 999})
RETRY_STATUSES = frozenset({408, 429})
RETRY_ERRORS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.DNS})
#: A HEAD failure with one of these would fail the same way with GET, so no fallback.
NO_FALLBACK_ERRORS = frozenset({
    ErrorKind.TIMEOUT, ErrorKind.DNS, ErrorKind.TLS, ErrorKind.PRIVATE_ADDRESS,
    ErrorKind.TOO_MANY_REDIRECTS, ErrorKind.REDIRECT_LOOP, ErrorKind.INVALID_URL, ErrorKind.LOCAL_RESOURCES,
    ErrorKind.PROXY,
})
#: pcheck's own path failed, not the link: no verdict (`unchecked`), and the run does not pass.
NO_VERDICT_ERRORS = frozenset({ErrorKind.LOCAL_RESOURCES, ErrorKind.PROXY})
#: errno values that say this machine ran out of files, memory, buffers or local ports: never the link's fault.
LOCAL_SHORTAGE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.EADDRNOTAVAIL})
#: getaddrinfo's own words for the same (EAI_SYSTEM: errno is lost, EMFILE opening /etc/hosts, say).
LOCAL_SHORTAGE_EAI = frozenset(getattr(socket, name) for name in ("EAI_SYSTEM", "EAI_MEMORY") if hasattr(socket, name))
#: How long one check waits for this machine to recover before it is reported `unchecked`.
LOCAL_SHORTAGE_PATIENCE_S = 30.0
#: First wait after a shortage; it doubles up to the cap while the shortage lasts.
LOCAL_SHORTAGE_WAIT_S = 0.05
LOCAL_SHORTAGE_WAIT_CAP_S = 2.0
#: --header names that are credentials whatever they hold; dropped when a redirect changes origin.
_DETAIL_MAX = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """The end of one attempt: the last hop's status, or the error that ended it."""

    method: str
    status: int | None = None
    error: ErrorKind | None = None
    detail: str | None = None
    final_url: str | None = None
    redirects: int = 0
    requests: int = 0
    retry_after: str | None = None
    challenge: bool = False
    page: Page | None = None
    quota_reset: str | None = None
    trail: tuple[int, ...] = ()  #: the status of each redirect hop followed (--redirects)


class Checker:
    """Checks URLs one at a time for one thread, sharing the process's Transport."""

    def __init__(self, config: CheckConfig, transport: Transport, stop: threading.Event | None = None,
                 defer_rate_limits: bool = False, read_page: Callable[[bytes, str], Any] | None = None) -> None:
        self.config = config
        #: `pcheck crawl`: how a fetched page's body becomes its links (inputs/documents.read_page_links, handed in).
        self.read_page = read_page
        #: A 429 or 503 is returned at once, for the host scheduler to slow the whole host (run/hosts.py),
        #: instead of being retried here while the host's other URLs keep asking.
        self.defer_rate_limits = defer_rate_limits
        self.transport = transport
        self.stop = stop or threading.Event()
        self.base_headers = {
            "User-Agent": config.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "identity",  # nothing is ever decompressed
            **dict(config.headers),
        }
        # Per-check state; a Checker belongs to one thread, so this is safe.
        self.accept = config.accept
        self.retries = config.retries
        self.page_limit: int | None = None
        self.sink_for: SinkFor | None = None

    def check(self, url: str, host: str | None = None, anchors: bool = False, method: str | None = None,
              last: bool = False, page: bool = False) -> Verdict:
        """Check one normalised URL (whose host normalise gave, if known); always returns a Verdict.

        With `anchors` (a link names a #fragment of this page), the page is fetched with GET, its
        first MAX_PAGE_BYTES read, and an alive verdict carries the page's anchors. `method` overrides
        --method (a URL tried again after a refusal, or re-checked, goes straight to GET); `last`: no
        retries, the answer is the verdict (the late re-check). `page` (`pcheck crawl`): fetched with GET
        and, if HTML, its links and anchors read (`read_page`) and carried in the verdict.
        """
        verdict = self._crawl(url, host, last) if page else self._check_url(url, host, anchors, method, last)
        judged = verdict.outcome not in (Outcome.EXCLUDED, Outcome.UNCHECKED)  # not a private address, nor no verdict
        twin = https_twin(url) if self.config.require_https and judged else None
        if twin is None:  # --require-https: the https twin asked once, after the link, in the same task
            return verdict
        answered = self._check(twin, host, method or self.config.method.upper(), None, retries=0)[0]
        insecure = twin_works(twin, answered.outcome is Outcome.ALIVE, answered.final_url)
        return replace(verdict, attempts=verdict.attempts + answered.attempts, **dict(
            outcome=Outcome.BROKEN, error=ErrorKind.INSECURE_LINK, detail=f"served over https too: {twin}") if insecure else {})

    def _check_url(self, url: str, host: str | None, anchors: bool, method: str | None, last: bool) -> Verdict:
        retries = 0 if last else self.config.retries
        if not anchors:
            return self._check(url, host, method or self.config.method.upper(), None, retries=retries)[0]
        verdict, page = self._check(url, host, "GET", MAX_PAGE_BYTES, AnchorReader, retries=retries)
        if page is None or not isinstance(page.sink, AnchorReader) or verdict.outcome is not Outcome.ALIVE:
            return verdict
        ids, why_not = page.sink.result()
        cut = f"the body did not all arrive within {self.config.timeout:g} s (--timeout)" if page.timed_out else None
        return replace(verdict, detail=why_not or verdict.detail,
                       anchors=PageAnchors(ids, page.complete and not page.sink.capped, cut) if ids is not None else None)

    def _crawl(self, url: str, host: str | None, last: bool) -> Verdict:
        verdict, page = self._check(url, host, "GET", MAX_PAGE_BYTES, HtmlBody, retries=0 if last else self.config.retries)
        if page is None or not isinstance(page.sink, HtmlBody) or not page.sink.wanted or self.read_page is None \
                or verdict.outcome is not Outcome.ALIVE:
            return verdict
        found = self.read_page(page.sink.body, page.content_type)
        cut = f"the body did not all arrive within {self.config.timeout:g} s (--timeout)" if page.timed_out else None
        return replace(verdict, anchors=PageAnchors(found.anchors, page.complete, cut), page=found)

    def fetch_page(self, url: str, limit: int) -> tuple[Verdict, Page | None]:
        """GET a page's body (at most `limit` bytes) under this checker's rules: redirects, retries, one deadline
        per attempt. The page is None unless the answer was 2xx (a sitemap is fetched so)."""
        return self._check(url, None, "GET", limit, retries=self.config.retries)

    def _check(self, url: str, host: str | None, method: str, page_limit: int | None,
               sink_for: SinkFor | None = None, *, retries: int) -> tuple[Verdict, Page | None]:
        started = time.monotonic()
        self.accept, self.retries = self.config.accept, retries
        self.page_limit, self.sink_for = page_limit, sink_for
        if self.config.hosts:
            policy = self.config.host_policy(host if host is not None else urlsplit(url).hostname or "")
            if policy is not None:
                self.accept = policy.accept or self.config.accept
        requests_made = 0
        attempt = 0
        while True:
            answer = self._attempt_within_means(url, method)
            requests_made += answer.requests
            if method == "HEAD" and self._wants_get(answer):
                method = "GET"  # later retries go straight to GET
                answer = self._attempt_within_means(url, method)
                requests_made += answer.requests
            delay, why_not = self._retry_delay(answer, attempt)
            if delay is None and method == "HEAD" and self._refused(answer) and not answer.retry_after \
                    and (not self.defer_rate_limits or self.retries == 0):
                method = "GET"  # no retry left to ask with GET: confirm now, as for any other failed HEAD
                answer = self._attempt_within_means(url, method)
                requests_made += answer.requests
            if delay is None or self.stop.wait(delay):
                break
            if method == "HEAD" and self._refused(answer):
                method = "GET"  # a HEAD refused for load was not answered: the retry asks as a browser would
            attempt += 1
        return self._verdict(answer, requests_made, time.monotonic() - started, why_not), answer.page

    def _attempt_within_means(self, url: str, method: str) -> Answer:
        """An attempt; one this machine had no descriptors, memory or ports for is made again, never judged.

        Idle kept-alive connections are closed first (their descriptors are the
        ones to spare). The wait is bounded: a machine that never recovers
        leaves the URL `unchecked`, and the link's own retries are untouched.
        The patience is the process's, not each URL's: once nothing has gone
        through for that long, later checks give up at once.
        """
        give_up = time.monotonic() + LOCAL_SHORTAGE_PATIENCE_S
        wait = LOCAL_SHORTAGE_WAIT_S
        while True:
            answer = self._attempt(url, method)
            if answer.error is not ErrorKind.LOCAL_RESOURCES:
                self.transport.short_since = None
                return answer
            if self.transport.short_since is None:
                self.transport.short_since = time.monotonic()
            if time.monotonic() + wait > min(give_up, self.transport.short_since + LOCAL_SHORTAGE_PATIENCE_S):
                return answer
            self.transport.close_idle()
            if self.stop.wait(wait):
                return answer
            wait = min(wait * 2, LOCAL_SHORTAGE_WAIT_CAP_S)

    def _wants_get(self, answer: Answer) -> bool:
        if answer.error is not None:
            return answer.error not in NO_FALLBACK_ERRORS
        if self._refused(answer) or answer.retry_after:
            return False  # "come back later" says nothing of HEAD: a GET now would only be refused too
        return answer.status is not None and not self.config.accepts(answer.status, self.accept)

    def _attempt(self, url: str, method: str) -> Answer:
        """Follow redirects by hand (requests would download each redirect body) under one deadline."""
        deadline = time.monotonic() + self.config.timeout
        headers = listed_credentials(url, self.base_headers, self.config)  # --header, the token, --basic-auth
        cookies = ChainCookies(self.config.cookies)  # the jar's, and what this chain's redirects set
        seen, trail = {url}, []
        current = url
        hops = 0
        sent = 0
        secure = False  # an earlier hop was https: host secrets are not sent on over plain http
        while True:
            sent += 1
            secure = secure or current.startswith("https:")
            own = self._host_headers(current, secure) if self.config.hosts else None
            try:
                hop = self.transport.fetch(method, current, cookies.sent(current, {**headers, **own} if own else headers),
                                           deadline, self.page_limit, self.sink_for, self.config.timeout)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a verdict
                kind, detail = classify(exc)
                return Answer(method, error=kind, detail=detail, final_url=current, redirects=hops, requests=sent)
            location = _decode_location(hop.location) if hop.status in REDIRECT_STATUSES else None
            if not location:
                # A quota is its host's: only the URL's own host, not one it redirected to, is paused for it.
                return Answer(method, hop.status, final_url=current, redirects=hops, requests=sent,
                              retry_after=hop.retry_after, challenge=hop.challenge, page=hop.page,
                              quota_reset=hop.quota_reset if hops == 0 else None, trail=tuple(trail))
            target = urljoin(current, location)
            cookies.take(current, hop.set_cookies)
            stop = None
            try:
                key, _ = normalise(target)
            except ValueError as exc:
                stop = ErrorKind.INVALID_URL, f"Location {location!r}: {exc}"
            else:
                if key in seen:
                    stop = ErrorKind.REDIRECT_LOOP, f"back to {key}"
                elif hops >= self.config.max_redirects:
                    stop = ErrorKind.TOO_MANY_REDIRECTS, f"more than {self.config.max_redirects}"
            if stop:
                return Answer(method, hop.status, error=stop[0], detail=_clip(stop[1]), final_url=current, redirects=hops,
                              requests=sent)
            headers = redirect_headers(headers, changes_origin(current, key))
            seen.add(key)
            trail.append(hop.status)
            current = key
            hops += 1

    def _host_headers(self, url: str, secure: bool) -> dict[str, str] | None:
        """A [hosts."x"] table's headers, for a request to host x only (and not after a downgrade to http)."""
        parts = urlsplit(url)
        policy = self.config.host_policy(parts.hostname or "")
        if policy is None or not policy.headers or (secure and parts.scheme == "http"):
            return None
        return dict(policy.headers)

    def _refused(self, answer: Answer) -> bool:
        """A 429 or 503 not accepted: the server asks to come back later."""
        return answer.error is None and answer.status in SLOW_DOWN_STATUSES \
            and not self.config.accepts(answer.status, self.accept)

    def _retry_delay(self, answer: Answer, attempt: int) -> tuple[float | None, str | None]:
        """Seconds to wait before retrying, or (None, reason it was not retried)."""
        if self.defer_rate_limits and self._refused(answer):
            wait = parse_retry_after(answer.retry_after) if answer.retry_after else None
            if wait is not None and wait > self.config.max_retry_after:
                return None, f"Retry-After {wait:.0f}s is over the {self.config.max_retry_after:.0f}s cap"
            return None, None  # the host scheduler puts this URL back after its wait (and slows the host if need be)
        retryable = answer.error in RETRY_ERRORS or (
            answer.status is not None
            and answer.error is None
            and not self.config.accepts(answer.status, self.accept)
            and (answer.status in RETRY_STATUSES or 500 <= answer.status <= 599)
        )
        if not retryable or attempt >= self.retries:
            return None, None
        wait = parse_retry_after(answer.retry_after) if answer.retry_after else None
        if wait is not None:
            if wait > self.config.max_retry_after:
                return None, f"Retry-After {wait:.0f}s is over the {self.config.max_retry_after:.0f}s cap"
            return wait, None
        return self.config.retry_wait(attempt), None

    def _verdict(self, answer: Answer, requests_made: int, elapsed: float, why_not: str | None) -> Verdict:
        status, error = answer.status, answer.error
        if error is ErrorKind.PRIVATE_ADDRESS:
            outcome = Outcome.EXCLUDED
        elif error in NO_VERDICT_ERRORS:
            outcome = Outcome.UNCHECKED  # the machine's or the proxy's fault, not the link's: no verdict
        elif error is not None:
            outcome = Outcome.BROKEN
        elif status is not None and self.config.accepts(status, self.accept):
            outcome = Outcome.ALIVE
        elif status in BLOCKED_STATUSES or answer.challenge:
            outcome = Outcome.BLOCKED
        else:
            outcome = Outcome.BROKEN
        detail = answer.detail or why_not
        if answer.challenge and outcome is Outcome.BLOCKED and not detail:
            detail = "challenge page (cf-mitigated)"
        retry_after = parse_retry_after(answer.retry_after) if answer.retry_after and status in SLOW_DOWN_STATUSES else None
        quota_wait = parse_quota_reset(answer.quota_reset) if answer.quota_reset is not None else None
        said = redirect_said(answer.trail, self.config.redirects) if outcome is Outcome.ALIVE else None
        if said:  # --redirects warn: alive, its first hop said; fail: broken, where it ends said too
            fail = self.config.redirects == "fail"
            outcome, error = (Outcome.BROKEN, ErrorKind.REDIRECTED) if fail else (outcome, error)
            detail = f"{said}, to {answer.final_url}" if fail else f"{said}; {detail}" if detail else said
        return Verdict(outcome=outcome, status=status, error=error, final_url=answer.final_url,
                       redirects=answer.redirects, method=answer.method, attempts=requests_made,
                       elapsed_ms=elapsed * 1000.0, detail=detail, retry_after_s=retry_after, quota_wait_s=quota_wait)


def _decode_location(location: str | None) -> str | None:
    # Headers arrive as latin-1; servers mostly mean UTF-8 (requests does the same).
    if not location:
        return None
    try:
        return location.encode("latin1").decode("utf8")
    except UnicodeError:
        return location


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """Map any exception raised while fetching to (kind, short detail)."""
    chain = list(causes(exc))
    innermost = chain[-1]
    detail = _clip(f"{type(innermost).__name__}: {innermost}")

    def has(*types: type) -> bool:
        return any(isinstance(e, types) for e in chain)

    # Order matters: urllib3's NewConnectionError subclasses ConnectTimeoutError,
    # so what the socket said (the innermost cause) is asked first.
    if has(DeadlineExceeded):
        return ErrorKind.TIMEOUT, "no complete answer within --timeout"
    if any(_local_shortage(e) for e in chain):
        return ErrorKind.LOCAL_RESOURCES, _clip(f"this machine ran short, not the link: {detail}")
    if has(PrivateAddressRefused):
        return ErrorKind.PRIVATE_ADDRESS, _clip(str(next(e for e in chain if isinstance(e, PrivateAddressRefused))))
    # The proxy (not the target) failed: urllib3 wraps only what happened before the proxy was reached.
    if has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError, requests.exceptions.InvalidProxyURL):
        proxy_error = next(e for e in chain if isinstance(e, requests.exceptions.ProxyError)) \
            if has(requests.exceptions.ProxyError) else None
        said = str(proxy_error) if proxy_error is not None and str(proxy_error).startswith("proxy ") else None
        return ErrorKind.PROXY, _clip(f"ProxyError: {said}") if said else detail
    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return ErrorKind.DNS, detail
    if has(requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError):
        return ErrorKind.TLS, detail
    if has(http.client.RemoteDisconnected, ConnectionError):
        return ErrorKind.CONNECTION, detail
    if has(requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return ErrorKind.TIMEOUT, detail
    if has(requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
           requests.exceptions.MissingSchema, urllib3.exceptions.LocationParseError):
        return ErrorKind.INVALID_URL, detail
    if has(http.client.HTTPException, urllib3.exceptions.ProtocolError,
           urllib3.exceptions.HTTPError, requests.exceptions.ChunkedEncodingError):
        return ErrorKind.PROTOCOL, detail
    if has(OSError, requests.exceptions.ConnectionError):
        return ErrorKind.CONNECTION, detail
    return ErrorKind.INTERNAL, detail


def _local_shortage(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, socket.gaierror):
        return exc.errno in LOCAL_SHORTAGE_EAI
    return isinstance(exc, OSError) and exc.errno in LOCAL_SHORTAGE_ERRNOS


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"
