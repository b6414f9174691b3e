"""Per-host counts, for --host-stats and for the end-of-run hints about throttling and bot walls."""

from __future__ import annotations

import collections
from typing import Iterable, Iterator

from pcheck.models import CheckResult, ErrorKind, HostBackoff
from pcheck.output.spool import Spool, dec, enc
from pcheck.urls import host_of

_TOP_HOSTS = 10


#: Distinct hosts a HostTable counts in memory before adding the counts to its spool.
HOST_BATCH = 10_000


class HostTable:
    """Per-host counts, for --host-stats and for the hints about throttling and bot walls.

    Up to HOST_BATCH hosts are counted in memory, then added to one row per
    host in a spool: a million distinct hosts cost disk, not memory.
    """

    _COUNTS = ("urls", "alive", "broken", "blocked", "401", "403", "429", "999", "timeout", "challenge", "refused")

    def __init__(self) -> None:
        self.rows: dict[str, collections.Counter[str]] = {}
        self.elapsed: collections.Counter[str] = collections.Counter()
        self._first: dict[str, int] = {}  # when a host was first seen: ties in hints() keep that order
        self._added = 0
        self._spool = Spool(
            "CREATE TABLE hosts (host BLOB PRIMARY KEY, first INTEGER, urls INTEGER, alive INTEGER,"
            " broken INTEGER, blocked INTEGER, s401 INTEGER, s403 INTEGER, s429 INTEGER, s999 INTEGER,"
            " timeout INTEGER, challenge INTEGER, refused INTEGER, elapsed REAL)",
            "INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET"
            " urls = urls + excluded.urls, alive = alive + excluded.alive, broken = broken + excluded.broken,"
            " blocked = blocked + excluded.blocked, s401 = s401 + excluded.s401, s403 = s403 + excluded.s403,"
            " s429 = s429 + excluded.s429, s999 = s999 + excluded.s999, timeout = timeout + excluded.timeout,"
            " challenge = challenge + excluded.challenge, refused = refused + excluded.refused,"
            " elapsed = elapsed + excluded.elapsed")

    def add(self, result: CheckResult) -> None:
        host = result.host or host_of(result.url) or "?"  # as normalised at input, for every URL that had one
        row = self.rows.get(host)
        if row is None:
            if len(self.rows) >= HOST_BATCH:
                self._flush()
            row = self.rows[host] = collections.Counter()
            self._first[host] = self._added
        self._added += 1
        row["urls"] += 1
        row[result.outcome.value] += 1
        challenge = bool(result.detail and "challenge" in result.detail)
        if challenge:
            row["challenge"] += 1
        if result.status in (401, 403, 429, 999) and not (challenge and result.status == 403):
            row[str(result.status)] += 1  # a challenge page's 403 is counted once, as what it is
        if result.error is ErrorKind.TIMEOUT:
            row["timeout"] += 1
        if result.error is ErrorKind.CONNECTION and "refused" in (result.detail or "").lower():
            row["refused"] += 1
        self.elapsed[host] += result.elapsed_ms

    def _flush(self) -> None:
        for host, row in self.rows.items():
            self._spool.add((enc(host), self._first[host], *(row[k] for k in self._COUNTS), self.elapsed[host]))
        self._spool.flush()
        self.rows.clear()
        self.elapsed.clear()
        self._first.clear()

    def _query(self, sql: str) -> Iterable[tuple]:
        if not self._added:
            return ()
        self._flush()
        return self._spool.flush().execute(sql)

    def hints(self, slowed: frozenset[str] = frozenset(), timeout_s: float | None = None) -> list[str]:
        """One line per cause (throttling, logins, bot walls, timeouts, refused connections), naming the
        hosts it was seen on, busiest first, with what to try for that cause.

        `slowed`: hosts the scheduler slowed for their 429s, whose own line (backoff_hints) says more."""
        causes: dict[str, list[tuple[str, collections.Counter[str]]]] = {cause: [] for cause in _ADVICE}
        for host, s401, s403, s429, s999, timeout, challenge, refused in self._query(
                "SELECT host, s401, s403, s429, s999, timeout, challenge, refused FROM hosts"
                " WHERE s429 > 0 OR s401 + s403 + s999 + challenge > 0 OR timeout >= 2 OR refused > 0"
                " ORDER BY urls DESC, first"):
            host = dec(host)
            seen = {"429": {"n": s429 if host not in slowed else 0}, "401": {"n": s401},
                    "robots": {"403 Forbidden": s403, "999": s999, "challenge page": challenge},
                    "timeout": {"n": timeout if timeout >= 2 else 0},  # one may be a blip; two are the host
                    "refused": {"n": refused}}
            for cause, counts in seen.items():
                if any(counts.values()):
                    causes[cause].append((host, collections.Counter(counts)))
        lines = []
        for cause, found in causes.items():
            if not found:
                continue
            total: collections.Counter[str] = sum((counts for _, counts in found), collections.Counter())
            hosts = ", ".join(host + (f" ({sum(counts.values())})" if len(found) > 1 else "")
                              for host, counts in found[:_TOP_HOSTS])
            more = f" and {len(found) - _TOP_HOSTS} more" if len(found) > _TOP_HOSTS else ""
            walls = ", ".join(f"{total[what]} {what}" for what in ("403 Forbidden", "999", "challenge page")
                              if total[what])
            within = f" within {timeout_s:g} s" if timeout_s else ""
            lines.append(f"{hosts}{more}: " + _ADVICE[cause].format(n=total["n"], walls=walls, host=found[0][0],
                                                                     within=within))
        return lines

    def table(self) -> Iterator[tuple[str, int, int, int, int, float]]:
        """(host, URLs, alive, broken, blocked, mean ms), busiest first."""
        for host, n, alive, broken, blocked, elapsed in self._query(
                "SELECT host, urls, alive, broken, blocked, elapsed FROM hosts ORDER BY urls DESC, host"):
            yield dec(host), n, alive, broken, blocked, elapsed / n if n else 0.0

    def close(self) -> None:
        self._spool.close()


