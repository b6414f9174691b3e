"""The one owner of a run: inputs -> resume/cache -> distributor -> reporter, and how it ended.

  sources --read, filter--> resume.skip_finished --> cache.serve --> distributor.results
        --> cache.remember --> reporter (+ progress) --> Ending

Everything a run opens (cache, resumed report, report stream, progress,
worker processes) is opened and closed here, in that order, whatever ends
the run: its last record, Ctrl-C, SIGTERM, SIGHUP, a full disk. The CLI
only turns options into a `Config` and a `Plan`, and an `Ending` (or a
`PcheckError`) into an exit code.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, TextIO

from pcheck.check.fetch import sitemap_fetcher
from pcheck.config import DEFAULT_COLOR, DEFAULT_FORMAT, Config, is_small_run
from pcheck.errors import ConfigError, ReportError, StoreError
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.links import LinkBase
from pcheck.inputs.sources import Source, count_candidates, iter_targets
from pcheck.models import STDIN, CheckResult, Outcome, Summary, Target
from pcheck.output.problems import use_color
from pcheck.output.progress import Progress
from pcheck.output.changes import Change, RoundSummary
from pcheck.output.reporter import Reporter
from pcheck.output.reports import make_reporter
from pcheck.output.stream import (
    STDOUT_NAME,
    open_report,
    refuse_output_over_inputs,
    writing,
)
from pcheck.run import procs, signals
from pcheck.fix.moves import with_suggestion
from pcheck.run.distributor import Distributor
from pcheck.run.watch import watch

if TYPE_CHECKING:
    from pcheck.run.archiving import Archivist
    from pcheck.run.crawl import Crawler
    from pcheck.run.soft404 import Soft404Judge
    from pcheck.store.cache import VerdictCache
    from pcheck.store.resume import ResumeState

log = logging.getLogger("pcheck")


@dataclass(frozen=True)
class Plan:
    """What a run reads, keeps and writes; `Config` holds how each URL is checked."""

    sources: tuple[Source, ...]
    fmt: str = DEFAULT_FORMAT
    output: str | None = None  # None: stdout
    host_stats: bool = False
    #: The text report: -1 problems only (-q), 0 counts and problems, 1 every link (-v); and --color.
    verbosity: int = 0
    color: str = DEFAULT_COLOR
    progress: bool = False
    #: Carry on the jsonl report at `output`, skipping what it already holds.
    resume: bool = False
    #: The verdict cache's file (None: no cache), and how long a verdict is served from it.
    cache_path: str | None = None
    max_cache_age_s: float = 0.0
    #: Paths that are read besides the sources (config file, CA bundle): -o must not name one.
    other_inputs: tuple[str, ...] = ()
    #: --suggest: each result says its fix (fix/moves.with_suggestion), the reports list them.
    suggest: bool = False
    #: --archive (with --suggest): what asks the archive for dead links' copies (run/archiving), made and closed
    #: by the caller.
    archivist: Archivist | None = None
    #: `pcheck crawl`: the crawl that is the run's input instead of `sources` (run/crawl.Crawler), made by the caller.
    crawler: Crawler | None = None
    #: --soft-404: what judges the results for soft 404s (run/soft404), made and closed by the caller.
    soft404: Soft404Judge | None = None


@dataclass(frozen=True)
class Ending:
    """How a run ended; the CLI maps it to an exit code."""

    summary: Summary
    #: Ctrl-C, a signal or `cancel()` cut the run short.
    interrupted: bool
    #: The ending signal's number (SIGINT, SIGTERM, SIGHUP) if one arrived, else None.
    signal: int | None

    def failed(self, fail_on_blocked: bool) -> bool:
        return self.summary.failed(fail_on_blocked)


class Session:
    """One run of `pcheck check` (or the demo): open everything, stream results, close everything."""

    def __init__(self, config: Config, plan: Plan,
                 on_result: Callable[[CheckResult], None] | None = None) -> None:
        self.config = config
        self.plan = plan
        self.on_result = on_result
        if plan.resume and (plan.fmt != "jsonl" or not plan.output):
            raise ConfigError("--resume needs --format jsonl and -o FILE (the report to carry on)")
        named = [s.name for s in plan.sources if s.kind in ("file", "document") and s.name != STDIN]
        extra = [*plan.other_inputs, *([plan.cache_path] if plan.cache_path else [])]
        refuse_output_over_inputs(plan.output, [*named, *extra], any(s.name == STDIN for s in plan.sources))

    def run(self) -> Ending:
        """Check every source; raises StoreError before anything is written, ReportError if the report fails."""
        plan = self.plan
        with contextlib.ExitStack() as opened:
            opened.callback(procs.stop_helper_processes)  # no zombie fork server or tracker after the run
            if self.config.distributor != "ray" and (plan.crawler is not None or not _small(plan.sources, self.config)):
                procs.prestart()  # its imports overlap the reading of the inputs
            # The cache first: a cache that cannot be used must stop the run before the report is touched.
            cache = resume = None
            try:
                if plan.cache_path:
                    from pcheck.store.cache import VerdictCache

                    cache = VerdictCache(plan.cache_path, self.config, plan.max_cache_age_s)
                    opened.callback(cache.close)
                if plan.resume:
                    from pcheck.store.resume import ResumeState

                    resume = ResumeState(plan.output)  # type: ignore[arg-type]
                    opened.callback(resume.close)
            except OSError as exc:
                raise StoreError(str(exc)) from exc
            if resume is not None and resume.repaired_bytes:
                log.warning("%s: cut a torn last record (%d bytes)", plan.output, resume.repaired_bytes)
            stream = open_report(plan.output, resume)
            return self._stream(stream, resume, cache)

    def render(self, records: Iterable[CheckResult], elapsed_s: float = 0.0) -> Ending:
        """--render-from: the report of an earlier run's `records` (read back from its jsonl), checking
        nothing; judged by this run's policy, so the Ending is the one that run had."""
        stream = open_report(self.plan.output)
        name = self.plan.output or STDOUT_NAME
        reporter = make_reporter(self.plan.fmt, stream, host_stats=self.plan.host_stats,
                                 fail_on_blocked=self.config.fail_on_blocked, verbosity=self.plan.verbosity,
                                 color=use_color(self.plan.color, stream), timeout_s=self.config.timeout,
                                 summary=self._tally(None))
        try:
            with writing(stream, name):
                for result in records:
                    reporter.write(result)
        except BaseException:
            reporter.close()
            raise
        finish_report(reporter, stream, name, elapsed_s, False)
        return Ending(reporter.summary, False, None)

    def dump(self, on_problem: Callable[[CheckResult], None] | None = None) -> Ending:
        """--dump: write the links a run would check (after --include/--exclude), local ones too, to the report;
        request none.

        What is not a link to check but a problem a run would report (an invalid line, a missing local
        file, an unreadable document) goes to `on_problem`, and counts in the Ending as in a run.
        """
        from pcheck.output.dump import DUMP_FORMATS, dump_line, is_local_link

        if self.plan.fmt not in DUMP_FORMATS:
            raise ConfigError("--dump writes text or jsonl (--format)")
        summary = Summary(fail_after=self.config.fail_after, accept_transient=self.config.accept_transient)
        stream = open_report(self.plan.output)
        with writing(stream, self.plan.output or STDOUT_NAME):
            for item in targets(self.config, list(self.plan.sources)):
                if isinstance(item, Target) or is_local_link(item):  # a local link: checked on disk, listed too
                    stream.write(dump_line(item, self.plan.fmt) + "\n")
                    if isinstance(item, Target):
                        continue
                summary.add(item)
                if on_problem is not None and item.outcome not in (Outcome.ALIVE, Outcome.EXCLUDED):
                    on_problem(item)
            stream.flush()
            if stream is not sys.stdout:
                stream.close()
        return Ending(summary, False, None)

    def _stream(self, stream: TextIO, resume: ResumeState | None, cache: VerdictCache | None) -> Ending:
        plan, config = self.plan, self.config
        name = plan.output or STDOUT_NAME
        try:
            total = count_candidates(plan.sources) if plan.progress and plan.crawler is None else None  # a crawl: unknown
            cancel_at_once = False
        except KeyboardInterrupt:  # interrupted while counting: every URL is reported cancelled
            total, cancel_at_once = None, True
        bar = Progress(total, enabled=plan.progress)
        tally = self._tally(resume)
        reporter = make_reporter(plan.fmt, stream, host_stats=plan.host_stats, fail_on_blocked=config.fail_on_blocked,
                                 verbosity=plan.verbosity, color=use_color(plan.color, stream), timeout_s=config.timeout,
                                 summary=tally)
        started = time.monotonic()
        interrupted = cancel_at_once
        try:
            with open_distributor(config) as run:
                if cancel_at_once:
                    run.cancel()
                try:
                    with writing(stream, name):  # the report cannot be written: stop, nobody would read it
                        def idle() -> None:  # the run is about to wait: flush the report, say what it waits for
                            reporter.flush()
                            bar.rechecks(run.rechecks_waiting())

                        results = pipeline(config, list(plan.sources), run, resume=resume, cache=cache, idle=idle) \
                            if plan.crawler is None else plan.crawler.results(run, resume, cache, idle)
                        if plan.soft404 is not None:
                            results = plan.soft404.judging(results)
                        if plan.archivist is not None:
                            results = plan.archivist.suggesting(results)
                        for result in results:
                            if plan.suggest:
                                result = with_suggestion(result, config.base_url)
                            reporter.write(result)
                            bar.update(result)
                            if self.on_result is not None:
                                self.on_result(result)
                except ReportError:
                    reporter.close()  # its spool: the summary will never be written
                    raise
                interrupted = interrupted or run.interrupted
                reporter.backoffs = run.backoffs()
                if plan.crawler is not None:
                    reporter.notes = plan.crawler.said()
                if run.input_cut:
                    log.warning("input not read to its end: %s", run.input_cut)
        except KeyboardInterrupt:  # a third signal (the run did not end after two): stop now, keep what was written
            interrupted = True
        finally:
            bar.close()
        if cache is not None:
            tally.cached += cache.hits
        finish_report(reporter, stream, name, time.monotonic() - started, interrupted)
        if resume is not None and not interrupted and signals.received.first is None:
            _compact(resume)
        return Ending(tally, interrupted or signals.received.first is not None, signals.received.first)

    def _tally(self, resume: ResumeState | None) -> Summary:
        """The run's counts, owned here: its policy for forgiving failures, and under --resume the counts of
        the report carried on (the exit code covers the whole report). The reporter counts each record in
        it, the session adds the cache's answers, and the Ending carries it to the exit code."""
        tally = Summary(accept_transient=self.config.accept_transient, fail_after=self.config.fail_after)
        if resume is not None:
            tally.counts.update(resume.counts)
        return tally


