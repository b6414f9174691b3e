"""Bounded memory (issue 13): what a report needs at its end waits on disk, and read-ahead counts occurrences.

Reporters are fed generated results and weighed with tracemalloc: Python
memory that a reporter holds must not grow with the number of results.
(SQLite's page cache, 2 MB a spool, is allocated outside Python's view and
bounded by SQLite; benchmarks/memory.py weighs the whole process tree.) The
read-ahead bound is watched from inside the input iterator, with one slow
URL of the local site repeated past the bound.
"""

from __future__ import annotations

import io
import os
import stat
import tracemalloc
from pathlib import Path
from typing import Iterator

import pytest

from pcheck.output import hosttable, spool
from pcheck.output import reports as report
from pcheck.config import Config
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import invalid_result, parse_url
from pcheck.run.ledger import Ledger
from pcheck.models import CheckResult, Outcome, Target, Verdict
from pcheck.run.pool import CheckRun, READ_AHEAD
from pcheck.output.reports import FORMATS, make_reporter

pytestmark = pytest.mark.timeout(60)

#: Results written before and after the reporter is weighed; MANY is far past every (shrunk) batch size.
FEW, MANY = 2_000, 14_000
#: What a reporter may grow by between FEW and MANY results (holding them all costs 2-8 MB).
MAX_GROWTH_BYTES = 1_000_000
#: Problems that surely overflow SQLite's default page cache (2 MB) onto the disk.
ROWS_PAST_PAGE_CACHE = 100_000
#: How long the slow URL takes to answer: far longer than reading past READ_AHEAD takes.
SLOW_MS = 2000


class Discard(io.TextIOBase):
    """A report stream that keeps nothing, so only the reporter's own memory is weighed."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def problem(i: int) -> CheckResult:
    return invalid_result(f"not a url {i}", "urls.txt", i + 1, "not an absolute http(s) URL")


def excluded_on_its_own_host(i: int) -> CheckResult:
    return CheckResult.of(f"http://h{i}.example/page?i={i}", "urls.txt", i + 1,
                          Verdict(Outcome.EXCLUDED, detail="matches an --exclude pattern"))


def broken_on_its_own_host(i: int) -> CheckResult:
    return CheckResult.of(f"http://h{i}.example/", "urls.txt", i + 1, Verdict(Outcome.BROKEN, status=429))


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of a few hundred, so the bounds are reached within a few thousand results (tracemalloc is slow)."""
    monkeypatch.setattr(spool, "SPOOL_BATCH", 200)
    monkeypatch.setattr(hosttable, "HOST_BATCH", 500)


def growth(reporter: report.Reporter, make) -> int:
    """Bytes of Python memory the reporter gained from result FEW to result MANY."""
    tracemalloc.start()
    try:
        for i in range(FEW):
            reporter.write(make(i))
        before = tracemalloc.get_traced_memory()[0]
        for i in range(FEW, MANY):
            reporter.write(make(i))
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        reporter.finish(1.0, False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_holds_constant_memory_however_many_invalid_lines(fmt, small_batches):
    assert growth(make_reporter(fmt, Discard()), problem) < MAX_GROWTH_BYTES


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "html"])
def test_host_stats_and_junit_hold_constant_memory_however_many_distinct_urls_and_hosts(fmt, small_batches):
    assert growth(make_reporter(fmt, Discard(), host_stats=True), excluded_on_its_own_host) < MAX_GROWTH_BYTES


def test_hints_hold_constant_memory_however_many_hosts_fail(small_batches):
    assert growth(make_reporter("text", Discard()), broken_on_its_own_host) < MAX_GROWTH_BYTES


def mixed_results() -> list[CheckResult]:
    """Every report feature: outcomes, several sources, lines out of order, ties, repeats, hosts, hints."""
    results = []
    for i in range(400):
        host = f"h{i % 7}.test"
        outcome = (Outcome.BROKEN, Outcome.BLOCKED, Outcome.ALIVE, Outcome.EXCLUDED, Outcome.INVALID,
                   Outcome.UNCHECKED)[i % 6]
        status = (404, 429, 200, None, None, None)[i % 6]
        source = ("b.md", "a.md", None, "c/urls.txt")[i % 4]
        line = None if i % 11 == 0 else (i * 37) % 50
        verdict = Verdict(outcome, status=status, elapsed_ms=float(i % 13),
                          detail="challenge" if i % 17 == 0 else None)
        results.append(CheckResult.of(f"http://{host}/p{i % 31}", source, line, verdict))
    return results


