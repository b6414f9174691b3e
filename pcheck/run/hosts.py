"""Per-host policy in one place: a queue per host, served round-robin, each host under its cap,
its interval between request starts, and its backoff after a 429 or 503.

Both distributors schedule with this class: the process pool in the parent
(every URL of the run, all workers together), and the Ray distributor inside
each shard task (a shard holds every waiting URL of its hosts, so its
scheduler sees every request to them).

A host that answers 429 (or 503) is slowed as a whole, not URL by URL: it is
paused for its Retry-After (capped), its concurrency halved and its interval
doubled; each round of answers that are not refusals gives one request of
concurrency back and halves the extra interval (additive increase,
multiplicative decrease, as TCP does). The refused URL goes back to the front
of its host's queue, as many times as it has retries (--retries 0: its refusal
stands): its siblings that were waiting never see the refusal. Without a Retry-After the
pause doubles from 1 s with each refusal in a row; no pause exceeds the cap
(--max-retry-after), and a Retry-After beyond it leaves the refusal standing.
A host that keeps refusing costs the run at most PAUSE_BUDGET pauses' worth (in
units of the cap), or MAX_REFUSALS_IN_A_ROW slowdowns without an answer between
them (a `Retry-After: 0` fills no pause budget): after that it is no longer paused
or slowed, and each of its URLs gets its own answer as its verdict. Refusals to requests sent before the last backoff
do not slow the host again: they were the same overload, seen late.

Not thread-safe: the pool's loop owns it; a Ray shard guards it with a lock.
"""

from __future__ import annotations

import collections
import heapq
import time
from dataclasses import dataclass
from typing import Callable

from pcheck.models import SLOW_DOWN_STATUSES, HostBackoff

#: The extra interval a refusal sets at least, and at most.
MIN_BACKOFF_INTERVAL_S = 0.1
MAX_BACKOFF_INTERVAL_S = 10.0
#: What a round of answers without a refusal leaves of the extra interval.
RECOVERY = 0.9
#: Pauses (in units of the pause cap) one host may cost the run before its refusals are taken as verdicts.
PAUSE_BUDGET = 2
#: Slowdowns in a row, with no round of answers between, after which a host's refusals are taken as verdicts.
MAX_REFUSALS_IN_A_ROW = 8
#: How long a host is paused after a refusal without a usable Retry-After.
DEFAULT_PAUSE_S = 1.0


@dataclass
class _Pace:
    """A host's adapted pace: its concurrency, extra interval, pause, and what it cost."""

    limit: int
    extra_interval: float = 0.0
    paused_until: float = 0.0
    backed_off_at: float = float("-inf")
    since_last_round: int = 0
    in_a_row: int = 0  # refusals since the last round of answers
    given_up: bool = False  # it kept refusing past PAUSE_BUDGET: no more pauses, its answers stand
    refusals: int = 0
    paused_s: float = 0.0


