"""Report writers, one per --format; each streams records and ends with the summary.

Every string a URL list controls is escaped before it is written where a
terminal or a line-based parser could see it: a hostile list cannot inject
escape sequences or split a record.

What a report shows only at its end (text and Markdown: problems in document
order; JUnit: every unique URL with all its places; per-host counts) waits in
a spool on disk, not in memory, so a report of a million lines stays small.
"""

from __future__ import annotations

import collections
import csv
import errno
import itertools
import json
import re
import sqlite3
from operator import itemgetter
from typing import Iterable, Iterator, NamedTuple, TextIO
from urllib.parse import quote, urlsplit

from pcheck.models import CheckResult, ErrorKind, Outcome, RECORD_FIELDS, Summary
from pcheck.urls import redact_userinfo

FORMATS = ("text", "jsonl", "json", "csv", "markdown", "junit")
#: How report streams encode what UTF-8 cannot hold: an undecodable file name or argument (a lone
#: surrogate, \udcff) is written as that escape instead of ending the report in a traceback.
REPORT_ERRORS = "backslashreplace"
# C0, DEL, C1, and the bidi controls that reorder what a terminal shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_TOP_HOSTS = 10
#: Rows a spool keeps in memory before writing them to disk in one transaction (a row may hold
#: an 8 KB line of garbage: 1,000 of them stay a few MB).
SPOOL_BATCH = 1_000
#: Distinct hosts a HostTable counts in memory before adding the counts to its spool.
HOST_BATCH = 10_000


def printable(text: str) -> str:
    """`text` with every control character written as a visible escape (\\x1b, \\u202e)."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Reporter:
    """Base: counts outcomes; subclasses write records as they come."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.summary = Summary()

    def flush(self) -> None:
        """Called whenever the run is about to wait: every record so far reaches its reader."""
        self.stream.flush()

    def write(self, result: CheckResult) -> None:
        self.summary.add(result)
        self._write(result)

    def _write(self, result: CheckResult) -> None:
        raise NotImplementedError

    def finish(self, elapsed_s: float, interrupted: bool) -> Summary:
        self.summary.elapsed_s = elapsed_s
        self.summary.interrupted = interrupted
        try:
            self._finish()
            self.stream.flush()
        finally:
            self.close()
        return self.summary

    def _finish(self) -> None:
        pass

    def close(self) -> None:
        """Free the spool on disk, if any (finish does; safe to call again)."""


class JsonlReporter(Reporter):
    def _write(self, result: CheckResult) -> None:
        self.stream.write(json.dumps(result.to_record()) + "\n")


