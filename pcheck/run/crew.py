"""A worker's checker threads: a few at first, more only while the checks wait on the network.

More threads than checks in flight help only when the checks wait on servers.
When the answers come back at once (a local site, a fast CDN) every thread is
waiting for the GIL instead, and each one more costs CPU in hand-offs: 128
threads checked a CPU-bound list 15 % slower than 64, and a list of slow hosts
30 % faster. So the crew starts with THREADS_AT_START and doubles, up to
--threads, while checks wait for a thread, a check takes GROW_RATIO times
longer than its share of the one GIL would make it (its own CPU time times
the threads), and the process uses under MAX_BUSY of a core. This is Little's
law with the GIL as the server: if N threads each need c of CPU and a check
takes L, they keep the GIL busy N*c/L of the time; well under 1, threads are
parked on sockets, and more of them check more URLs at once. The process's
own CPU use guards the estimate: a check's thread time misses the reader and
sender threads. Threads never stop before the worker does.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable

#: Checker threads a worker starts with (and the most a CPU-bound list got anything from: 16-64 were alike).
THREADS_AT_START = 32
#: How often the crew looks at the checks finished since its last look.
LOOK_EVERY_S = 0.05
#: Checks that must have finished since the last look before it judges anything.
MIN_CHECKS = 8
#: More threads while a check takes this many times its share of the GIL (N threads x its CPU time):
#: the GIL busy under half the time. Doubling the threads then still nearly doubles the checks in flight.
GROW_RATIO = 2.0
#: ... and while the whole process uses less than this many cores (one GIL: at most about 1).
MAX_BUSY = 0.5


class _Tally:
    """One thread's finished checks: count, wall time and its own CPU time (written by that thread only)."""

    __slots__ = ("checks", "wall_s", "cpu_s")

    def __init__(self) -> None:
        self.checks, self.wall_s, self.cpu_s = 0, 0.0, 0.0


class Crew:
    """The checker threads of one worker, fed from `tasks`; `loop(check, tasks, tally)` is each thread's body."""

    def __init__(self, check_fns: list[Callable], tasks: queue.SimpleQueue,
                 loop: Callable[[Callable, queue.SimpleQueue, _Tally], None]) -> None:
        self._fns, self._tasks, self._loop = check_fns, tasks, loop
        self.threads: list[threading.Thread] = []
        self._tallies: list[_Tally] = []
        self._lock = threading.Lock()  # the grower and stop() never start threads at the same time
        self._stopped = False
        self._done = threading.Event()
        self._seen = (0, 0.0, 0.0)
        self._seen_at = (time.monotonic(), time.process_time())
        self._grow(min(THREADS_AT_START, len(check_fns)))
        if len(self.threads) < len(check_fns):
            threading.Thread(target=self._watch, name="pcheck-crew", daemon=True).start()

    def _grow(self, n: int) -> None:
        with self._lock:
            if self._stopped:
                return
            for fn in self._fns[len(self.threads): len(self.threads) + n]:
                tally = _Tally()
                thread = threading.Thread(target=self._loop, args=(fn, self._tasks, tally),
                                          name=f"pcheck-check-{len(self.threads)}", daemon=True)
                thread.start()
                self.threads.append(thread)
                self._tallies.append(tally)

    def _watch(self) -> None:
        while not self._done.wait(LOOK_EVERY_S) and len(self.threads) < len(self._fns):
            if self.should_grow():
                self._grow(len(self.threads))

    def should_grow(self) -> bool:
        """Checks are waiting for a thread, and the threads' checks keep the GIL well under busy."""
        tallies = list(self._tallies)
        now = (sum(t.checks for t in tallies), sum(t.wall_s for t in tallies), sum(t.cpu_s for t in tallies))
        checks, wall_s, cpu_s = (a - b for a, b in zip(now, self._seen))
        if checks < MIN_CHECKS:
            return False  # too few to judge: keep the counts for the next look
        at = (time.monotonic(), time.process_time())
        busy = (at[1] - self._seen_at[1]) / max(1e-9, at[0] - self._seen_at[0])  # cores this process used
        self._seen, self._seen_at = now, at
        if self._tasks.qsize() == 0:
            return False  # every check has a thread already
        # The checks' own CPU misses the process's other threads (reading tasks, sending verdicts), and a
        # process that gets less than a core looks slow: its CPU use says whether the GIL is busy already.
        return busy < MAX_BUSY and wall_s > GROW_RATIO * len(tallies) * cpu_s

    @property
    def looked_at(self) -> int:
        """Checks the crew has judged so far (each look takes in those that ended since the last)."""
        return self._seen[0]

    def stop(self) -> int:
        """No more threads; returns how many there are (each needs its own end-of-tasks marker)."""
        with self._lock:
            self._stopped = True
            self._done.set()
            return len(self.threads)


def timed(check: Callable, tally: _Tally, *args: object) -> object:
    """check(*args), its wall and CPU time added to the thread's tally."""
    wall, cpu = time.monotonic(), time.thread_time()
    try:
        return check(*args)
    finally:
        tally.checks += 1
        tally.wall_s += time.monotonic() - wall
        tally.cpu_s += time.thread_time() - cpu
