"""The typed values that cross module and process boundaries.

Only primitives, tuples and enums live here, so every value pickles cheaply and safely:
`multiprocessing` would otherwise drop an unpicklable result.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

#: What a URL's userinfo secret is replaced with in every record, cache row and resume key.
REDACTED = "***"
# The authority's userinfo, split as urlsplit splits it: up to the last "@" before the path.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)([^/?#]*)@")

#: The `source` of URLs read from standard input, and of URLs given as arguments.
STDIN = "-"
ARGS_SOURCE = "<args>"


class Outcome(str, enum.Enum):
    """What a user learns about one URL. Match on these, never on message text."""

    ALIVE = "alive"  #: the final answer's status is accepted
    BROKEN = "broken"  #: an unaccepted status, or no answer at all
    BLOCKED = "blocked"  #: the server answered but refuses robots (401, 403, 429, 999, challenge)
    EXCLUDED = "excluded"  #: not checked by the user's choice (pattern, private address)
    INVALID = "invalid"  #: the input line is not a checkable http(s) URL
    UNCHECKED = "unchecked"  #: no verdict: cancelled, its worker kept dying, or this machine ran short

    def __str__(self) -> str:
        return self.value


class ErrorKind(str, enum.Enum):
    """Why there is no usable answer: a small, fixed vocabulary."""

    TIMEOUT = "timeout"  #: the attempt's total deadline passed
    DNS = "dns"  #: the host name did not resolve
    CONNECTION = "connection"  #: refused, reset or closed before an answer
    TLS = "tls"  #: the TLS handshake or certificate check failed
    PROTOCOL = "protocol"  #: the peer answered, but not with valid HTTP
    TOO_MANY_REDIRECTS = "too_many_redirects"  #: more hops than --max-redirects
    REDIRECT_LOOP = "redirect_loop"  #: a hop pointed back at a URL already visited
    MISSING_FILE = "missing_file"  #: a local link's file or directory does not exist
    MISSING_FRAGMENT = "missing_fragment"  #: the page or file is there, the #fragment named is not
    INVALID_URL = "invalid_url"  #: the input line, or a Location header, is not a valid URL
    PRIVATE_ADDRESS = "private_address"  #: refused by --exclude-private
    UNSUPPORTED = "unsupported"  #: (excluded) a link pcheck does not check as written: mailto:, #here, //host, /x...
    WORKER_CRASHED = "worker_crashed"  #: its worker process died twice while checking it
    LOCAL_RESOURCES = "local_resources"  #: this machine kept running out of open files, memory or ports
    PROXY = "proxy"  #: (unchecked) the proxy could not be reached or used, or asked for credentials (407): not the link's fault
    REDIRECTED = "redirected"  #: --redirects fail: the link answers through a redirect (the detail: permanent or temporary)
    INSECURE_LINK = "insecure_link"  #: --require-https: an http:// link whose https:// twin is alive (the detail names it)
    SOFT_404 = "soft_404"  #: --soft-404: a 200 answer that looks like the site's not-found page, or a redirect to its home page
    CANCELLED = "cancelled"  #: the run was interrupted before a verdict
    INTERNAL = "internal"  #: a bug in pcheck; `detail` says what happened

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Target:
    """One occurrence of a URL in the input.

    `key` is the normalised URL (punycode host, lower-case scheme and host):
    what is de-duplicated, rate-limited and actually requested. `url` stays
    exactly as the user wrote it, for reports.
    """

    url: str
    key: str
    host: str
    source: str
    line: int | None
    #: 1-based, in characters, where the link starts on its line (None: unknown, or not from a file).
    column: int | None = None
    #: The link as written in a document, when `url` is what it resolved to (--base-url); else None.
    link: str | None = None
    checked_url: str | None = None  #: what --remap rewrote `url` to (`key`, `host` are its); None: no rule matched
    page: bool = False  #: `pcheck crawl`: a page to fetch and follow (its links come back), not only to check


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a check found out about a URL: the fields a Verdict and each of its CheckResults share,
    declared once."""

    outcome: Outcome
    status: int | None = None
    error: ErrorKind | None = None
    final_url: str | None = None
    redirects: int = 0
    method: str | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict(Judgement):
    """The result of checking one unique URL, before it is tied to its occurrences."""

    #: The page's anchors, when a link's #fragment asked for them (--include-fragments); never in a record.
    anchors: PageAnchors | None = None
    #: A 429 or 503's Retry-After, in seconds, for the host scheduler's pause; never in a record.
    retry_after_s: float | None = None
    #: The host said its quota of requests is spent: seconds until it resets; never in a record.
    quota_wait_s: float | None = None
    #: `pcheck crawl`: the links of a page fetched to follow (inputs/documents.PageLinks); never in a record.
    page: tuple | None = None

    def __reduce__(self) -> tuple:
        # Every verdict crosses a pipe: positional fields pickle and load twice as fast as the slot state.
        return (Verdict, (self.outcome, self.status, self.error, self.final_url, self.redirects,
                          self.method, self.attempts, self.elapsed_ms, self.detail, self.anchors, self.retry_after_s,
                          self.quota_wait_s, self.page))