#: What each cause's hint says: the count, the hosts, what to try (or that nothing in pcheck will help).
_ADVICE = {
    "429": "{n} URL(s) rate-limited (429): lower --max-per-host, or add --accept 429 if throttling is not a "
           "failure for you",
    "401": "{n} link(s) answered 401 Unauthorized: they need a login; send it with --header "
           "(or a [hosts.\"{host}\"] table), or --accept 401",
    "robots": "refused robots ({walls}): check one in a browser; if it loads, add --accept 403 (or that status)",
    # A server that never answers is not helped by fewer requests at a time: only waiting longer may.
    "timeout": "{n} timeouts, no answer{within}: raise --timeout if the server is only slow",
    # Nothing listens at that address: no option of pcheck changes that.
    "refused": "{n} connection(s) refused: nothing listens at the address and port named; the server is down, "
               "or the URL is wrong",
}


def _rounded(x: float) -> str:
    """Two significant digits, as a person would write the number (`0.26`, `1.2`, `15`)."""
    return f"{x:.2g}" if x < 10 else f"{x:.0f}"


def backoff_hints(backoffs: Iterable[HostBackoff], run_s: float | None = None) -> list[str]:
    """One line per host slowed for its refusals: why, what it cost, and how to ask less of it from the start.

    `run_s`: how long the run took; pauses overlap other hosts' work, so each is said no longer than it."""
    lines = []
    longest = run_s if run_s else float("inf")
    for b in sorted((b for b in backoffs if b.reason), key=lambda b: -b.refusals)[:_TOP_HOSTS]:
        slowed = min(b.slowed_s, longest)
        paused = min(b.paused_s, slowed)
        gentler = f"{_rounded(max(b.extra_interval_s, 0.1))}s"
        lines.append(f"{b.host}: answered 429/503 {b.refusals} time(s); slowed {slowed:.1f} s ({b.reason}), "
                     f"paused {paused:.1f} s of it: to ask less from the start, "
                     f"--host-interval {gentler} (or host_interval in its [hosts.\"{b.host}\"] table)")
    return lines
