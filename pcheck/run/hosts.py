"""Per-host policy in one place: a queue per host, served round-robin, each host under its cap,
its interval between request starts, and what a 429 or 503 costs the URL and its host.

Both distributors schedule with this class: the process pool in the parent
(every URL of the run, all workers together), and the Ray distributor inside
each shard task (a shard holds every waiting URL of its hosts, so its
scheduler sees every request to them).

A refusal (429, 503) is first the URL's answer: the refused URL waits its own
backoff (its Retry-After within --max-retry-after, else exponential with
jitter from --backoff-base) and goes back to the front of its host's queue, at
most --retries times; its next try uses GET, and waits for the host's cap and
any slowdown, not for its turn in the configured --host-interval (that spaces
the host's URLs, and the try comes after its own wait, never shorter than the
interval). The
host is slowed only when the refusals are its state: `run/pace.py` holds that
rule, and how the pace comes back.

Not thread-safe: the pool's loop owns it; a Ray shard guards it with a lock.
"""

from __future__ import annotations

import collections
import heapq
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from pcheck.models import SLOW_DOWN_STATUSES, HostBackoff, Outcome, Verdict
from pcheck.run.pace import Pace

if TYPE_CHECKING:
    from pcheck.config import Config


@dataclass
class _Retry:
    """A refused URL between its tries: how often it was put back, and the requests its tries made."""

    deferrals: int = 0
    spent: int = 0
    last: bool = False  # a re-check: no retries at all


#: Paces kept before the calm ones (never slowed, nothing of late to weigh) are forgotten, their counts kept.
MAX_PACES = 4096
#: How late a due start may be and still count from when it was due: the loop's own latency, not a pause.
CATCH_UP_S = 0.005


def scheduler_for(config: Config) -> HostScheduler:
    """The scheduler a run's settings ask for (the pool's parent and every Ray shard build theirs here)."""
    return HostScheduler(config.max_per_host_for, config.host_interval_for, config.max_retry_after,
                         deferrals=config.retries, retry_wait=config.retry_wait)