def _compact(resume: ResumeState) -> None:
    """A resumed run that ended: its report without the superseded `unchecked` records (kept, with a
    warning, if the copy cannot be written: the last record for an occurrence still wins)."""
    try:
        resume.compact()
    except OSError as exc:
        log.warning("%s: superseded unchecked records left in the report (%s); the last record for an "
                    "occurrence is the one that counts", resume.path, exc.strerror or exc)


def _small(sources: tuple[Source, ...], config: Config) -> bool:
    """A few URL arguments: the pool will check them in this process (Config.small_run), no fork server needed."""
    return is_small_run(len(sources), config.small_run) and all(s.kind == "url" for s in sources)


def finish_report(reporter: Reporter, stream: TextIO, name: str, elapsed_s: float, interrupted: bool) -> None:
    """Write the summary and close the report; a signal now waits for the report to be whole.

    The first ending signal during this step is only recorded; a second one (not the first delivered
    again: signals.Repeats) stops the writing. ReportError if the report cannot be written.
    """
    seen = []
    repeats = signals.Repeats()

    def defer(signum: int, frame: object) -> None:
        if repeats.counts():
            seen.append(signum)
        if len(seen) >= 2:
            raise signals.Interrupted

    try:
        with signals.handling(defer), writing(stream, name):
            reporter.finish(elapsed_s, interrupted)
            if stream is not sys.stdout:
                stream.close()
    except KeyboardInterrupt:
        pass


