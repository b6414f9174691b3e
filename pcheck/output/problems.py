"""The formats people read: text and Markdown, problems grouped by outcome and source, in document order.

The problems wait in a spool on disk and come back sorted at the end.
"""

from __future__ import annotations

import collections
import itertools
import re
from operator import itemgetter
from typing import Iterable, Iterator, NamedTuple, TextIO
from urllib.parse import quote

from pcheck.models import CheckResult, ErrorKind, Outcome, redact_userinfo
from pcheck.output.hosttable import HostTable
from pcheck.output.reporter import ERROR_KINDS, Reporter, printable, why
from pcheck.output.spool import Spool, dec, enc, enc_opt


class ProblemsReporter(Reporter):
    """Keeps what people read at the end: problem URLs by outcome and source, and per-host counts.

    The problems wait in a spool on disk and come back sorted at the end: a
    million invalid lines cost disk, not memory.
    """

    def __init__(self, stream: TextIO, host_stats: bool = False) -> None:
        super().__init__(stream)
        self.problems = Spool(
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
            self.problems.add((rank, enc(r.source or "?"), r.line, enc(redact_userinfo(r.url)), r.status,
                               r.error and r.error.value, r.redirects, enc_opt(r.detail)))
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




def _by_source(outcome: Outcome, rows: Iterable[tuple]) -> Iterator[tuple[str, Iterator[_Problem]]]:
    for source, items in itertools.groupby(rows, itemgetter(1)):
        yield dec(source), (
            _Problem(line, url.decode("utf-8", "surrogatepass"), status, ERROR_KINDS.get(error), redirects,
                     None if detail is None else detail.decode("utf-8", "surrogatepass"), outcome)
            for _, _, line, url, status, error, redirects, detail in items)


PROBLEM_ORDER = (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED)
_PROBLEM_RANK = {outcome: rank for rank, outcome in enumerate(PROBLEM_ORDER)}


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
                    out.write(f"  {where}  {printable(r.url)}\n          {why(r)}\n")
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
                    out.write(f"| {line} | {_md_link(r.url, r.outcome)} | {_md_text(why(r))} |\n")
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
