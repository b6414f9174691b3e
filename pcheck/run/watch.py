"""`pcheck watch`: check the same URLs every interval on a warm pool; report only what changed.

The Go status checker's loop (check every link, sleep, repeat) with the pool
kept between rounds, so connections stay open and workers stay started.
"""

from __future__ import annotations

import collections
import time
from typing import Callable, Iterable, Iterator

from pcheck.config import Config
from pcheck.check.fetch import sitemap_fetcher
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.links import LinkBase
from pcheck.inputs.sources import Source, iter_targets
from pcheck.models import CheckResult, ErrorKind, Outcome, Summary, Target
from pcheck.output.changes import Change, RoundSummary
from pcheck.run import procs
from pcheck.run.pool import CheckRun


def watch(run: CheckRun, make_items: Callable[[], Iterable[Target | CheckResult]], every_s: float,
          rounds: int | None = None, sleep: Callable[[float], None] = time.sleep) -> Iterator[Change | RoundSummary]:
    """Yield Changes as they happen and a RoundSummary after each round; stops after `rounds` or Ctrl-C."""
    last: dict[tuple[str, str | None, int | None], Outcome] = {}
    number = 0
    while rounds is None or number < rounds:
        number += 1
        started = time.monotonic()
        counts: collections.Counter[Outcome] = collections.Counter()
        tally = Summary()  # the round's state, judged as `check` judges a run
        changes = 0
        for result in run.results(make_items()):
            counts[result.outcome] += 1
            tally.add(result)
            if result.error is ErrorKind.CANCELLED:
                continue  # Ctrl-C cut the round short: no news about this URL
            key = (result.url, result.source, result.line)
            previous = last.get(key)
            last[key] = result.outcome
            if result.outcome is not previous and not (previous is None and result.outcome is Outcome.ALIVE):
                changes += 1
                yield Change(number, time.time(), result, previous)
        elapsed = time.monotonic() - started
        yield RoundSummary(number, dict(counts), changes, elapsed, run.interrupted, failed=tally.failed())
        if run.interrupted or (rounds is not None and number >= rounds):
            return
        sleep(max(0.0, every_s - elapsed))


def watch_sources(config: Config, sources: list[Source], every_s: float,
                  rounds: int | None = None) -> Iterator[Change | RoundSummary]:
    """`watch` over the sources on a pool of its own, which it stops (helpers too) when the caller stops."""
    try:
        with CheckRun(config) as run:
            fetch = sitemap_fetcher(config)
            yield from watch(run, lambda: filter_targets(iter_targets(sources, base=LinkBase.of(config), fetch=fetch), config),
                             every_s, rounds)
    finally:
        procs.stop_helper_processes()
