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

    _COUNTS = ("urls", "alive", "broken", "blocked", "401", "403", "429", "999", "timeout", "challenge")

    def __init__(self) -> None:
        self.rows: dict[str, collections.Counter[str]] = {}
        self.elapsed: collections.Counter[str] = collections.Counter()
        self._first: dict[str, int] = {}  # when a host was first seen: ties in hints() keep that order
        self._added = 0
        self._spool = Spool(
            "CREATE TABLE hosts (host BLOB PRIMARY KEY, first INTEGER, urls INTEGER, alive INTEGER,"
            " broken INTEGER, blocked INTEGER, s401 INTEGER, s403 INTEGER, s429 INTEGER, s999 INTEGER,"
            " timeout INTEGER, challenge INTEGER, elapsed REAL)",
            "INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET"
            " urls = urls + excluded.urls, alive = alive + excluded.alive, broken = broken + excluded.broken,"
            " blocked = blocked + excluded.blocked, s401 = s401 + excluded.s401, s403 = s403 + excluded.s403,"
            " s429 = s429 + excluded.s429, s999 = s999 + excluded.s999, timeout = timeout + excluded.timeout,"
            " challenge = challenge + excluded.challenge, elapsed = elapsed + excluded.elapsed")

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
        if result.status in (401, 403, 429, 999):
            row[str(result.status)] += 1
        if result.error is ErrorKind.TIMEOUT:
            row["timeout"] += 1
        if result.detail and "challenge" in result.detail:
            row["challenge"] += 1
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

    def hints(self, slowed: frozenset[str] = frozenset()) -> list[str]:
        """One line per host that throttles, walls off robots, or times out, with what to try.

        `slowed`: hosts the scheduler slowed for their 429s, whose own line says more than a count."""
        lines: list[str] = []
        for host, s401, s403, s429, s999, timeout, challenge in self._query(
                "SELECT host, s401, s403, s429, s999, timeout, challenge FROM hosts"
                " WHERE s429 > 0 OR s401 + s403 + s999 + challenge > 0 OR timeout >= 2"
                " ORDER BY urls DESC, first"):
            if len(lines) >= _TOP_HOSTS:
                break
            host = dec(host)
            if s429 and host not in slowed:
                lines.append(f"{host}: {s429} URL(s) rate-limited (429): lower --max-per-host, "
                             "or add --accept 429 if throttling is not a failure for you")
            if s401:
                lines.append(f"{host}: {s401} link(s) answered 401 Unauthorized: they need a login; send it with "
                             f"--header (or a [hosts.\"{host}\"] table), or --accept 401")
            walls = [f"{n} {what}" for n, what in ((s403, "403 Forbidden"), (s999, "999"), (challenge, "challenge page"))
                     if n]
            if walls:
                lines.append(f"{host}: refused robots ({', '.join(walls)}): check one in a browser; "
                             "if it loads, add --accept 403 (or that status)")
            if timeout >= 2:
                lines.append(f"{host}: {timeout} timeouts: raise --timeout or lower --max-per-host")
        return lines[:_TOP_HOSTS]

    def table(self) -> Iterator[tuple[str, int, int, int, int, float]]:
        """(host, URLs, alive, broken, blocked, mean ms), busiest first."""
        for host, n, alive, broken, blocked, elapsed in self._query(
                "SELECT host, urls, alive, broken, blocked, elapsed FROM hosts ORDER BY urls DESC, host"):
            yield dec(host), n, alive, broken, blocked, elapsed / n if n else 0.0

    def close(self) -> None:
        self._spool.close()


def backoff_hints(backoffs: Iterable[HostBackoff]) -> list[str]:
    """One line per host slowed for its refusals: why, what it cost, and how to ask less of it from the start."""
    lines = []
    for b in sorted((b for b in backoffs if b.reason), key=lambda b: -b.refusals)[:_TOP_HOSTS]:
        gentler = f"{max(b.extra_interval_s, 0.1):g}s"
        lines.append(f"{b.host}: answered 429/503 {b.refusals} time(s); slowed {b.slowed_s:.1f} s ({b.reason}), "
                     f"paused {b.paused_s:.1f} s of it: to ask less from the start, "
                     f"--host-interval {gentler} (or host_interval in its [hosts.\"{b.host}\"] table)")
    return lines