class HostScheduler:
    """Tasks waiting per host, and requests in flight per host, under `cap(host)` and `interval(host)`."""

    def __init__(self, cap: Callable[[str], int], interval: Callable[[str], float] = lambda host: 0.0,
                 max_pause_s: float = 30.0, deferrals: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._cap = cap
        self._interval = interval
        self._max_pause_s = max_pause_s
        #: Times one URL is put back behind its host's pause before its refusal is its verdict.
        self._max_deferrals = deferrals
        self._clock = clock
        self._pending: dict[str, collections.deque[int]] = {}
        self._ready: collections.deque[str] = collections.deque()  # hosts with a task and room, in turn
        self._ready_set: set[str] = set()
        self._sleeping: list[tuple[float, str]] = []  # (when it may start again, host), a heap
        self._sleeping_set: set[str] = set()
        self._load: collections.Counter[str] = collections.Counter()
        self._next_start: dict[str, float] = {}
        self._paces: dict[str, _Pace] = {}
        self._started: dict[int, float] = {}  # task -> when its request started
        self._deferrals: collections.Counter[int] = collections.Counter()
        #: Tasks queued, on every host.
        self.waiting = 0

    def add(self, task_id: int, host: str) -> None:
        """Queue a task behind the others of its host."""
        queue = self._pending.get(host)
        if queue is None:
            queue = self._pending[host] = collections.deque()
        queue.append(task_id)
        self.waiting += 1
        self._mark_ready(host)

    def has_ready(self) -> bool:
        """True when some host has a task waiting, room under its cap, and its interval passed."""
        self._wake()
        return bool(self._ready)

    def next_wake(self) -> float | None:
        """When the next host waiting only on its interval or pause may start (monotonic), if any."""
        return self._sleeping[0][0] if self._sleeping else None

    def next(self) -> tuple[int, str] | None:
        """The next task to start, hosts taken in turn, counted in flight; None if none may start now."""
        now = self._clock()
        self._wake(now)
        while self._ready:
            host = self._ready.popleft()
            self._ready_set.discard(host)
            if self._next_start.get(host, 0.0) > now:  # paused since it was queued ready
                self._sleep(host)
                continue
            if self._load[host] >= self._limit(host):  # its concurrency was lowered since: an answer re-queues it
                continue
            queue = self._pending[host]
            task_id = queue.popleft()
            self.waiting -= 1
            self._load[host] += 1
            self._started[task_id] = now
            gap = self._gap(host)
            if gap > 0:
                self._next_start[host] = now + gap
            if not queue:
                del self._pending[host]
            else:
                self._mark_ready(host)
            return task_id, host
        return None

    def has_room(self, host: str) -> bool:
        return self._load[host] < self._limit(host)

    def start(self, host: str) -> None:
        """Count a request to `host` started outside the queues (a dead worker's task, sent again)."""
        self._load[host] += 1

    def answered(self, task_id: int, host: str, status: int | None, retry_after_s: float | None) -> bool:
        """A request to `host` is over; True when it was refused for load and the task went back to the queue."""
        started = self._started.pop(task_id, None)
        self._release(host)
        if status not in SLOW_DOWN_STATUSES:
            self._deferrals.pop(task_id, None)
            pace = self._paces.get(host)
            if pace is not None and (started is None or started > pace.backed_off_at):  # sent at the slower pace
                self._recover(pace, host)
            self._mark_ready(host)
            return False
        pace = self._pace(host)
        pace.refusals += 1
        # A Retry-After beyond the cap is not waited for, by this URL or its host: its refusal stands.
        too_late = retry_after_s is not None and retry_after_s > self._max_pause_s
        fresh = started is None or started > pace.backed_off_at  # not the same overload, seen late
        if not pace.given_up and not too_late and fresh:
            self._back_off(host, pace, retry_after_s)
        if self._deferrals[task_id] >= self._max_deferrals or too_late or pace.given_up:
            del self._deferrals[task_id]
            self._mark_ready(host)
            return False
        self._deferrals[task_id] += 1
        queue = self._pending.get(host)
        if queue is None:
            queue = self._pending[host] = collections.deque()
        queue.appendleft(task_id)  # first in line once the pause is over
        self.waiting += 1
        self._mark_ready(host)
        return True

    def finished(self, host: str, task_id: int | None = None) -> None:
        """A request to `host` ended without an answer to judge (its worker died): its room goes to the next."""
        self._started.pop(task_id, None)  # type: ignore[arg-type]
        self._release(host)
        self._mark_ready(host)

    def backoffs(self) -> list[HostBackoff]:
        """Every host that refused for load: how often, and how long it was paused."""
        return [HostBackoff(host, pace.refusals, round(pace.paused_s, 3), pace.limit, pace.extra_interval)
                for host, pace in self._paces.items() if pace.refusals]

    def clear(self) -> None:
        """Forget every waiting task and every count (the run is being cancelled or abandoned)."""
        self._pending.clear()
        self._ready.clear()
        self._ready_set.clear()
        self._sleeping.clear()
        self._sleeping_set.clear()
        self._load.clear()
        self._started.clear()
        self.waiting = 0

    # -- pace --------------------------------------------------------------------------------------
    def _pace(self, host: str) -> _Pace:
        pace = self._paces.get(host)
        if pace is None:
            pace = self._paces[host] = _Pace(self._cap(host))
        return pace

    def _limit(self, host: str) -> int:
        pace = self._paces.get(host)
        cap = self._cap(host)
        return cap if pace is None or pace.given_up else min(cap, pace.limit)

    def _gap(self, host: str) -> float:
        pace = self._paces.get(host)
        return max(self._interval(host), pace.extra_interval if pace is not None and not pace.given_up else 0.0)

    def _back_off(self, host: str, pace: _Pace, retry_after_s: float | None) -> None:
        now = self._clock()
        if pace.paused_s >= PAUSE_BUDGET * self._max_pause_s or pace.in_a_row >= MAX_REFUSALS_IN_A_ROW:
            pace.given_up = True  # it refuses whatever the pace: each answer is its URL's verdict
            return
        pause = retry_after_s if retry_after_s is not None else DEFAULT_PAUSE_S * 2 ** min(pace.in_a_row, 10)
        pause = min(max(pause, 0.0), self._max_pause_s)
        pace.in_a_row += 1
        pace.limit = max(1, min(pace.limit, self._cap(host)) // 2)
        pace.extra_interval = min(MAX_BACKOFF_INTERVAL_S, max(MIN_BACKOFF_INTERVAL_S, 2 * pace.extra_interval,
                                                              self._interval(host)))
        pace.since_last_round = 0
        pace.backed_off_at = now
        until = now + pause
        if until > pace.paused_until:
            pace.paused_s += until - max(now, pace.paused_until)
            pace.paused_until = until
        self._next_start[host] = max(self._next_start.get(host, 0.0), until)

    def _recover(self, pace: _Pace, host: str) -> None:
        pace.since_last_round += 1
        if pace.since_last_round >= pace.limit:  # a round of answers without a refusal
            pace.since_last_round = 0
            pace.in_a_row = 0
            pace.limit = min(self._cap(host), pace.limit + 1)
            # The interval comes back slowly (a tenth a round): the rate that drew the refusal is near.
            pace.extra_interval = pace.extra_interval * RECOVERY if pace.extra_interval > MIN_BACKOFF_INTERVAL_S / 4 else 0.0

    # -- queues ------------------------------------------------------------------------------------
    def _release(self, host: str) -> None:
        load = self._load[host] - 1
        if load > 0:
            self._load[host] = load
        else:  # never below zero: an answer arriving after clear() (a cancelled run) counts for nothing
            self._load.pop(host, None)
            # A host with nothing left to send forgets its next start: a million hosts hold nothing here.
            next_start = self._next_start.get(host)
            if next_start is not None and host not in self._pending and next_start <= self._clock():
                del self._next_start[host]

    def _mark_ready(self, host: str) -> None:
        if host in self._ready_set or host in self._sleeping_set or host not in self._pending:
            return
        if self._load[host] >= self._limit(host):
            return  # an answer (answered/finished) will call again
        next_start = self._next_start.get(host)
        if next_start is not None and next_start > self._clock():  # the clock is asked only of paced hosts
            self._sleep(host)
        else:
            self._ready_set.add(host)
            self._ready.append(host)

    def _sleep(self, host: str) -> None:
        if host not in self._sleeping_set:
            self._sleeping_set.add(host)
            heapq.heappush(self._sleeping, (self._next_start[host], host))

    def _wake(self, now: float | None = None) -> None:
        if not self._sleeping:
            return
        now = self._clock() if now is None else now
        while self._sleeping and self._sleeping[0][0] <= now:
            _, host = heapq.heappop(self._sleeping)
            self._sleeping_set.discard(host)
            self._mark_ready(host)
