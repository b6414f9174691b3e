"""The late re-check: a transient failure (a timeout, a refused connection, a 5xx, a 429) is checked once more,
some seconds later, and that verdict replaces the first.

Retries inside a check all fall within the same bad seconds (a host down for 6 s fails every URL
in under 4 s); the late re-check comes after the blip. The wait is counted from each failure, so it
overlaps the rest of the run, and a run with nothing to re-check never waits. A definitive answer
(404, an invalid URL, a certificate that does not verify) is never asked twice. If the run ends
first (Ctrl-C), the first verdict stands and says it was not re-checked.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import replace
from typing import Callable

from pcheck.models import Outcome, Verdict, is_transient


#: Outcomes whose transient failures are checked once more: broken ones, and a 429 (blocked).
RECHECKED = frozenset({Outcome.BROKEN, Outcome.BLOCKED})


class LateRechecks:
    """Tasks held for their late re-check, due `after_s` seconds after their first verdict."""

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self._clock = clock
        self._due: list[tuple[float, int]] = []  # (when, task id), a heap
        self._first: dict[int, Verdict] = {}  # task id -> its first verdict, while its re-check waits or runs

    @property
    def waiting(self) -> int:
        """Failures waiting for (or in) their re-check."""
        return len(self._first)

    def next_due(self) -> float | None:
        return self._due[0][0] if self._due else None

    def hold(self, task_id: int, verdict: Verdict) -> Verdict | None:
        """The verdict to report now, or None when it is held for a re-check (a first transient failure).

        A re-check's own verdict comes back combined with the first (see `rechecked`)."""
        first = self._first.pop(task_id, None)
        if first is not None:
            return rechecked(first, verdict, self.after_s)
        # A 429 that outlasted its retries (blocked) is rate limiting, which passes too: asked once more later.
        if self.after_s > 0 and verdict.outcome in RECHECKED \
                and is_transient(verdict.status, verdict.error, verdict.detail):
            self._first[task_id] = verdict
            heapq.heappush(self._due, (self._clock() + self.after_s, task_id))
            return None
        return verdict

    def due(self) -> list[int]:
        """The tasks whose re-check may start now."""
        now, ready = self._clock(), []
        while self._due and self._due[0][0] <= now:
            ready.append(heapq.heappop(self._due)[1])
        return ready

    def abandon(self, why: str) -> list[tuple[int, Verdict]]:
        """Every held task with its first verdict, saying it was not re-checked (the run is ending)."""
        self._due.clear()
        held, self._first = self._first, {}
        note = f"not re-checked: {why}"
        return [(task_id, replace(v, detail=f"{v.detail}; {note}" if v.detail else note)) for task_id, v in held.items()]


def rechecked(first: Verdict, again: Verdict, after_s: float) -> Verdict:
    """The re-check's verdict, which replaces the first; its detail says what the first one was."""
    said = str(first.status) if first.error is None and first.status is not None else (first.error.value if first.error else "?")
    how = "alive" if again.outcome is Outcome.ALIVE else "failed again"
    note = f"{how} on a re-check {after_s:g} s later (first: {said})"
    return replace(again, attempts=first.attempts + again.attempts, detail=f"{again.detail}; {note}" if again.detail else note)
