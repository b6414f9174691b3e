"""`pcheck watch`: check the same URLs every interval on a warm pool; report only what changed.

The Go status checker's loop (check every link, sleep, repeat) with the pool
kept between rounds, so connections stay open and workers stay started. The
items of each round come from the session's pipeline (run.session.watch_sources).
"""

from __future__ import annotations

import collections
import time
from typing import Callable, Iterable, Iterator

from pcheck.models import CheckResult, ErrorKind, Outcome, Summary, Target
from pcheck.output.changes import Change, RoundSummary
from pcheck.run.distributor import Distributor


def watch(run: Distributor, make_items: Callable[[], Iterable[Target | CheckResult]], every_s: float,
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
