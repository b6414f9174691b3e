"""`--soft-404`: pages that are gone but answer 200, found as Bar-Yossef et al. ("Sic transit gloria telae",
WWW 2004) found them: ask the host for a page that cannot exist, and compare.

  a deep link redirected to its site's home page            --> broken soft_404 ("redirected to the home page")
  a 200 answer of host H --> H's probe, asked once per run:  GET <the link's directory>/pcheck-soft404-<random>
      the probe not 2xx: H does not serve soft 404s         --> the result as it was
      the probe 2xx: the page's first 16 KiB (GET) compared --> alike: broken soft_404, the detail says why

A stage after the distributor, in the parent (as `run/archiving.Archivist.suggesting`): one probe per host per
run whatever the number of worker processes, since the parent alone asks it. Its requests (the probe, and on a
host that serves soft 404s a GET of each 200 page: a check's HEAD read no body) are paced by the host's
interval, one at a time per host, each at least the interval after the stage's last one to that host and
after that host's latest result arrived. A result waiting for its host's probe is held (at most `ahead`), so
its record may come after later ones.
"""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
import threading
import time
import zlib
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

from pcheck.models import CheckResult, ErrorKind, Outcome

if TYPE_CHECKING:
    from pcheck.check.transport import Transport
    from pcheck.config import Config

#: What is read of a probe's or a page's body: enough for its title and its main text.
SOFT_404_BYTES = 16 * 1024
PROBE_PREFIX = "pcheck-soft404-"
#: Alike: this much of the text's word 3-shingles shared (Jaccard), or the same title and half of them.
SIMILAR_TEXT = 0.9
SIMILAR_WITH_TITLE = 0.5
#: And lengths (of what was read) within this fraction of the longer one.
LENGTH_SLACK = 0.25
SOFT_404_WORKERS = 8

_DROPPED = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->")
_TITLE = re.compile(r"(?is)<title\b[^>]*>(.*?)</title\s*>")
_TAG = re.compile(r"(?s)<[^>]*>")
_WORD = re.compile(r"\w+")
_HOME = re.compile(r"(?i)/?(index\.\w+)?")


@dataclass(frozen=True)
class Fingerprint:
    """What a page is compared by: its title, the bytes read, and the hashed word 3-shingles of its text."""

    title: str
    length: int
    shingles: frozenset[int]


def fingerprint(body: bytes, url: str = "") -> Fingerprint:
    """A body's fingerprint, any bytes taken (binary, no title, cut anywhere). The path `url` asked is taken out
    of its text first: a not-found page often echoes it."""
    text = _DROPPED.sub(" ", body[:SOFT_404_BYTES].decode("utf-8", "replace"))
    found = _TITLE.search(text)
    title = " ".join(html.unescape(_TAG.sub(" ", found.group(1))).split())[:120] if found else ""
    text = html.unescape(_TAG.sub(" ", text))
    path = urlsplit(url).path if url else ""
    for echoed in {path, unquote(path)} - {"", "/"}:
        text = text.replace(echoed, " ")
    words = _WORD.findall(text.lower())
    n = min(3, len(words))
    shingles = frozenset(zlib.crc32(" ".join(words[i:i + n]).encode()) for i in range(len(words) - n + 1)) if n else frozenset()
    return Fingerprint(title, len(body), shingles)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """The share of their shingles two texts have in common (Jaccard): 1.0 for two texts without words."""
    if not a.shingles and not b.shingles:
        return 1.0
    return len(a.shingles & b.shingles) / len(a.shingles | b.shingles)


def looks_alike(page: Fingerprint, probe: Fingerprint, probe_url: str) -> str | None:
    """Why `page` looks like the page that cannot exist `probe` (at `probe_url`), or None when it does not."""
    longer = max(page.length, probe.length)
    if abs(page.length - probe.length) > LENGTH_SLACK * longer:
        return None
    same = similarity(page, probe)
    if page.title and page.title == probe.title and same >= SIMILAR_WITH_TITLE:
        return (f"looks like this site's not-found page: same title {page.title!r} as {probe_url}, a page that "
                f"cannot exist, and {same:.0%} of its text")
    if same >= SIMILAR_TEXT:
        return f"looks like this site's not-found page: {same:.0%} of its text is that of {probe_url}, a page that cannot exist"
    return None


def probe_url(url: str, token: str) -> str:
    """The page that cannot exist in `url`'s directory: `<dir>/pcheck-soft404-<token>`."""
    parts = urlsplit(url)
    folder = parts.path[: parts.path.rfind("/") + 1] or "/"
    return urlunsplit((parts.scheme, parts.netloc, folder + PROBE_PREFIX + token, "", ""))


def _site(host: str | None) -> str:
    host = (host or "").lower()
    return host[4:] if host.startswith("www.") else host


def home_redirect(result: CheckResult) -> bool:
    """A deep link (a path with a segment) that an alive answer redirected to its own site's home page
    (`/`, or `/index.<ext>`): the site's way of saying the page is gone."""
    if result.outcome is not Outcome.ALIVE or not result.redirects or not result.final_url or not result.key:
        return False
    asked, landed = urlsplit(result.key), urlsplit(result.final_url)
    deep = any(segment for segment in asked.path.split("/"))
    return deep and _HOME.fullmatch(landed.path) is not None and not landed.query \
        and _site(asked.hostname) == _site(landed.hostname)