#: Verdict fields that never reach a CheckResult: what the ledger and the host scheduler read.
VERDICT_ONLY = frozenset({"anchors", "retry_after_s", "quota_wait_s", "page"})


class Order(NamedTuple):
    """One check, as the parent hands it to a worker (down its task pipe, or in a Ray shard).

    A NamedTuple, not a dataclass: a batch of 256 is built, pickled and loaded in 0.33 ms (a bare
    tuple: 0.13 ms, a frozen dataclass with slots 1.2 ms, 0.53 ms with a `__reduce__` as here)."""

    task_id: int
    url: str  #: the normalised URL (Target.key), and its host: computed once where the URL was read
    host: str
    #: Fetch the page and bring back its anchors (an occurrence names a #fragment).
    anchors: bool = False
    #: None: --method; "GET" for a try after a refusal or a re-check.
    method: str | None = None
    #: The late re-check: no retries, its answer is the verdict.
    last: bool = False
    #: `pcheck crawl`: fetch the page (GET, an HTML body of at most MAX_PAGE_BYTES) and bring back its links.
    page: bool = False

    def __reduce__(self) -> tuple:
        # Positional, as Verdict's: half the pickling time of the namedtuple default (__getnewargs__).
        return (Order, tuple(self))


class Answered(NamedTuple):
    """A task's verdict on its way back from a worker (a batch of them per message) or a Ray shard."""

    task_id: int
    verdict: Verdict

    def __reduce__(self) -> tuple:
        return (Answered, tuple(self))