class JsonReporter(Reporter):
    """One document, {"results": [...], "summary": {...}}, still written as results arrive."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.stream.write('{"results": [')
        self.first = True

    def _write(self, result: CheckResult) -> None:
        self.stream.write(("\n  " if self.first else ",\n  ") + json.dumps(result.to_record()))
        self.first = False

    def _finish(self) -> None:
        self.stream.write("\n], \"summary\": " + json.dumps(self.summary.to_record()) + "}\n")


class CsvReporter(Reporter):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(RECORD_FIELDS)

    def _write(self, result: CheckResult) -> None:
        row = [_cell(v) if isinstance(v, str) else ("" if v is None else v) for v in result.to_record().values()]
        self.writer.writerow(row)


def _cell(text: str) -> str:
    """Printable, and never a spreadsheet formula: a leading = + - @ gets a quote (OWASP's advice)."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class _Spool:
    """Rows a report needs only at its end, in a private SQLite database on disk.

    `sqlite3.connect("")` makes a temporary database that SQLite creates with
    mode 0600 in its temp directory (SQLITE_TMPDIR, TMPDIR, /var/tmp or /tmp)
    and unlinks at once: nothing is left behind, even after SIGKILL, and
    closing it frees the disk. Until it outgrows SQLite's page cache (2 MB) it
    never touches the disk at all. SQLite sorts there too (ORDER BY, CREATE
    INDEX) within that cache. Rows wait in a list and go in SPOOL_BATCH at a
    time, one transaction each, so a row costs a tuple on the hot path.
    """

    def __init__(self, schema: str, insert: str) -> None:
        self._schema = schema
        self._insert = insert
        self._rows: list[tuple] = []
        self._db: sqlite3.Connection | None = None

    def add(self, row: tuple) -> None:
        rows = self._rows
        rows.append(row)
        if len(rows) >= SPOOL_BATCH:
            self.flush()

    def flush(self) -> sqlite3.Connection:
        """Every row so far written; the connection to query them with."""
        try:
            db = self._db
            if db is None:
                db = self._db = sqlite3.connect("")
                db.execute("PRAGMA journal_mode = OFF")  # scratch data: nothing to roll back to
                db.execute("PRAGMA synchronous = OFF")
                db.executescript(self._schema)
            if self._rows:
                db.executemany(self._insert, self._rows)
                db.commit()
                self._rows.clear()
        except sqlite3.Error as exc:  # the temp directory is full or unwritable: the report cannot be made
            raise OSError(errno.ENOSPC, f"no room for the report's spool in the temp directory ({exc})") from exc
        return db

    def close(self) -> None:
        self._rows.clear()
        if self._db is not None:
            self._db.close()
            self._db = None


def _enc(text: str) -> bytes:
    # Stored as UTF-8 bytes: BLOBs compare byte-wise, and UTF-8's byte order is code point order,
    # Python's order for str. surrogatepass keeps an undecodable file name (surrogateescape) intact.
    return text.encode("utf-8", "surrogatepass")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _enc_opt(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogatepass")


def _dec_opt(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "surrogatepass")


class ProblemsReporter(Reporter):
    """Keeps what people read at the end: problem URLs by outcome and source, and per-host counts.

    The problems wait in a spool on disk and come back sorted at the end: a
    million invalid lines cost disk, not memory.
    """

    def __init__(self, stream: TextIO, host_stats: bool = False) -> None:
        super().__init__(stream)
        self.problems = _Spool(
            "CREATE TABLE problems (rank INTEGER, source BLOB, line INTEGER, url BLOB,"
            " status INTEGER, error TEXT, redirects INTEGER, detail BLOB)",
            "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        self.problem_counts: collections.Counter[Outcome] = collections.Counter()
        self.hosts = HostTable() if host_stats else None
        self.trouble = HostTable()

    def _write(self, result: CheckResult) -> None:
        if self.hosts is not None and result.outcome is not Outcome.INVALID:
            self.hosts.add(result)
        rank = _PROBLEM_RANK.get(result.outcome)
        if rank is not None:  # excluded URLs are counted, not listed
            r = result
            self.problem_counts[r.outcome] += 1
            self.problems.add((rank, _enc(r.source or "?"), r.line, _enc(redact_userinfo(r.url)), r.status,
                               r.error and r.error.value, r.redirects, _enc_opt(r.detail)))
            if r.outcome in (Outcome.BROKEN, Outcome.BLOCKED):
                self.trouble.add(r)

    def grouped(self) -> Iterator[tuple[Outcome, int, Iterator[tuple[str, Iterator[_Problem]]]]]:
        """(outcome, count, (source, results)...) in PROBLEM_ORDER, sources sorted, results in line order.

        Verdicts arrive in completion order; a report reads in document order.
        Every level streams one sorted query: consume them in order.
        """
        if not self.problem_counts:
            return
        rows = self.problems.flush().execute(
            "SELECT rank, source, line, url, status, error, redirects, detail FROM problems"
            " ORDER BY rank, source, ifnull(line, -1), url, rowid")  # rowid: ties keep arrival order
        for rank, group in itertools.groupby(rows, itemgetter(0)):
            outcome = PROBLEM_ORDER[rank]
            yield outcome, self.problem_counts[outcome], _by_source(outcome, group)

    def close(self) -> None:
        self.problems.close()
        self.trouble.close()
        if self.hosts is not None:
            self.hosts.close()


class _Problem(NamedTuple):
    """A problem read back from the spool: what its report line shows, by CheckResult's names.

    A tuple rather than a CheckResult: a million of them are built at the end, and a
    frozen dataclass costs three times as much to make.
    """

    line: int | None
    url: str
    status: int | None
    error: ErrorKind | None
    redirects: int
    detail: str | None
    outcome: Outcome


_ERROR_KINDS = {kind.value: kind for kind in ErrorKind}


def _by_source(outcome: Outcome, rows: Iterable[tuple]) -> Iterator[tuple[str, Iterator[_Problem]]]:
    for source, items in itertools.groupby(rows, itemgetter(1)):
        yield _dec(source), (
            _Problem(line, url.decode("utf-8", "surrogatepass"), status, _ERROR_KINDS.get(error), redirects,
                     None if detail is None else detail.decode("utf-8", "surrogatepass"), outcome)
            for _, _, line, url, status, error, redirects, detail in items)


PROBLEM_ORDER = (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED)
_PROBLEM_RANK = {outcome: rank for rank, outcome in enumerate(PROBLEM_ORDER)}


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
        self._spool = _Spool(
            "CREATE TABLE hosts (host BLOB PRIMARY KEY, first INTEGER, urls INTEGER, alive INTEGER,"
            " broken INTEGER, blocked INTEGER, s401 INTEGER, s403 INTEGER, s429 INTEGER, s999 INTEGER,"
            " timeout INTEGER, challenge INTEGER, elapsed REAL)",
            "INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET"
            " urls = urls + excluded.urls, alive = alive + excluded.alive, broken = broken + excluded.broken,"
            " blocked = blocked + excluded.blocked, s401 = s401 + excluded.s401, s403 = s403 + excluded.s403,"
            " s429 = s429 + excluded.s429, s999 = s999 + excluded.s999, timeout = timeout + excluded.timeout,"
            " challenge = challenge + excluded.challenge, elapsed = elapsed + excluded.elapsed")

    def add(self, result: CheckResult) -> None:
        host = _host(result.url)
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
            self._spool.add((_enc(host), self._first[host], *(row[k] for k in self._COUNTS), self.elapsed[host]))
        self._spool.flush()
        self.rows.clear()
        self.elapsed.clear()
        self._first.clear()

    def _query(self, sql: str) -> Iterable[tuple]:
        if not self._added:
            return ()
        self._flush()
        return self._spool.flush().execute(sql)

    def hints(self) -> list[str]:
        """One line per host that throttles, walls off robots, or times out, with what to try."""
        lines: list[str] = []
        for host, s401, s403, s429, s999, timeout, challenge in self._query(
                "SELECT host, s401, s403, s429, s999, timeout, challenge FROM hosts"
                " WHERE s429 > 0 OR s401 + s403 + s999 + challenge > 0 OR timeout >= 2"
                " ORDER BY urls DESC, first"):
            if len(lines) >= _TOP_HOSTS:
                break
            host = _dec(host)
            if s429:
                lines.append(f"{host}: {s429} URL(s) rate-limited (429): lower --max-per-host, "
                             "or add --accept 429 if throttling is not a failure for you")
            walls = s403 + s401 + s999 + challenge
            if walls:
                lines.append(f"{host}: {walls} URL(s) refused to robots (401/403/999/challenge): "
                             "check one in a browser; add --accept 403 if they load")
            if timeout >= 2:
                lines.append(f"{host}: {timeout} timeouts: raise --timeout or lower --max-per-host")
        return lines[:_TOP_HOSTS]

    def table(self) -> Iterator[tuple[str, int, int, int, int, float]]:
        """(host, URLs, alive, broken, blocked, mean ms), busiest first."""
        for host, n, alive, broken, blocked, elapsed in self._query(
                "SELECT host, urls, alive, broken, blocked, elapsed FROM hosts ORDER BY urls DESC, host"):
            yield _dec(host), n, alive, broken, blocked, elapsed / n if n else 0.0

    def close(self) -> None:
        self._spool.close()


class TextReporter(ProblemsReporter):
    """For people: counts, then every URL that is not alive, grouped by where it came from."""

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        rate = s.total / s.elapsed_s if s.elapsed_s > 0 else 0.0
        title = "interrupted after" if s.interrupted else "checked in"
        out.write(f"pcheck: {s.total} URL(s) {title} {s.elapsed_s:.2f} s ({rate:.0f}/s)\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"  {outcome.value:<10}{s.counts[outcome]:>8}\n")
        for outcome, count, by_source in self.grouped():
            out.write(f"\n{outcome.value.capitalize()} ({count}):\n")
            for source, items in by_source:
                out.write(f"  {printable(source)}\n")
                for r in items:
                    where = f"{r.line:>6}" if r.line is not None else "     -"
                    out.write(f"  {where}  {printable(r.url)}\n          {_why(r)}\n")
        hints = self.trouble.hints()
        if hints:
            out.write("\nHints:\n")
            out.writelines(f"  {printable(h)}\n" for h in hints)
        if self.hosts is not None:
            out.write("\nHosts:\n  " + f"{'host':<40}{'urls':>8}{'alive':>8}{'broken':>8}{'blocked':>8}{'mean ms':>10}\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                out.write(f"  {printable(host):<40}{n:>8}{alive:>8}{broken:>8}{blocked:>8}{mean:>10.1f}\n")


class MarkdownReporter(ProblemsReporter):
    """A report that reads well as a CI job summary or a pull-request comment."""

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        state = "interrupted" if s.interrupted else ("failed" if s.failed() else "passed")
        out.write(f"## pcheck: {s.total} URL(s), {state}\n\n| outcome | count |\n|---|---:|\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"| {outcome.value} | {s.counts[outcome]} |\n")
        for outcome, count, by_source in self.grouped():
            out.write(f"\n### {outcome.value.capitalize()} ({count})\n")
            for source, items in by_source:
                out.write(f"\n**{_md_text(source)}**\n\n| line | URL | why |\n|---:|---|---|\n")
                for r in items:
                    line = "" if r.line is None else str(r.line)
                    out.write(f"| {line} | {_md_link(r.url, r.outcome)} | {_md_text(_why(r))} |\n")
        hints = self.trouble.hints()
        if hints:
            out.write("\n### Hints\n\n" + "".join(f"- {_md_text(h)}\n" for h in hints))
        if self.hosts is not None:
            out.write("\n### Hosts\n\n| host | URLs | alive | broken | blocked | mean ms |\n|---|---:|---:|---:|---:|---:|\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                out.write(f"| {_md_text(host)} | {n} | {alive} | {broken} | {blocked} | {mean:.1f} |\n")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", printable(text))


def _md_link(url: str, outcome: Outcome) -> str:
    if outcome is Outcome.INVALID:
        return _md_text(url)  # not a URL a reader should be invited to click
    # An undecodable byte (a lone surrogate from surrogateescape) is escaped as the byte it was.
    target = "".join(c if c.isascii() and c.isprintable() and c not in " <>()|"
                     else quote(c.encode("utf-8", "surrogateescape"), safe="") for c in url)
    return f"[{_md_text(url)}]({target})"


class JunitReporter(Reporter):
    """JUnit XML: one testcase per unique URL, a failure for each that fails, so CI shows them natively.

    Every occurrence waits in a spool on disk; at the end SQLite groups them by
    URL, in the order each URL was first seen, and the XML is streamed out
    (written as ElementTree's indent() and tostring() would write it).
    """

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False) -> None:
        super().__init__(stream)
        self.fail_on_blocked = fail_on_blocked
        self.cases = _Spool(
            "CREATE TABLE occurrences (url BLOB, source BLOB, line INTEGER, outcome TEXT, status INTEGER,"
            " error TEXT, redirects INTEGER, detail BLOB, elapsed_ms REAL)",
            "INSERT INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def _write(self, result: CheckResult) -> None:
        r = result
        self.cases.add((_enc(redact_userinfo(r.url)), _enc_opt(r.source), r.line, r.outcome.value, r.status,
                        r.error and r.error.value, r.redirects, _enc_opt(r.detail), r.elapsed_ms))

    def _fails(self, outcome: Outcome) -> bool:
        return outcome in (Outcome.BROKEN, Outcome.INVALID, Outcome.UNCHECKED) or (
            outcome is Outcome.BLOCKED and self.fail_on_blocked)

    def _finish(self) -> None:
        db = self.cases.flush()
        # Indexed once at the end (a sort on disk) rather than row by row on the hot path.
        db.executescript(
            "CREATE INDEX occurrences_by_url ON occurrences (url);"
            "CREATE TABLE cases (first INTEGER PRIMARY KEY, url BLOB);"
            "INSERT INTO cases SELECT min(rowid), url FROM occurrences GROUP BY url;")
        by_outcome = {Outcome(o): n for o, n in db.execute(
            "SELECT o.outcome, count(*) FROM cases c JOIN occurrences o ON o.rowid = c.first GROUP BY o.outcome")}
        tests = sum(by_outcome.values())
        failures = sum(n for o, n in by_outcome.items() if self._fails(o))
        skipped = sum(n for o, n in by_outcome.items()
                      if not self._fails(o) and o in (Outcome.EXCLUDED, Outcome.BLOCKED))
        took = f"{self.summary.elapsed_s:.3f}"
        counts = f'tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}"'
        out = self.stream
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="pcheck" {counts} time="{took}">\n')
        if not tests:
            out.write(f'  <testsuite name="pcheck" time="{took}" {counts} />\n</testsuites>\n')
            return
        out.write(f'  <testsuite name="pcheck" time="{took}" {counts}>\n')
        rows = db.execute(
            "SELECT c.first, o.url, o.source, o.line, o.outcome, o.status, o.error, o.redirects, o.detail,"
            " o.elapsed_ms FROM cases c JOIN occurrences o ON o.url = c.url ORDER BY c.first, o.rowid")
        for _, occurrences in itertools.groupby(rows, itemgetter(0)):
            _, url, source, line, outcome, status, error, redirects, detail, elapsed_ms = next(occurrences)
            first = CheckResult(_dec(url), Outcome(outcome), status, _ERROR_KINDS.get(error), None, redirects,
                                None, 0, elapsed_ms, _dec_opt(source), line, _dec_opt(detail))
            out.write(f'    <testcase classname="{_xml_attr(_xml(first.source or "pcheck"))}" '
                      f'name="{_xml_attr(_xml(first.url))}" time="{first.elapsed_ms / 1000:.3f}"')
            if self._fails(first.outcome):
                out.write(f'>\n      <failure message="{_xml_attr(_xml(_why(first)))}" type="{first.outcome.value}">')
                out.write(_xml_text(_place(first.source, first.line)))
                for row in occurrences:  # every place the URL occurs, one per line
                    out.write("\n" + _xml_text(_place(_dec_opt(row[2]), row[3])))
                out.write("</failure>\n    </testcase>\n")
            elif first.outcome in (Outcome.EXCLUDED, Outcome.BLOCKED):
                why = _xml_attr(_xml(f"{first.outcome.value}: {_why(first)}"))
                out.write(f'>\n      <skipped message="{why}" />\n    </testcase>\n')
            else:
                out.write(" />\n")
        out.write("  </testsuite>\n</testsuites>\n")

    def close(self) -> None:
        self.cases.close()


def _place(source: str | None, line: int | None) -> str:
    return f"{_xml(source or '?')}:{line if line is not None else '-'}"


def _xml_attr(text: str) -> str:
    """`text` escaped for a double-quoted XML attribute, exactly as ElementTree escapes it."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


def _xml_text(text: str) -> str:
    """`text` escaped as XML character data, exactly as ElementTree escapes it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _why(r: CheckResult | _Problem) -> str:
    parts = []
    if r.status is not None:
        parts.append(str(r.status))
    if r.error is not None:
        parts.append(r.error.value)
    if r.redirects:
        parts.append(f"after {r.redirects} redirect(s)")
    if r.detail:
        parts.append(f"({printable(r.detail)})")
    return " ".join(parts) or r.outcome.value


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _xml(text: str) -> str:
    # XML 1.0 cannot carry most control characters at all, even escaped.
    return printable(text)


def make_reporter(fmt: str, stream: TextIO, host_stats: bool = False, fail_on_blocked: bool = False) -> Reporter:
    if fmt == "text":
        return TextReporter(stream, host_stats)
    if fmt == "markdown":
        return MarkdownReporter(stream, host_stats)
    if fmt == "junit":
        return JunitReporter(stream, fail_on_blocked)
    return {"jsonl": JsonlReporter, "json": JsonReporter, "csv": CsvReporter}[fmt](stream)
