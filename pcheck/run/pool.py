"""The parent: worker processes, dispatch under per-host limits, and exactly one result per URL.

  targets --dedupe--> pending[host] --dispatch (per-host cap, per-worker cap)--> task pipe k
                                                                                   |
  records <--occurrences-- collect <--verdict batches-- result pipe k <-- worker k

One loop owns all state and waits on every result pipe and process sentinel
at once (as concurrent.futures' manager thread does), so a dead worker is seen
as soon as it dies, not by polling. Unlike ProcessPoolExecutor, one dead worker
does not break the run: its in-flight URLs are re-dispatched once to a fresh
worker, then reported as `worker_crashed`.

Each worker has its own pair of one-way pipes rather than a shared
multiprocessing.Queue: a shared queue's write lock, held by a worker killed
mid-put, would block every other worker, and a torn message would block the
reader forever. With private pipes whose write ends only the worker holds, a
death reads as end-of-file and costs nothing but that worker's in-flight URLs.
"""

from __future__ import annotations

import collections
import logging
import pickle
import time
from multiprocessing.connection import wait
from typing import Callable, Iterable, Iterator

from pcheck.config import Config, is_small_run
from pcheck.models import Answered, CheckResult, ErrorKind, HostBackoff, Order, Outcome, Target, Verdict
from pcheck.run import signals
from pcheck.run.distributor import NOTHING_YET
from pcheck.run.hosts import scheduler_for
from pcheck.run.ledger import Ledger
from pcheck.run.rechecks import LateRechecks
from pcheck.run.procs import Worker, WorkerCrash, mp_context, start_worker, stop_workers
from pcheck.run.signals import INTERRUPT_GRACE_S, TICK_S
from pcheck.run.worker import (
    fd_budget,
    open_files_limit,
    raise_open_files_limit,
    thread_worker,
    worker_main,
)

log = logging.getLogger("pcheck")

#: Occurrences (not unique URLs) read ahead of dispatch; bounds memory however long the input is.
READ_AHEAD = 10_000
#: Input items taken per loop turn, so reading never starves result collection.
READ_CHUNK = 1_000
#: Tasks a worker may hold per thread (the extra ones keep threads busy between round trips).
TASKS_PER_THREAD = 2
#: How long a finished worker gets to exit before it is terminated, then killed.
JOIN_GRACE_S = 2.0
#: Workers in a row that die before sending a single result: the pool gives up.
MAX_START_FAILURES = 3
#: After the OS refused to start a worker (no descriptors or processes to spare), how long the
#: run goes on with the workers it has before it tries again.
SPAWN_RETRY_S = 1.0