@dataclass(frozen=True, slots=True)
class HostBackoff:
    """A host that refused requests for load (429, 503), and what pcheck did about it."""

    host: str
    refusals: int  #: answers 429 or 503 it gave (each refused URL was put back in line, up to a limit)
    paused_s: float  #: seconds it was paused in all
    #: Requests in flight it was allowed at the end, and the extra interval between their starts.
    limit: int
    extra_interval_s: float
    #: Seconds it spent below its configured pace (pauses included), and why it was slowed ("": never slowed,
    #: its refusals were its URLs' own).
    slowed_s: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PageAnchors:
    """The ids and names of a fetched page, and whether all of it was read (a cut page cannot say "missing")."""

    ids: frozenset[str]
    complete: bool = True
    #: Why the part read is not all of the page, when something other than the size caps cut it (time).
    cut: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult(Judgement):
    """One record of the report: one per input occurrence (docs/ARCHITECTURE.md has the schema).

    Its Judgement is its URL's Verdict's; what it adds is the occurrence, by keyword: `url` as written,
    `source`, `line`, `column`.
    """

    url: str
    source: str | None = None
    line: int | None = None
    #: The normalised URL and its host, as read (None when the URL was never checkable): carried,
    #: never recomputed, so the cache and the host table spell them as the checker did. Not in records.
    key: str | None = None
    host: str | None = None
    column: int | None = None
    link: str | None = None  #: the link as written, when `url` is what it resolved to (a local file's file:// URL, --base-url)
    #: With --cache: the runs in a row this link has failed, this one included, and when the first of them
    #: was (seconds since the epoch); None without a cache's history, or when it is not failing.
    failed_runs: int | None = None
    failing_since: float | None = None
    checked_url: str | None = None  #: what --remap rewrote `url` to, and was requested instead; None: no rule matched
    suggestion: str | None = None  #: with --suggest: the link's fix ("moved to URL"); None: none, or no --suggest

    def __post_init__(self) -> None:
        # The free text that can quote a URL (a redirect loop's "back to ...", a sitemap's URL as the
        # source) is redacted here, once, for every reader: reports, `watch` lines, the library.
        for name in ("detail", "source", "suggestion"):
            text = getattr(self, name)
            if text and "@" in text:
                object.__setattr__(self, name, redact_text(text))

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ALIVE

    @property
    def transient(self) -> bool | None:
        """For a broken link: True when its failure may pass by itself (a timeout, a refused or reset
        connection, a 5xx, a 429, a temporary DNS failure), False when it is definitive (404, an invalid
        URL, a certificate that does not verify, a missing file). None for any other outcome."""
        if self.outcome is not Outcome.BROKEN:
            return None
        return is_transient(self.status, self.error, self.detail)

    @classmethod
    def of(cls, url: str, source: str | None, line: int | None, verdict: Verdict,
           key: str | None = None, host: str | None = None, column: int | None = None,
           link: str | None = None, checked_url: str | None = None) -> CheckResult:
        """The record of one occurrence (`url` as written, where it was read) and its URL's verdict:
        every Verdict field but VERDICT_ONLY, by name (tests/test_run_parts.py holds that to every field)."""
        v = verdict
        return cls(url=url, source=source, line=line, key=key, host=host, column=column, link=link, checked_url=checked_url,
                   outcome=v.outcome, status=v.status, error=v.error, final_url=v.final_url, redirects=v.redirects,
                   method=v.method, attempts=v.attempts, elapsed_ms=v.elapsed_ms, detail=v.detail)

    def to_record(self) -> dict:
        """The schema's field order, with enums as their string values and URL secrets redacted."""
        return {
            "url": redact_userinfo(self.url),
            "outcome": self.outcome.value,
            "ok": self.ok,
            "status": self.status,
            "error": self.error.value if self.error else None,
            "final_url": redact_userinfo(self.final_url) if self.final_url else self.final_url,
            "redirects": self.redirects,
            "method": self.method,
            "attempts": self.attempts,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "source": self.source,
            "line": self.line,
            "detail": self.detail,
            # Fields added later go last, so a CSV read by position keeps its columns.
            "column": self.column,
            "link": redact_userinfo(self.link) if self.link else self.link,
            "transient": self.transient,
            "failed_runs": self.failed_runs,
            "failing_since": _iso(self.failing_since),
            "checked_url": redact_userinfo(self.checked_url) if self.checked_url else None,
            "suggestion": self.suggestion,
        }


def _iso(when: float | None) -> str | None:
    return None if when is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


#: Failures that may pass by themselves: a server busy or restarting, a network blip.
TRANSIENT_ERRORS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.PROTOCOL})
TRANSIENT_STATUSES = frozenset({408, 429})
#: "Slow down" answers: the checker hands them back at once (Checker.defer_rate_limits); the host
#: scheduler puts the URL back after its backoff, and slows the host when they are its state (run/hosts.py).
SLOW_DOWN_STATUSES = frozenset({429, 503})


def is_transient(status: int | None, error: ErrorKind | None, detail: str | None) -> bool:
    """Whether a failure may pass by itself if asked again later (see CheckResult.transient)."""
    if error is not None:
        if error is ErrorKind.DNS:  # "Temporary failure in name resolution" (EAI_AGAIN), not "no such host"
            return "temporary" in (detail or "").lower() or "try again" in (detail or "").lower()
        return error in TRANSIENT_ERRORS
    return status is not None and (status in TRANSIENT_STATUSES or 500 <= status <= 599)


def redact_userinfo(url: str) -> str:
    """The URL with its userinfo secret replaced: `user:pw@` -> `user:***@`, `token@` -> `***@`.

    A report or cache file outlives the run and travels (CI artifacts, bug reports), so a password never
    reaches one. The user name stays when a password follows it, to tell accounts apart; alone it is often
    the secret itself (`https://<token>@github.com/`), so it goes too (pip's rule).
    Idempotent, and total: invalid lines are redacted the same way.
    """
    if "@" not in url:
        return url
    found = _USERINFO.match(url)
    if found is None or not found.group(2):
        return url
    user, colon, password = found.group(2).partition(":")
    shown = f"{user}:{REDACTED}" if colon else REDACTED
    if colon and not password:
        shown = f"{user}:"  # an empty password hides nothing
    return found.group(1) + shown + url[found.end(2):]