def wants_comparing(result: CheckResult) -> bool:
    """A 200 answer of an http(s) URL: compared with its host's probe."""
    return result.outcome is Outcome.ALIVE and result.status == 200 and result.host is not None \
        and bool(result.key) and result.key.lower().startswith(("http://", "https://"))


def soft_404(result: CheckResult, why: str) -> CheckResult:
    return dataclasses.replace(result, outcome=Outcome.BROKEN, error=ErrorKind.SOFT_404, detail=why)


@dataclass(frozen=True)
class Probe:
    """A host's answer to a page that cannot exist: its fingerprint when 2xx (it serves soft 404s), else None."""

    url: str
    page: Fingerprint | None


class Soft404Judge:
    """Judges a run's results for soft 404s (see the module); made and closed by the CLI, thread-safe."""

    def __init__(self, config: Config, token: Callable[[], str] = lambda: secrets.token_hex(8),
                 now: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.token = token
        self.now = now
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._probes: dict[str, Future[Probe]] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}  # per host: the stage's last request, or its latest result's arrival
        self._transport: Transport | None = None

    def judging(self, results: Iterable[CheckResult], ahead: int = 256) -> Iterator[CheckResult]:
        """The results, each soft 404 broken; a 200 answer held until its host's probe (and page) is known,
        at most `ahead` of them at a time."""
        waiting: deque[Future[CheckResult]] = deque()
        with ThreadPoolExecutor(SOFT_404_WORKERS, thread_name_prefix="pcheck-soft404") as pool:
            try:
                for result in results:
                    if result.host is not None:
                        self._arrived(result.host)
                    if home_redirect(result):
                        yield soft_404(result, f"redirected to the home page ({result.final_url})")
                    elif wants_comparing(result):
                        waiting.append(pool.submit(self.judge, result))
                    else:
                        yield result
                    if len(waiting) > ahead:
                        wait(waiting, return_when=FIRST_COMPLETED)
                    yield from _done(waiting)
                while waiting:
                    wait(waiting, return_when=FIRST_COMPLETED)
                    yield from _done(waiting)
            finally:
                if waiting:  # cut short: the judgements under way stop waiting for their host
                    self.stop.set()
                for future in waiting:
                    future.cancel()

    def judge(self, result: CheckResult) -> CheckResult:
        """`result` (a 200 answer), broken soft_404 when it looks like its host's page that cannot exist."""
        assert result.host is not None and result.key is not None
        probe = self.probe_of(result.host, result.key)
        if probe.page is None:
            return result
        body = self._get(result.host, result.key)
        if body is None:
            return result
        why = looks_alike(fingerprint(body, result.key), probe.page, probe.url)
        return soft_404(result, why) if why else result

    def probe_of(self, host: str, url: str) -> Probe:
        """`host`'s probe, asked once per run (in the directory of `url`, the first of its links to ask)."""
        with self._lock:
            future = self._probes.get(host)
            mine = future is None
            if mine:
                future = self._probes[host] = Future()
        if mine:
            try:
                asked = probe_url(url, self.token())
                body = self._get(host, asked)
                future.set_result(Probe(asked, None if body is None else fingerprint(body, asked)))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def probes(self) -> dict[str, Probe]:
        """The probes asked so far, by host (those answered)."""
        with self._lock:
            return {h: f.result() for h, f in self._probes.items() if f.done() and not f.exception()}

    def _arrived(self, host: str) -> None:
        with self._lock:
            self._last[host] = max(self._last.get(host, 0.0), self.now())

    def _get(self, host: str, url: str) -> bytes | None:
        """The first SOFT_404_BYTES of a 2xx answer to GET `url` (None: no 2xx), paced by `host`'s interval."""
        from pcheck.check.checker import Checker  # imported here: a run without --soft-404 never loads them
        from pcheck.check.transport import make_transport

        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
            if self._transport is None:
                self._transport = make_transport(self.config, per_host=1, pool_hosts=SOFT_404_WORKERS)
            transport = self._transport
        with host_lock:
            with self._lock:
                ready = self._last.get(host, 0.0) + self.config.host_interval_for(host)
            if self.stop.wait(max(0.0, ready - self.now())):
                return None
            try:
                verdict, page = Checker(self.config, transport, self.stop).fetch_page(url, SOFT_404_BYTES)
            finally:
                with self._lock:
                    self._last[host] = max(self._last.get(host, 0.0), self.now())
        if verdict.outcome is not Outcome.ALIVE or page is None or not 200 <= (verdict.status or 0) <= 299:
            return None
        return page.body

    def close(self) -> None:
        self.stop.set()
        if self._transport is not None:
            self._transport.close()


def _done(waiting: deque[Future[CheckResult]]) -> Iterator[CheckResult]:
    """The judged results among `waiting`, taken out of it."""
    for future in [f for f in waiting if f.done()]:
        waiting.remove(future)
        yield future.result()