class CheckRun:
    """One run of the process pool. Use as a context manager; iterate `results()` once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ctx = mp_context(config.start_method)
        self.interrupted = False
        self.crashes: list[WorkerCrash] = []
        self._workers: list[Worker] = []
        self._spawned = 0
        self._start_failures = 0
        self.ledger = Ledger(config.include_fragments)
        self._for_workers = config.for_workers()  # what a worker is sent: the checker's settings alone
        self.hosts = scheduler_for(config)
        #: Ending signals received while running, `cancel()` counting as one (run/signals.Interruptible).
        self.interrupts = 0
        raise_open_files_limit()  # as each worker will, so both judge the same limit
        budget = fd_budget(config, open_files_limit())  # sockets are files: a low limit means fewer threads
        if shortfall := budget.shortfall(config):
            log.warning("%s", shortfall)
        self._capacity = budget.threads * TASKS_PER_THREAD
        #: Tasks whose worker died, each with the spawn count at its death: the retry goes
        #: only to a worker started after it, never to a sibling that may be dying too.
        self._orphans: collections.deque[tuple[int, int]] = collections.deque()
        #: Why the input was not read to its end after an interrupt (None: it was, or no interrupt).
        self.input_cut: str | None = None
        self._spawn_error: OSError | None = None  # the OS refused the last worker started
        self._spawn_refused = False  # it ever did (warned once)
        self._spawn_retry_at = 0.0
        self.rechecks = LateRechecks(config.recheck_after)
        #: Check in a thread of this process (a small run), not in worker processes; None: not decided yet.
        self._in_process: bool | None = None if config.small_run else False
        #: The input said NOTHING_YET at the last read: wait for results before reading it again.
        self._source_waits = False

    # -- life cycle -------------------------------------------------------------
    def __enter__(self) -> CheckRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (after a second Ctrl-C, at once); no zombies (procs.stop_workers)."""
        stop_workers(self._workers, polite=self.interrupts < 2, grace_s=JOIN_GRACE_S)
        self._workers.clear()

    def cancel(self) -> None:
        """Ask the run to stop as a first Ctrl-C would: the next `results()` reports everything cancelled."""
        self.interrupts = max(self.interrupts, 1)

    def interrupt(self) -> int:
        """An ending signal arrived (run/signals.py): the first cancels the run, a second stops it at once."""
        self.interrupts += 1
        return self.interrupts

    def _spawn(self, in_process: bool) -> Worker:
        """Start one worker (a process, or a thread here); OSError, with nothing left open, when the OS refuses."""
        target = (thread_worker, True) if in_process else (worker_main, False)
        worker = start_worker(self.ctx, self._for_workers, self._spawned + 1, *target)
        self._spawned += 1
        self._workers.append(worker)
        return worker

    # -- the loop ----------------------------------------------------------------
    def results(self, items: Iterable[Target | CheckResult], idle: Callable[[], None] | None = None) -> Iterator[CheckResult]:
        """Check every Target; yield one CheckResult per item, in completion order.

        `idle` is called before every wait for workers (a reporter flushes
        there, so streamed records are never held back). May be called again
        after it finishes (`pcheck watch`): the workers and their keep-alive
        connections stay warm; de-duplication starts afresh.
        """
        self.ledger.new_round()
        return signals.interruptible(self, items, lambda source: self._loop(source, idle))

    def _loop(self, source: Iterator[Target | CheckResult], idle: Callable[[], None] | None) -> Iterator[CheckResult]:
        """Turn after turn: cancel if asked, keep the workers, read, dispatch, collect."""
        exhausted = False
        if self._in_process is None:  # a first chunk of input decides: worker processes, or threads here
            exhausted = yield from self._read(source)
            self._in_process = exhausted and is_small_run(len(self.ledger.tasks), self.config.small_run)
        while True:
            if self.interrupts:
                yield from self._cancel(source)
                return
            self._keep_workers()
            if not exhausted:
                exhausted = yield from self._read(source)
            self._due_rechecks()
            self._dispatch()
            if exhausted and not self.ledger.tasks:
                return
            if not self._workers:
                if self._spawn_error is not None:  # the machine, not the URLs: no process could be started
                    why = self._spawn_error.strerror or str(self._spawn_error)
                    yield from self._abandon(source, ErrorKind.LOCAL_RESOURCES, f"no worker process could be started ({why})")
                else:
                    yield from self._abandon(source, ErrorKind.WORKER_CRASHED, "no worker process could be kept alive")
                return
            # With input to read and room to read it, only look at what is ready; else wait.
            can_read = not exhausted and not self._source_waits and self.ledger.held < READ_AHEAD
            if not can_read and idle is not None:
                idle()
            yield from self._collect(0.0 if can_read else self._wait_s())

    def _wait_s(self) -> float:
        """How long to wait for workers: a tick, or less when a host's interval or pause, or a re-check, is due sooner."""
        wakes = [w for w in (self.hosts.next_wake(), self.rechecks.next_due()) if w is not None]
        if not wakes:
            return TICK_S
        return min(TICK_S, max(0.0, min(wakes) - time.monotonic()))

    def rechecks_waiting(self) -> int:
        return self.rechecks.waiting

    def _due_rechecks(self) -> None:
        for task_id in self.rechecks.due():  # the last word on the URL: a refusal now is its verdict
            self.hosts.add(task_id, self.ledger.tasks[task_id].host, last_try=True)

    def _keep_workers(self) -> None:
        """Start workers up to --processes (at first, and after a death), unless they keep dying at birth.

        When the OS refuses a new process or its pipes (the open-files limit, a
        process limit), the run goes on with the workers it has, and says so
        once; with none at all, every URL is reported `unchecked`.
        """
        wanted = 1 if self._in_process else self.config.processes
        while (len(self._workers) < wanted and self._start_failures < MAX_START_FAILURES
               and time.monotonic() >= self._spawn_retry_at):
            try:
                self._spawn(bool(self._in_process))
            except OSError as exc:
                if not self._spawn_refused:
                    log.warning("cannot start a worker process (%s); going on with %d", exc.strerror or exc,
                                len(self._workers))
                self._spawn_error, self._spawn_refused = exc, True
                self._spawn_retry_at = time.monotonic() + SPAWN_RETRY_S
                return
            self._spawn_error = None

    def _read(self, source: Iterator[Target | CheckResult]) -> Iterator[CheckResult]:
        """Take a chunk of input; returns True (via StopIteration) once it is exhausted.

        The read-ahead bound counts waiting occurrences, not tasks: duplicates
        of a slow URL join its task and would otherwise pile up unbounded.
        """
        self._source_waits = False
        for _ in range(READ_CHUNK):
            if self.ledger.held >= READ_AHEAD:
                return False
            item = next(source, None)
            if item is None:
                return True
            if item is NOTHING_YET:  # a live input (a crawl) waits for pages on their way: read again after results
                self._source_waits = True
                return not self.ledger.tasks  # nothing on its way: nothing will come (a safety net; a crawl ends itself)
            admitted = self.ledger.admit(item)
            if isinstance(admitted, CheckResult):
                yield admitted
            elif admitted is not None:
                self.hosts.add(admitted, item.host)  # type: ignore[union-attr]
        return False

    def _dispatch(self) -> None:
        """Hand pending tasks to workers: hosts round-robin, each under --max-per-host.

        A worker is topped up only once a quarter of its capacity is free (or it
        is idle): it still has a thread's worth of queued tasks, and the parent
        sends a few large messages instead of many small ones.
        """
        if self._orphans:
            self._dispatch_orphans()
        threshold = max(1, self._capacity // 4)
        open_workers = [w for w in self._workers
                        if self._capacity - len(w.in_flight) >= threshold or not w.in_flight]
        batches: dict[int, list[Order]] = {w.number: [] for w in open_workers}
        tasks = self.ledger.tasks
        while self.hosts.has_ready() and open_workers:
            for worker in list(open_workers):  # one task per worker per turn keeps them balanced
                if len(worker.in_flight) >= self._capacity:
                    open_workers.remove(worker)
                    continue
                started = self.hosts.next()
                if started is None:
                    break
                task_id, host = started
                batches[worker.number].append(tasks[task_id].order(task_id, *self.hosts.try_of(task_id)))
                worker.in_flight[task_id] = None
        for worker in self._workers:
            batch = batches.get(worker.number)
            if batch:
                try:
                    worker.tasks.send(batch)
                except OSError:
                    pass  # it died; its sentinel fires and its in-flight tasks are re-dispatched

    def _dispatch_orphans(self) -> None:
        """Give each task of a dead worker to a worker started after that death, under the host cap."""
        waiting: collections.deque[tuple[int, int]] = collections.deque()
        tasks = self.ledger.tasks
        # When no new worker can come (the OS refuses one, or they die at birth), a surviving
        # sibling is the only place left: waiting for a fresh worker would wait for ever.
        any_worker = self._spawn_error is not None or self._start_failures >= MAX_START_FAILURES
        while self._orphans:
            task_id, born_after = self._orphans.popleft()
            host = tasks[task_id].host
            worker = next((w for w in self._workers if (any_worker or w.number > born_after)
                           and len(w.in_flight) < self._capacity), None)
            if worker is None or not self.hosts.has_room(host):
                waiting.append((task_id, born_after))
                continue
            self.hosts.start(host)
            worker.in_flight[task_id] = None
            try:
                worker.tasks.send([tasks[task_id].order(task_id, *self.hosts.try_of(task_id))])
            except OSError:
                pass  # it died too; its sentinel fires and this is the task's second death
        self._orphans = waiting

    def _collect(self, timeout: float) -> Iterator[CheckResult]:
        """Wait for verdicts or deaths, then take in everything ready."""
        waitables = {}
        for worker in self._workers:
            waitables[worker.results] = worker
            waitables[worker.process.sentinel] = worker
        ready = wait(list(waitables), timeout)
        dead = []
        for item in ready:
            worker = waitables[item]
            if item is worker.results:
                if not (yield from self._receive(worker)):
                    dead.append(worker)
            elif worker not in dead:
                dead.append(worker)
        for worker in dead:
            yield from self._bury(worker)

    def _receive(self, worker: Worker) -> Iterator[CheckResult]:
        """Take every batch waiting on a worker's pipe; False once it reads end-of-file."""
        conn = worker.results
        try:
            while conn.poll():
                data = conn.recv_bytes()
                try:
                    batch: list[Answered] = pickle.loads(data)
                except Exception as exc:  # noqa: BLE001 - a verdict that cannot be unpickled here
                    # Treat the worker as broken: its in-flight URLs are re-dispatched once, then reported.
                    log.warning("worker %d sent a batch that cannot be read (%s); stopping it", worker.number, exc)
                    worker.process.kill()
                    return False
                worker.answered += len(batch)
                for task_id, verdict in batch:  # Answered, unpacked: the parent's hottest loop
                    if task_id in worker.in_flight:
                        del worker.in_flight[task_id]
                        yield from self._resolve(task_id, verdict)
        except (EOFError, OSError):
            return False
        return True

    def _resolve(self, task_id: int, verdict: Verdict) -> Iterator[CheckResult]:
        answer = self.hosts.answered(task_id, self.ledger.tasks[task_id].host, verdict)
        if answer is None:
            return  # refused for load: the URL is tried again after its wait (run/hosts.py)
        final = self.rechecks.hold(task_id, answer)
        if final is not None:  # else a transient failure, checked once more after the blip (run/rechecks.py)
            yield from self.ledger.resolve(task_id, final)

    def backoffs(self) -> list[HostBackoff]:
        """The hosts that refused for load, and how they were slowed (for the report)."""
        return self.hosts.backoffs()

    def _bury(self, worker: Worker) -> Iterator[CheckResult]:
        """A worker died: keep what it sent, re-dispatch its tasks once, start another."""
        if worker not in self._workers:
            return
        yield from self._receive(worker)
        worker.process.join(1.0)
        self._workers.remove(worker)
        worker.tasks.close()
        worker.results.close()
        crash = WorkerCrash(worker.number, worker.process.pid, worker.process.exitcode, len(worker.in_flight))
        self.crashes.append(crash)
        if not self.interrupts:  # after a signal to the whole process group, deaths are expected
            log.warning("%s", crash.describe())
        for task_id in worker.in_flight:
            task = self.ledger.tasks[task_id]
            if task.crashes == 0:
                task.crashes = 1
                self.hosts.finished(task.host, task_id)
                self._orphans.append((task_id, self._spawned))
            else:
                verdict = Verdict(Outcome.UNCHECKED, error=ErrorKind.WORKER_CRASHED, detail=crash.describe())
                self.hosts.finished(task.host, task_id)
                yield from self.ledger.resolve(task_id, verdict)
        self._start_failures = self._start_failures + 1 if worker.answered == 0 else 0

    # -- endings -------------------------------------------------------------------
    def _cancel(self, source: Iterator[Target | CheckResult]) -> Iterator[CheckResult]:
        """Ctrl-C: no more dispatch; keep results already on their way, cancel the rest."""
        self.interrupted = True
        self.hosts.clear()
        self._orphans.clear()
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while self._workers and any(w.in_flight for w in self._workers) and self.interrupts < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            yield from self._collect(min(remaining, TICK_S))
        for worker in self._workers:
            worker.process.terminate()
        yield from self._abandon(source, ErrorKind.CANCELLED, "interrupted before a verdict")

    def _abandon(self, source: Iterator[Target | CheckResult], error: ErrorKind, detail: str) -> Iterator[CheckResult]:
        self.hosts.clear()
        self._orphans.clear()
        for task_id, first in self.rechecks.abandon(detail):  # their first verdict stands, and says so
            yield from self.ledger.resolve(task_id, first)
        yield from self.ledger.abandon(source, error, detail)