def open_distributor(config: Config) -> Distributor:
    """The distributor `config.distributor` names; Ray is imported only when asked for."""
    if config.distributor == "ray":
        from pcheck.run.ray import RayRun

        return RayRun(config)
    from pcheck.run.pool import CheckRun

    return CheckRun(config)


def watch_sources(config: Config, sources: list[Source], every_s: float,
                  rounds: int | None = None) -> Iterator[Change | RoundSummary]:
    """`pcheck watch`: every round reads the sources through the same pipeline as a run (`targets`), on one
    distributor kept between rounds; it and the helper processes stop when the caller stops."""
    try:
        with open_distributor(config) as run:
            yield from watch(run, lambda: targets(config, sources), every_s, rounds)
    finally:
        procs.stop_helper_processes()


def check_sources(config: Config, sources: list[Source], progress: bool = False, cache_path: str | None = None,
                  max_cache_age_s: float = 0.0) -> Iterator[CheckResult]:
    """Every result of a check of `sources` (`pcheck fix`'s), with a progress bar if `progress`, no report;
    with `cache_path`, the verdict cache served and kept, and broken links' history moved (their
    failing_since). The distributor and the helper processes stop when the caller stops. A signal ends
    the results early (`signals.received` says which)."""
    bar = Progress(count_candidates(sources) if progress else None, enabled=progress)
    if cache_path:
        from pcheck.store.cache import VerdictCache
    cache = VerdictCache(cache_path, config, max_cache_age_s) if cache_path else None
    try:
        with open_distributor(config) as run:
            for result in pipeline(config, sources, run, cache=cache):
                bar.update(result)
                yield result
    finally:
        bar.close()
        if cache is not None:
            cache.close()
        procs.stop_helper_processes()


def targets(config: Config, sources: list[Source], stdin: BinaryIO | None = None,
            resume: ResumeState | None = None, cache: VerdictCache | None = None) -> Iterator[Target | CheckResult]:
    """The input side: read, filter, skip what a resumed report holds, answer from the cache."""
    items = filter_targets(iter_targets(sources, stdin, LinkBase.of(config), sitemap_fetcher(config)), config)
    if resume is not None:
        items = resume.skip_finished(items)
    if cache is not None:
        items = cache.serve(items)
    return items


def links_to_check(config: Config, sources: list[Source]) -> Iterator[Target]:
    """The links a run would check (--dump): read and filtered, never requested (sitemaps are fetched, to be read)."""
    for item in targets(config, sources):
        if isinstance(item, Target):
            yield item


def pipeline(config: Config, sources: list[Source], run: Distributor, stdin: BinaryIO | None = None,
             resume: ResumeState | None = None, cache: VerdictCache | None = None,
             idle: Callable[[], None] | None = None) -> Iterator[CheckResult]:
    """The sources, streamed through an open distributor: one result per occurrence."""
    results = run.results(targets(config, sources, stdin, resume, cache), idle)
    return cache.remember(results) if cache is not None else results