@pytest.mark.parametrize("fmt,options", [("text", {"host_stats": True}), ("markdown", {"host_stats": True}),
                                         ("junit", {}), ("junit", {"fail_on_blocked": True})])
def test_a_report_reads_the_same_whether_its_spool_was_written_in_one_batch_or_many(fmt, options, monkeypatch):
    def render() -> str:
        stream = io.StringIO()
        reporter = make_reporter(fmt, stream, **options)
        for result in mixed_results():
            reporter.write(result)
        reporter.finish(1.0, False)
        return stream.getvalue()

    whole = render()
    monkeypatch.setattr(spool, "SPOOL_BATCH", 3)
    monkeypatch.setattr(hosttable, "HOST_BATCH", 2)
    assert render() == whole
    assert "h0.test" in whole or fmt == "junit"


def spool_files() -> list[tuple[str, int]]:
    """(path, mode) of every file SQLite's temporary databases hold open in this process."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            mode = os.stat(f"/proc/self/fd/{fd}").st_mode
        except OSError:
            continue
        if Path(target.removesuffix(" (deleted)")).name.startswith("etilqs_"):
            found.append((target, mode))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads open files from /proc")
@pytest.mark.parametrize("fmt", ["text", "junit"])
def test_the_spool_is_a_private_file_already_unlinked_and_closed_by_finish(fmt):
    before = spool_files()
    reporter = make_reporter(fmt, Discard())
    opened: list = []
    for i in range(ROWS_PAST_PAGE_CACHE):  # SQLite writes the file once its page cache is full
        reporter.write(problem(i))
        if i % 1000 == 0 and (opened := [f for f in spool_files() if f not in before]):
            break
    assert opened, "no spool file on disk"
    for target, mode in opened:
        assert target.endswith(" (deleted)"), target  # no name left to find, even after SIGKILL
        assert stat.S_IMODE(mode) == 0o600, oct(mode)
    reporter.finish(1.0, False)
    assert [f for f in spool_files() if f not in before] == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads open files from /proc")
def test_a_reporter_closed_without_finishing_frees_its_spool():
    before = spool_files()
    reporter = make_reporter("markdown", Discard())
    for i in range(ROWS_PAST_PAGE_CACHE):
        reporter.write(problem(i))
    assert [f for f in spool_files() if f not in before] != []
    reporter.close()  # what an exception or Ctrl-C before finish leaves to do
    assert [f for f in spool_files() if f not in before] == []


# -- occurrences in the read-ahead bound ---------------------------------------------------------------


def test_the_ledger_counts_every_occurrence_it_holds():
    ledger = Ledger()
    a, b = parse_url("http://a.test/", ARGS_SOURCE, None), parse_url("http://b.test/", ARGS_SOURCE, None)
    first = ledger.admit(a)
    assert ledger.admit(a) is None and ledger.admit(a) is None  # duplicates join the waiting task
    ledger.admit(b)
    assert ledger.held == 4
    results = list(ledger.resolve(first, Verdict(Outcome.ALIVE, status=200)))
    assert len(results) == 3 and ledger.held == 1
    assert isinstance(ledger.admit(a), CheckResult) and ledger.held == 1  # decided: answered at once


def test_one_slow_url_repeated_past_the_read_ahead_bound_is_read_no_further_than_the_bound(lab):
    slow = parse_url(lab.url(f"delay/{SLOW_MS}"), ARGS_SOURCE, None)
    copies = READ_AHEAD + READ_AHEAD // 2
    held: list[int] = []

    with CheckRun(Config(processes=1, threads=2, timeout=10.0, retries=0)) as run:
        def items() -> Iterator[Target]:
            for _ in range(copies):
                # Occurrences the parent holds each time it reads one more (counted, not trusted to `held`).
                held.append(sum(len(task.occurrences) for task in run.ledger.tasks.values()))
                yield slow

        results = list(run.results(items()))
    assert max(held) <= READ_AHEAD
    assert len(results) == copies and {r.outcome for r in results} == {Outcome.ALIVE}
