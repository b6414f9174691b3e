"""The formats people read: text and Markdown, problems grouped by outcome and source, in document order.

The problems wait in a spool on disk and come back sorted at the end.
"""

from __future__ import annotations

import collections
import itertools
import os
import re
from operator import itemgetter
from typing import Any, Iterable, Iterator, NamedTuple, TextIO
from urllib.parse import quote

from pcheck.models import CheckResult, ErrorKind, Outcome, Summary, redact_userinfo
from pcheck.output.hosttable import HostTable, backoff_hints
from pcheck.output.overview import Overview, is_local
from pcheck.output.reasons import as_written, reason, where
from pcheck.output.reporter import ERROR_KINDS, Reporter, printable
from pcheck.output.spool import Spool, dec, dec_opt, enc, enc_opt


class ProblemsReporter(Reporter):
    """Keeps what people read at the end: problem URLs by outcome and source, and per-host counts.

    The problems wait in a spool on disk and come back sorted at the end: a
    million invalid lines cost disk, not memory.
    """

    def __init__(self, stream: TextIO, host_stats: bool = False, *, verbosity: int = 0,
                 fail_on_blocked: bool = False, timeout_s: float | None = None, summary: Summary | None = None) -> None:
        super().__init__(stream, summary)
        self.problems = Spool(
            "CREATE TABLE problems (rank INTEGER, source BLOB, line INTEGER, col INTEGER, url BLOB,"
            " status INTEGER, error TEXT, redirects INTEGER, attempts INTEGER, detail BLOB,"
            " failed_runs INTEGER, failing_since REAL, final_url BLOB, checked_url BLOB)",
            "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        #: --redirects warn: the alive links that answered through redirects, listed whatever the verbosity.
        self.redirected = Spool("CREATE TABLE redirected (source BLOB, line INTEGER, col INTEGER, url BLOB,"
                                " final_url BLOB, first_hop BLOB)", "INSERT INTO redirected VALUES (?, ?, ?, ?, ?, ?)")
        self.redirected_count = self.permanent = 0
        #: --suggest: the links whose result says their fix (CheckResult.suggestion).
        self.suggested = Spool("CREATE TABLE suggested (source BLOB, line INTEGER, col INTEGER, url BLOB, fix BLOB)",
                               "INSERT INTO suggested VALUES (?, ?, ?, ?, ?)")
        self.suggested_count = 0
        self.problem_counts: collections.Counter[Outcome] = collections.Counter()
        self.hosts = HostTable() if host_stats else None
        self.trouble = HostTable()
        self.overview = Overview()
        #: -1: problems only (-q); 0: counts and problems; 1: every link (-v).
        self.verbosity = verbosity
        self.fail_on_blocked = fail_on_blocked
        self.timeout_s = timeout_s
        self._ranks = _VERBOSE_RANK if verbosity > 0 else _PROBLEM_RANK

    def _write(self, result: CheckResult) -> None:
        self.overview.add(result)
        if self.hosts is not None and result.outcome is not Outcome.INVALID:
            self.hosts.add(result)
        rank = self._ranks.get(result.outcome)
        # Cancelled links are counted, not listed: after Ctrl-C the report says how many, not each one.
        if rank is not None and result.error is not ErrorKind.CANCELLED:
            r = result
            self.problem_counts[r.outcome] += 1
            # A local link is named as written: its file:// URL is this machine's path, a dead link elsewhere.
            self.problems.add((rank, enc(r.source or "?"), r.line, r.column, enc(redact_userinfo(as_written(r))),
                               r.status, r.error and r.error.value, r.redirects, r.attempts, enc_opt(r.detail),
                               r.failed_runs, r.failing_since,
                               enc_opt(redact_userinfo(r.final_url) if r.redirects and r.final_url and r.error is None else None),
                               enc_opt(redact_userinfo(r.checked_url) if r.checked_url else None)))
            if r.outcome in (Outcome.BROKEN, Outcome.BLOCKED):
                self.trouble.add(r)
        if result.suggestion:
            self.suggested_count += 1
            self.suggested.add((enc(result.source or "?"), result.line, result.column,
                                enc(redact_userinfo(as_written(result))), enc(result.suggestion)))
        said = _REDIRECT_SAID.match(result.detail or "") if result.redirects else None
        if said is not None:  # the checker said so only under --redirects warn or fail (check/policies.py)
            self.permanent += said[1] == "permanent"
            if result.outcome is Outcome.ALIVE:
                self.redirected_count += 1
                self.redirected.add((enc(result.source or "?"), result.line, result.column,
                                     enc(redact_userinfo(as_written(result))),
                                     enc(redact_userinfo(result.final_url or result.url)), enc(said[2])))

    def suggestions_listed(self) -> Iterator[tuple[str, int | None, int | None, str, str]]:
        """--suggest: (source, line, column, URL, suggestion) of each link with a fix, in document order."""
        if self.suggested_count:
            rows = self.suggested.flush().execute("SELECT * FROM suggested ORDER BY source, ifnull(line, -1), "
                                                  "ifnull(col, -1), rowid")
            for source, line, column, url, fix in rows:
                yield dec(source), line, column, dec(url), dec(fix)

    def redirects_listed(self) -> Iterator[tuple[str, int | None, int | None, str, str, str]]:
        """--redirects warn: (source, line, column, URL, final URL, first hop) of each redirected link, in document order."""
        if self.redirected_count:
            rows = self.redirected.flush().execute("SELECT * FROM redirected ORDER BY source, ifnull(line, -1), "
                                                   "ifnull(col, -1), rowid")
            for source, line, column, url, final_url, first_hop in rows:
                yield dec(source), line, column, dec(url), dec(final_url), dec(first_hop)

    def grouped(self) -> Iterator[tuple[Outcome, int, Iterator[tuple[str, Iterator[_Problem]]]]]:
        """(outcome, count, (source, results)...) in PROBLEM_ORDER, sources sorted, results in line order.

        Verdicts arrive in completion order; a report reads in document order.
        Every level streams one sorted query: consume them in order.
        """
        if not self.problem_counts:
            return
        rows = self.problems.flush().execute(
            "SELECT rank, source, line, col, url, status, error, redirects, attempts, detail, failed_runs, failing_since,"
            " final_url, checked_url FROM problems"
            " ORDER BY rank, source, ifnull(line, -1), ifnull(col, -1), url, rowid")  # rowid: ties keep arrival order
        for rank, group in itertools.groupby(rows, itemgetter(0)):
            outcome = LISTED_ORDER[rank]
            yield outcome, self.problem_counts[outcome], _by_source(outcome, group)

    def hints(self) -> list[str]:
        """What to try, per host: bot walls and timeouts (from the results), and hosts slowed for load."""
        # A host slowed for 429s has its own line, with what it cost; the results' 429 line would repeat it.
        slowed = frozenset(b.host for b in self.backoffs if b.reason)
        n = self.permanent
        moved = [f"{n} link{'s redirect' if n != 1 else ' redirects'} permanently (301/308): `pcheck fix --write` "
                 f"can rewrite {'them' if n != 1 else 'it'} to where {'they end' if n != 1 else 'it ends'}"] if n else []
        return self.notes + self.trouble.hints(slowed, self.timeout_s) + backoff_hints(self.backoffs, self.summary.elapsed_s) + moved

    def paused_s(self, paused_s: float) -> float:
        """A host's pauses as the Hosts table shows them: never longer than the run."""
        return min(paused_s, self.summary.elapsed_s) if self.summary.elapsed_s > 0 else paused_s

    def close(self) -> None:
        self.problems.close()
        self.redirected.close()
        self.suggested.close()
        self.trouble.close()
        if self.hosts is not None:
            self.hosts.close()


class _Problem(NamedTuple):
    """A problem read back from the spool: what its report line shows, by CheckResult's names.

    A tuple rather than a CheckResult: a million of them are built at the end, and a
    frozen dataclass costs three times as much to make.
    """

    line: int | None
    column: int | None
    url: str
    status: int | None
    error: ErrorKind | None
    redirects: int
    attempts: int
    detail: str | None
    outcome: Outcome
    failed_runs: int | None = None  # with --cache: see CheckResult
    failing_since: float | None = None
    final_url: str | None = None  # where its redirects ended, when they ended on an answer
    checked_url: str | None = None  # what --remap sent the request to instead


def _by_source(outcome: Outcome, rows: Iterable[tuple]) -> Iterator[tuple[str, Iterator[_Problem]]]:
    for source, items in itertools.groupby(rows, itemgetter(1)):
        yield dec(source), (
            _Problem(line, column, url.decode("utf-8", "surrogatepass"), status, ERROR_KINDS.get(error), redirects,
                     attempts, None if detail is None else detail.decode("utf-8", "surrogatepass"), outcome,
                     failed_runs, failing_since, dec_opt(final_url), dec_opt(checked_url))
            for _, _, line, column, url, status, error, redirects, attempts, detail, failed_runs, failing_since, final_url,
            checked_url in items)


PROBLEM_ORDER = (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED)
#: What -v lists besides: every link, so the report accounts for each one.
LISTED_ORDER = (*PROBLEM_ORDER, Outcome.ALIVE, Outcome.EXCLUDED)
#: What check/policies.py writes of a redirected link under --redirects warn or fail: its kind and first hop.
_REDIRECT_SAID = re.compile(r"(permanent|temporary) redirect: ([^;,]+)")
_PROBLEM_RANK = {outcome: rank for rank, outcome in enumerate(PROBLEM_ORDER)}
_VERBOSE_RANK = {outcome: rank for rank, outcome in enumerate(LISTED_ORDER)}


class TextReporter(ProblemsReporter):
    """For people: what became of every link, then one self-contained line per problem
    (`file:line:col: URL  (reason)`, so `grep 404` keeps the URL and its place), then hints."""

    def __init__(self, stream: TextIO, host_stats: bool = False, *, color: bool = False, **options: Any) -> None:
        super().__init__(stream, host_stats, **options)
        self.paint = paint if color else _plain

    def _finish(self) -> None:
        s, out, paint = self.summary, _NoCommands(self.stream), self.paint
        if self.verbosity >= 0:
            out.write(self.overview.headline(s) + "\n")
            for outcome in Outcome:
                if s.counts[outcome]:
                    note = _blocked_note(self.fail_on_blocked) if outcome is Outcome.BLOCKED else ""
                    out.write(f"  {paint(f'{outcome.value:<10}', outcome)}{s.counts[outcome]:>8}{note}\n")
                    of_them = _of_them(s, outcome)  # right under the count it divides
                    if of_them:
                        out.write(f"  {'':<18}of them: {of_them}\n")
            if s.cancelled:
                out.write(f"\n{paint('Cancelled', Outcome.UNCHECKED)} ({s.cancelled}): interrupted before a verdict; "
                          "with --format jsonl -o FILE, --resume checks only those\n")
            notes = self.overview.notes()
            if notes:
                out.write("\n" + "".join(f"{printable(line)}\n" for line in notes))
        for outcome, count, by_source in self.grouped():
            if self.verbosity >= 0:
                out.write(f"\n{paint(outcome.value.capitalize(), outcome)} ({count}):\n")
            for source, items in by_source:
                for r in items:
                    place = paint(printable(where(source, r.line, r.column)) + ":", None)
                    said = paint(f"({printable(reason(r, self.timeout_s, self.summary.fail_after, self.summary.accept_transient))})", outcome)
                    went = f" -> {printable(r.final_url)}" if r.final_url and r.final_url != r.url else ""
                    checked = f" (checked as {printable(r.checked_url)})" if r.checked_url else ""
                    out.write(f"  {place} {printable(r.url)}{checked}{went}  {said}\n")
        listed = self.redirects_listed()
        for i, (source, line, column, url, final_url, first_hop) in enumerate(listed):
            if i == 0 and self.verbosity >= 0:
                out.write(f"\nRedirected ({self.redirected_count}):\n")
            place = paint(printable(where(source, line, column)) + ":", None)
            out.write(f"  {place} {printable(url)} -> {printable(final_url)}  ({printable(first_hop)})\n")
        for i, (source, line, column, url, fix) in enumerate(self.suggestions_listed()):
            if i == 0 and self.verbosity >= 0:
                out.write(f"\nSuggestions ({self.suggested_count}):\n")
            place = paint(printable(where(source, line, column)) + ":", None)
            out.write(f"  {place} {printable(url)} -> {printable(fix)}\n")
        if self.verbosity < 0:
            return
        hints = self.hints()
        if hints:
            out.write("\nHints:\n")
            out.writelines(f"  {printable(h)}\n" for h in hints)
        if self.hosts is not None:
            slowed = {b.host: b for b in self.backoffs}
            out.write("\nHosts:\n  " + f"{'host':<40}{'urls':>8}{'alive':>8}{'broken':>8}{'blocked':>8}{'mean ms':>10}"
                      f"{'429/503':>9}{'paused s':>10}\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                b = slowed.get(host)
                out.write(f"  {printable(host):<40}{n:>8}{alive:>8}{broken:>8}{blocked:>8}{mean:>10.1f}"
                          f"{b.refusals if b else 0:>9}{self.paused_s(b.paused_s) if b else 0.0:>10.1f}\n")


class _NoCommands:
    """Writes text so that no line starts with `::`, which a GitHub Actions runner would take for a
    workflow command (a file named `::warning::x.md` would raise one): such a line, after its blanks
    and colours, gets `./` first (for a file's place, the same file)."""

    _COMMAND = re.compile(r"(?m)^([ \t]*(?:\x1b\[[0-9;]*m)*)(?=::)")

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(self._COMMAND.sub(r"\1./", text) if "::" in text else text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)


def _of_them(s: Summary, outcome: Outcome) -> str:
    """What divides an outcome's count, said on the line under it ("" for none)."""
    n = s.counts[outcome]
    if outcome is Outcome.ALIVE and s.cached:
        return f"{s.cached} from the cache"
    if outcome is Outcome.BROKEN and n:
        return f"{s.transient} transient, {n - s.transient} definitive" + (
            f"; {s.forgiven} do not fail the run" if s.forgiven else "")
    if outcome is Outcome.EXCLUDED and s.skipped:
        return f"{s.skipped} skipped: links pcheck does not check as written"
    return ""


def _blocked_note(fail_on_blocked: bool) -> str:
    if fail_on_blocked:
        return "  (they fail the run: --fail-on-blocked)"
    return "  (a bot wall or a login, not a dead link: they do not fail the run; --fail-on-blocked makes them)"


#: ANSI colours for what a terminal shows (--color): outcomes, and places dimmed.
_COLORS = {Outcome.BROKEN: "31", Outcome.BLOCKED: "33", Outcome.INVALID: "35", Outcome.UNCHECKED: "36",
           Outcome.ALIVE: "32", Outcome.EXCLUDED: "2", None: "2"}


def use_color(choice: str, stream: TextIO) -> bool:
    """--color: `auto` colours a terminal unless NO_COLOR is set (no-color.org) or TERM is dumb."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, outcome: Outcome | None) -> str:
    return f"\x1b[{_COLORS[outcome]}m{text}\x1b[0m"


def _plain(text: str, outcome: Outcome | None) -> str:
    return text


class MarkdownReporter(ProblemsReporter):
    """A report that reads well as a CI job summary or a pull-request comment."""

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        state = "interrupted" if s.interrupted else ("failed" if s.failed(self.fail_on_blocked) else "passed")
        out.write(f"## pcheck: {s.total} link{'s' if s.total != 1 else ''}, {state}\n\n"
                  f"{_md_text(self.overview.headline(s).removeprefix('pcheck: '))}\n\n| outcome | count |\n|---|---:|\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"| {outcome.value} | {s.counts[outcome]} |\n")
        if s.counts[Outcome.BLOCKED]:
            out.write(f"\nBlocked: {_md_text(_blocked_note(self.fail_on_blocked).strip()[1:-1])}.\n")
        for outcome in (Outcome.ALIVE, Outcome.BROKEN, Outcome.EXCLUDED):
            of_them = _of_them(s, outcome)
            if of_them:
                out.write(f"\n{outcome.value.capitalize()}: {_md_text(of_them)}.\n")
        if s.cancelled:
            out.write(f"\n{s.cancelled} cancelled: interrupted before a verdict.\n")
        notes = self.overview.notes()
        if notes:
            out.write("\n" + "".join(f"- {_md_text(line)}\n" for line in notes))
        for outcome, count, by_source in self.grouped():
            out.write(f"\n### {outcome.value.capitalize()} ({count})\n")
            for source, items in by_source:
                out.write(f"\n**{_md_text(source)}**\n\n| line | URL | why |\n|---:|---|---|\n")
                for r in items:
                    line = "" if r.line is None else str(r.line) + ("" if r.column is None else f":{r.column}")
                    checked = f" (checked as {_md_text(r.checked_url)})" if r.checked_url else ""
                    out.write(f"| {line} | {_md_link(r.url, r.outcome)}{checked} | {_md_text(reason(r, self.timeout_s, self.summary.fail_after, self.summary.accept_transient))} |\n")
        for i, (source, line, column, url, final_url, first_hop) in enumerate(self.redirects_listed()):
            if i == 0:
                out.write(f"\n### Redirected ({self.redirected_count})\n\n| place | URL | ends at | first hop |\n"
                          "|---|---|---|---|\n")
            out.write(f"| {_md_text(where(source, line, column))} | {_md_link(url, Outcome.ALIVE)} | "
                      f"{_md_link(final_url, Outcome.ALIVE)} | {_md_text(first_hop)} |\n")
        for i, (source, line, column, url, fix) in enumerate(self.suggestions_listed()):
            if i == 0:
                out.write(f"\n### Suggestions ({self.suggested_count})\n\n| place | URL | suggestion |\n|---|---|---|\n")
            out.write(f"| {_md_text(where(source, line, column))} | {_md_link(url, Outcome.ALIVE)} | {_md_text(fix)} |\n")
        hints = self.hints()
        if hints:
            out.write("\n### Hints\n\n" + "".join(f"- {_md_text(h)}\n" for h in hints))
        if self.hosts is not None:
            slowed = {b.host: b for b in self.backoffs}
            out.write("\n### Hosts\n\n| host | URLs | alive | broken | blocked | mean ms | 429/503 | paused s |\n"
                      "|---|---:|---:|---:|---:|---:|---:|---:|\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                b = slowed.get(host)
                out.write(f"| {_md_text(host)} | {n} | {alive} | {broken} | {blocked} | {mean:.1f} | "
                          f"{b.refusals if b else 0} | {self.paused_s(b.paused_s) if b else 0.0:.1f} |\n")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", printable(text))


def _md_link(url: str, outcome: Outcome) -> str:
    if outcome is Outcome.INVALID or is_local(url) or "://" not in url:
        return _md_text(url)  # not a URL a reader should be invited to click, or a local link as written
    # An undecodable byte (a lone surrogate from surrogateescape) is escaped as the byte it was.
    target = "".join(c if c.isascii() and c.isprintable() and c not in " <>()|"
                     else quote(c.encode("utf-8", "surrogateescape"), safe="") for c in url)
    return f"[{_md_text(url)}]({target})"