class HostScheduler:
    """Tasks waiting per host, and requests in flight per host, under `cap(host)` and `interval(host)`."""

    def __init__(self, cap: Callable[[str], int], interval: Callable[[str], float] = lambda host: 0.0,
                 max_pause_s: float = 30.0, deferrals: int = 1, clock: Callable[[], float] = time.monotonic,
                 retry_wait: Callable[[int], float] = lambda attempt: 0.5 * 2 ** attempt) -> None:
        self._cap = cap
        self._interval = interval
        self._max_pause_s = max_pause_s
        #: Times one URL is put back after a refusal before its refusal is its verdict (--retries).
        self._max_deferrals = deferrals
        self._retry_wait = retry_wait
        self._clock = clock
        self._pending: dict[str, collections.deque[int]] = {}
        self._ready: collections.deque[str] = collections.deque()  # hosts with a task and room, in turn
        self._ready_set: set[str] = set()
        self._sleeping: list[tuple[float, str]] = []  # (when it may start again, host), a heap
        self._sleeping_set: set[str] = set()
        self._deferred: list[tuple[float, int, str]] = []  # (when, task, host): refused URLs waiting their backoff
        self._tries: collections.deque[tuple[int, str]] = collections.deque()  # their wait is over: next to start
        self._load: collections.Counter[str] = collections.Counter()
        self._next_start: dict[str, float] = {}
        self._paces: dict[str, Pace] = {}
        #: Refusals of hosts whose pace was forgotten (calm, never slowed): a million hosts that each refused
        #: once hold a count each, not a pace.
        self._calm_refusals: collections.Counter[str] = collections.Counter()
        self._started: dict[int, float] = {}  # task -> when its request started
        self._retries: dict[int, _Retry] = {}
        #: Tasks queued or waiting their backoff, on every host.
        self.waiting = 0

    def add(self, task_id: int, host: str, last_try: bool = False) -> None:
        """Queue a task behind the others of its host; `last_try`: a refusal will be its verdict (a re-check)."""
        if last_try:
            self._retries[task_id] = _Retry(self._max_deferrals, last=True)
        self._queue(host).append(task_id)
        self.waiting += 1
        self._mark_ready(host)

    def try_of(self, task_id: int) -> tuple[bool, bool]:
        """(again, last): the task was refused before or is a re-check (its request goes straight to GET), and
        its answer will be its verdict whatever it is (no retries left, or a re-check)."""
        retry = self._retries.get(task_id)
        if retry is None:
            return False, self._max_deferrals == 0
        return True, retry.last or retry.deferrals >= self._max_deferrals

    def has_ready(self) -> bool:
        """True when some host has a task waiting, room under its cap, and its interval passed."""
        self._wake()
        return bool(self._ready or self._tries)

    def next_wake(self) -> float | None:
        """When the next host waiting on its interval or pause, or the next refused URL, may start (monotonic)."""
        wakes = [w[0][0] for w in (self._sleeping, self._deferred) if w]
        return min(wakes) if wakes else None

    def next(self) -> tuple[int, str] | None:
        """The next task to start, hosts taken in turn, counted in flight; None if none may start now."""
        now = self._clock()
        self._wake(now)
        while self._tries:  # a refused URL's next try: under the cap, not behind the interval
            task_id, host = self._tries.popleft()
            if self._load[host] < self._limit(host) and not self._held(host, now):
                self.waiting -= 1
                self._load[host] += 1
                self._started[task_id] = now
                return task_id, host
            self._queue(host).appendleft(task_id)  # no room, or paused since: first in its host's line
            self._mark_ready(host)
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
            gap, slowed = self._gap(host)
            if gap > 0:
                # Counted from when this start was due, not from when the loop got to it: a loop that wakes
                # a millisecond late each time would otherwise cost a 150-URL host 0.1 s (a token bucket's way).
                # Not for a slowed host: its pace is a guess at what it can take, better erred on the slow side.
                due = None if slowed else self._next_start.get(host)
                self._next_start[host] = (due if due is not None and 0.0 <= now - due < CATCH_UP_S else now) + gap
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

    def answered(self, task_id: int, host: str, verdict: Verdict) -> Verdict | None:
        """A request to `host` is over: the task's verdict (its attempts counting every try), or None when it
        was refused and waits its backoff for another try."""
        started = self._started.pop(task_id, None)
        self._release(host)
        refused = (verdict.status in SLOW_DOWN_STATUSES and verdict.error is None
                   and verdict.outcome is not Outcome.ALIVE)
        pace = self._paces.get(host)
        if pace is None and not refused and verdict.quota_wait_s is None:  # the common case: a host that never refused
            self._mark_ready(host)
            return self._final(task_id, verdict)
        now = self._clock()
        pace = pace or self._pace(host)
        pace.recover(now)
        if verdict.quota_wait_s is not None:
            self._pause(host, pace.wait_for_quota(now, verdict.quota_wait_s, self._max_pause_s))
        retry_after = verdict.retry_after_s
        # A Retry-After beyond the cap is not waited for, by this URL or its host: its refusal stands.
        too_late = retry_after is not None and retry_after > self._max_pause_s
        fresh = started is None or started > pace.backed_off_at  # not the same overload, seen late
        if fresh and not too_late and not pace.given_up and task_id not in self._retries:
            share = pace.weigh(now, task_id, refused)
            if share is not None:
                self._pause(host, pace.back_off(now, share, retry_after, self._max_pause_s))
        if not refused:
            self._mark_ready(host)
            return self._final(task_id, verdict)
        pace.refusals += 1
        retry = self._retries.get(task_id) or self._retries.setdefault(task_id, _Retry())
        if too_late or retry.deferrals >= self._max_deferrals:
            self._mark_ready(host)
            return self._final(task_id, verdict)
        # Never sooner than the host's interval, whatever it said (a `Retry-After: 0` on every answer).
        wait = max(retry_after if retry_after is not None else self._retry_wait(retry.deferrals), self._interval(host))
        retry.deferrals += 1
        retry.spent += verdict.attempts
        heapq.heappush(self._deferred, (now + max(0.0, wait), task_id, host))
        self.waiting += 1
        self._mark_ready(host)
        return None

    def finished(self, host: str, task_id: int | None = None) -> None:
        """A request to `host` ended without an answer to judge (its worker died): its room goes to the next."""
        self._started.pop(task_id, None)  # type: ignore[arg-type]
        self._release(host)
        self._mark_ready(host)

    def backoffs(self) -> list[HostBackoff]:
        """Every host that refused: how often, and (`reason` set) why and how long it was slowed and paused."""
        now = self._clock()
        found = [HostBackoff(host, refusals, 0.0, self._cap(host), 0.0) for host, refusals in self._calm_refusals.items()
                 if host not in self._paces]
        for host, pace in self._paces.items():
            pace.recover(now)
            slowed_s = pace.slowed_s + (now - pace.slowed_since if pace.slowed_since is not None else 0.0)
            refusals = pace.refusals + self._calm_refusals.get(host, 0)
            found.append(HostBackoff(host, refusals, round(pace.paused_s, 3), pace.limit, pace.extra_interval,
                                     round(slowed_s, 3), pace.reason))
        return found

    def clear(self) -> None:
        """Forget every waiting task and every count (the run is being cancelled or abandoned)."""
        self._pending.clear()
        self._ready.clear()
        self._ready_set.clear()
        self._sleeping.clear()
        self._sleeping_set.clear()
        self._deferred.clear()
        self._tries.clear()
        self._load.clear()
        self._started.clear()
        self._retries.clear()
        self.waiting = 0

    # -- tries ---------------------------------------------------------------------------------------
    def _final(self, task_id: int, verdict: Verdict) -> Verdict:
        retry = self._retries.pop(task_id, None)
        return replace(verdict, attempts=verdict.attempts + retry.spent) if retry is not None and retry.spent else verdict

    # -- pace --------------------------------------------------------------------------------------
    def _pace(self, host: str) -> Pace:
        pace = self._paces.get(host)
        if pace is None:
            if len(self._paces) >= MAX_PACES:
                self._forget_calm_paces()
            cap = self._cap(host)
            pace = self._paces[host] = Pace(cap, cap, self._interval(host))
        return pace

    def _forget_calm_paces(self) -> None:
        now = self._clock()
        for host in [h for h, pace in self._paces.items() if pace.calm(now)]:
            self._calm_refusals[host] += self._paces.pop(host).refusals

    def _limit(self, host: str) -> int:
        pace = self._paces.get(host)
        if pace is None or pace.given_up or pace.slowed_since is None:  # not slowed: its cap (no clock asked)
            return self._cap(host)
        pace.recover(self._clock())
        return pace.limit

    def _gap(self, host: str) -> tuple[float, bool]:
        """The time between two starts to this host, and whether it is slowed."""
        pace = self._paces.get(host)
        slowed = pace is not None and not pace.given_up and pace.slowed()
        return max(self._interval(host), pace.extra_interval if slowed else 0.0), slowed

    def _held(self, host: str, now: float) -> bool:
        """Slowed or paused: a refused URL's next try keeps to the host's pace, not only its cap."""
        pace = self._paces.get(host)
        return pace is not None and (pace.slowed() or pace.paused_until > now)

    def _pause(self, host: str, until: float | None) -> None:
        if until is not None:
            self._next_start[host] = max(self._next_start.get(host, 0.0), until)

    # -- queues ------------------------------------------------------------------------------------
    def _queue(self, host: str) -> collections.deque[int]:
        queue = self._pending.get(host)
        if queue is None:
            queue = self._pending[host] = collections.deque()
        return queue

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
        if not self._sleeping and not self._deferred:
            return
        now = self._clock() if now is None else now
        while self._deferred and self._deferred[0][0] <= now:  # a refused URL's backoff is over
            _, task_id, host = heapq.heappop(self._deferred)
            if self._held(host, now):
                self._queue(host).appendleft(task_id)  # a slowed host's pace binds it: first in line
                self._mark_ready(host)
            else:
                self._tries.append((task_id, host))
        while self._sleeping and self._sleeping[0][0] <= now:
            _, host = heapq.heappop(self._sleeping)
            self._sleeping_set.discard(host)
            self._mark_ready(host)