#: A URL with a scheme inside free text: up to white space, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*@[^\s\"'<>]*")


def redact_text(text: str) -> str:
    """`text` with the userinfo secret of every URL in it redacted, as `redact_userinfo` does for one URL."""
    return _URL_IN_TEXT.sub(lambda found: redact_userinfo(found.group()), text)


RECORD_FIELDS = tuple(CheckResult.of("", None, None, Verdict(Outcome.ALIVE)).to_record())


@dataclass
class Summary:
    """Running totals of a report; the CLI maps them to an exit code."""

    counts: dict[Outcome, int] = field(default_factory=lambda: {o: 0 for o in Outcome})
    elapsed_s: float = 0.0
    interrupted: bool = False
    #: Of `excluded`: links pcheck does not check as written (mailto:, #here, //host...), "skipped" in reports.
    skipped: int = 0
    #: Of `unchecked`: those an interruption left without a verdict.
    cancelled: int = 0
    #: Of `alive`: verdicts served from the cache (the session sets it from the cache's count).
    cached: int = 0
    #: Of `broken`: failures that may pass by themselves (CheckResult.transient).
    transient: int = 0
    #: Of `broken`: failures that do not fail the run (--accept-transient, --fail-after), reported all the same.
    forgiven: int = 0
    #: The run's policy for those (set before the first `add`).
    accept_transient: bool = False
    fail_after: int = 1

    def add(self, result: CheckResult) -> None:
        self.counts[result.outcome] += 1
        if result.error is not None:
            if result.error is ErrorKind.UNSUPPORTED:
                self.skipped += 1
            elif result.error is ErrorKind.CANCELLED:
                self.cancelled += 1
        if result.outcome is Outcome.BROKEN:
            self.transient += bool(result.transient)
            self.forgiven += self.forgives(result)

    def forgives(self, result: CheckResult) -> bool:
        """A broken link that does not fail the run: transient under --accept-transient, or failing for
        fewer runs in a row than --fail-after. The one rule the exit code and every report follow.

        Only a counted streak is young: a failure the cache keeps no history for (a local file or
        #fragment, a sitemap that could not be read, a cache switched off mid-run) fails the run as it
        would without --fail-after, instead of being "1 run" old on every run."""
        if result.outcome is not Outcome.BROKEN:
            return False
        young = self.fail_after > 1 and result.failed_runs is not None and result.failed_runs < self.fail_after
        return young or bool(self.accept_transient and result.transient)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def checked(self) -> int:
        """Links with a verdict from a request made in this run: what a rate counts."""
        return self.counts[Outcome.ALIVE] + self.counts[Outcome.BROKEN] + self.counts[Outcome.BLOCKED] - self.cached

    def parts(self) -> list[tuple[str, int]]:
        """What became of every link of the input, in words; the numbers add up to `total`."""
        c = self.counts
        return [("checked", self.checked), ("from cache", self.cached),
                ("excluded", c[Outcome.EXCLUDED] - self.skipped), ("skipped", self.skipped),
                ("invalid", c[Outcome.INVALID]), ("cancelled", self.cancelled),
                ("unchecked", c[Outcome.UNCHECKED] - self.cancelled)]

    def failed(self, fail_on_blocked: bool = False) -> bool:
        bad = self.counts[Outcome.BROKEN] - self.forgiven + self.counts[Outcome.INVALID] + self.counts[Outcome.UNCHECKED]
        if fail_on_blocked:
            bad += self.counts[Outcome.BLOCKED]
        return bad > 0

    def to_record(self) -> dict:
        return {
            "total": self.total,
            **{o.value: n for o, n in self.counts.items()},
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            # Of the outcomes above: checked now, served from the cache, skipped (of excluded), cancelled (of unchecked).
            "checked": self.checked, "cached": self.cached, "skipped": self.skipped, "cancelled": self.cancelled,
            "transient": self.transient, "forgiven": self.forgiven,
        }
