"""Per-host policy in one place: a queue per host, served round-robin, each host under its cap.

Both distributors schedule with this class: the process pool in the parent
(every URL of the run, all workers together), and the Ray distributor inside
each shard task (a shard holds every waiting URL of its hosts, so its
scheduler sees every request to them). Whatever is added here later
(intervals between requests, backoff after a 429) holds under both.

Not thread-safe: the pool's loop owns it; a Ray shard guards it with a lock.
"""

from __future__ import annotations

import collections
from typing import Callable


class HostScheduler:
    """Tasks waiting per host, and requests in flight per host, under `cap(host)`."""

    def __init__(self, cap: Callable[[str], int]) -> None:
        self._cap = cap
        self._pending: dict[str, collections.deque[int]] = {}
        self._ready: collections.deque[str] = collections.deque()  # hosts with a task and room, in turn
        self._ready_set: set[str] = set()
        self._load: collections.Counter[str] = collections.Counter()
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
        """True when some host has a task waiting and room under its cap."""
        return bool(self._ready)

    def next(self) -> tuple[int, str] | None:
        """The next task to start, hosts taken in turn, counted in flight; None if every host is at its cap."""
        if not self._ready:
            return None
        host = self._ready.popleft()
        queue = self._pending[host]
        task_id = queue.popleft()
        self.waiting -= 1
        self._load[host] += 1
        if not queue:
            del self._pending[host]
            self._ready_set.discard(host)
        elif self._load[host] < self._cap(host):
            self._ready.append(host)
        else:
            self._ready_set.discard(host)
        return task_id, host

    def has_room(self, host: str) -> bool:
        return self._load[host] < self._cap(host)

    def start(self, host: str) -> None:
        """Count a request to `host` started outside the queues (a dead worker's task, sent again)."""
        self._load[host] += 1

    def finished(self, host: str) -> None:
        """A request to `host` is over (answered, or its worker died): its room goes to the next task."""
        load = self._load[host] - 1
        if load > 0:
            self._load[host] = load
        else:  # never below zero: an answer arriving after clear() (a cancelled run) counts for nothing
            self._load.pop(host, None)
        self._mark_ready(host)

    def clear(self) -> None:
        """Forget every waiting task and every count (the run is being cancelled or abandoned)."""
        self._pending.clear()
        self._ready.clear()
        self._ready_set.clear()
        self._load.clear()
        self.waiting = 0

    def _mark_ready(self, host: str) -> None:
        if host not in self._ready_set and host in self._pending and self._load[host] < self._cap(host):
            self._ready_set.add(host)
            self._ready.append(host)
