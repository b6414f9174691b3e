"""The Ray distributor: the same checks, sharded over a Ray cluster (`pip install 'pcheck[ray]'`).

  targets -> ledger (de-duplicated) -> bucket = hash(host) -> shards of <= shard_size
          -> Ray tasks running check_shard (threads, a HostScheduler, one keep-alive pool) -> ray.wait -> results

A host always falls in the same bucket, and a bucket has at most one shard in
flight, so only one task at a time ever talks to a host: the shard's
HostScheduler (the same class that schedules the process pool) sees every
request to its hosts, and --max-per-host holds across the whole cluster. Ray re-runs a task
whose worker died (max_retries); a shard that still fails is submitted once
more, then its URLs are reported `unchecked` / `worker_crashed`.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from typing import Any, Callable, Iterable, Iterator

from pcheck.config import Config
from pcheck.errors import ConfigError
from pcheck.models import Answered, CheckResult, ErrorKind, HostBackoff, Order, Outcome, Target, Verdict
from pcheck.run import signals
from pcheck.run.hosts import scheduler_for
from pcheck.run.ledger import Ledger
from pcheck.run.signals import INTERRUPT_GRACE_S, TICK_S
from pcheck.run.worker import (
    CheckFn,
    fd_budget,
    open_files_limit,
    raise_open_files_limit,
    safe_check,
    start_checks,
)

log = logging.getLogger("pcheck")

#: Shards in flight per cluster CPU; one more than 1 keeps a CPU busy while results travel back.
SHARDS_PER_CPU = 2
#: Ray retries a task whose worker process died this many times, before pcheck's own retry.
RAY_TASK_RETRIES = 1


class RayRun:
    """A CheckRun look-alike whose work runs as Ray tasks. Use as a context manager."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.interrupted = False
        self.crashes: list[str] = []
        self.ledger = Ledger(config.include_fragments)
        #: Ending signals received while running, `cancel()` counting as one (run/signals.Interruptible).
        self.interrupts = 0
        #: Why the input was not read to its end after an interrupt (None: it was, or no interrupt).
        self.input_cut: str | None = None
        self._ray: Any = None
        self._remote: Any = None

    def __enter__(self) -> RayRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass  # the cluster outlives the run: a local one is shut down when the driver exits

    def cancel(self) -> None:
        """Ask the run to stop as a first Ctrl-C would: the next `results()` reports everything cancelled."""
        self.interrupts = max(self.interrupts, 1)

    def interrupt(self) -> int:
        """An ending signal arrived (run/signals.py): the first cancels the run, a second stops it at once."""
        self.interrupts += 1
        return self.interrupts

    def _connect(self) -> None:
        if self._ray is not None:
            return
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray distributor needs Ray: pip install 'pcheck[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.config.ray_address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False, ignore_reinit_error=True)
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_retries=RAY_TASK_RETRIES)(check_shard)

    def results(self, items: Iterable[Target | CheckResult], idle: Callable[[], None] | None = None) -> Iterator[CheckResult]:
        """Check every Target on the cluster; yield one CheckResult per item as shards finish."""
        self._connect()
        self.ledger.new_round()
        return signals.interruptible(self, items, lambda source: self._loop(source, idle))

    def _loop(self, source: Iterator[Target | CheckResult], idle: Callable[[], None] | None) -> Iterator[CheckResult]:
        """Turn after turn: cancel if asked, read, submit shards per host bucket, collect."""
        ray = self._ray
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        max_in_flight = cpus * SHARDS_PER_CPU
        buckets = max(8, 4 * cpus)
        window = self.config.shard_size * max_in_flight * 2
        # Occurrences held (waiting or in flight) are bounded too: duplicates of a URL join its
        # task without adding to `waiting`. Room for a full window plus every shard in flight,
        # so a list of distinct URLs reads exactly as far ahead as before.
        held_limit = window + self.config.shard_size * max_in_flight
        pending: dict[int, list[int]] = {}  # bucket -> task ids waiting
        waiting = 0
        in_flight: dict[Any, tuple[int, list[int], int]] = {}  # ref -> (bucket, task ids, tries)
        busy: set[int] = set()
        exhausted = False
        while True:
            if self.interrupts:
                yield from self._cancel(source, in_flight)
                return
            while not exhausted and waiting < window and self.ledger.held < held_limit:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                admitted = self.ledger.admit(item)
                if isinstance(admitted, CheckResult):
                    yield admitted
                elif admitted is not None:
                    bucket = zlib.crc32(item.host.encode()) % buckets  # type: ignore[union-attr]
                    pending.setdefault(bucket, []).append(admitted)
                    waiting += 1
            for bucket in list(pending):
                if len(in_flight) >= max_in_flight:
                    break
                if bucket in busy:
                    continue
                ids = pending[bucket][: self.config.shard_size]
                rest = pending[bucket][self.config.shard_size:]
                if rest:
                    pending[bucket] = rest
                else:
                    del pending[bucket]
                waiting -= len(ids)
                in_flight[self._submit(ids)] = (bucket, ids, 0)
                busy.add(bucket)
            if exhausted and not self.ledger.tasks:
                return
            if idle is not None:
                idle()
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=TICK_S)
            for ref in ready:
                bucket, ids, tries = in_flight.pop(ref)
                try:
                    verdicts = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost or failed task, whatever the cause
                    message = f"shard of {len(ids)} URL(s) failed on the cluster: {type(exc).__name__}"
                    self.crashes.append(message)
                    log.warning("%s%s", message, "; retrying it" if tries == 0 else "")
                    if tries == 0:
                        in_flight[self._submit(ids)] = (bucket, ids, 1)
                        continue
                    verdicts = [Answered(i, Verdict(Outcome.UNCHECKED, error=ErrorKind.WORKER_CRASHED, detail=message))
                                for i in ids]
                busy.discard(bucket)
                for answered in verdicts:
                    yield from self.ledger.resolve(answered.task_id, answered.verdict)

    def rechecks_waiting(self) -> int:
        """Under Ray a shard's checks end with the shard: no late re-check (yet)."""
        return 0

    def backoffs(self) -> list[HostBackoff]:
        """Each shard slows its hosts with a scheduler of its own, on the cluster: none is reported here."""
        return []

    def _submit(self, ids: list[int]) -> Any:
        tasks = [self.ledger.tasks[i].order(i) for i in ids]
        return self._remote.remote(self.config, tasks)

    def _cancel(self, source: Iterator[Target | CheckResult], in_flight: dict) -> Iterator[CheckResult]:
        self.interrupted = True
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while in_flight and time.monotonic() < deadline and self.interrupts < 2:
            ready, _ = self._ray.wait(list(in_flight), num_returns=1, timeout=TICK_S)
            for ref in ready:
                _, ids, _ = in_flight.pop(ref)
                try:
                    for answered in self._ray.get(ref):
                        yield from self.ledger.resolve(answered.task_id, answered.verdict)
                except Exception:  # noqa: BLE001 - cancelled below like the rest
                    pass
        for ref in in_flight:
            self._ray.cancel(ref, force=True)
        yield from self.ledger.abandon(source, ErrorKind.CANCELLED, "interrupted before a verdict")


def check_shard(config: Config, tasks: list[Order]) -> list[Answered]:
    """Check orders with this process's threads; the Ray distributor's task.

    The threads take their next URL from one HostScheduler, as the process
    pool's parent does, so per-host caps (and any per-host policy) hold here.
    """
    raise_open_files_limit()
    budget = fd_budget(config, open_files_limit())
    stop = threading.Event()
    checks, close = start_checks(config, min(budget.threads, len(tasks)), budget.per_host, budget.pool_hosts, stop)
    hosts = scheduler_for(config)
    orders = {}
    for order in tasks:
        hosts.add(order.task_id, order.host)
        orders[order.task_id] = order
    turn = threading.Condition()
    done: list[Answered] = []
    busy = [0]  # checks running: one may put its URL back in the queue (the host said "slow down")

    def work(check: CheckFn) -> None:
        while True:
            with turn:
                started = hosts.next()
                while started is None:
                    if not hosts.waiting and not busy[0]:
                        return  # nothing left to start or to come back: the shard ends with the last check
                    wake = hosts.next_wake()  # every waiting host is at its cap or pausing: an answer wakes us
                    turn.wait(TICK_S if wake is None else min(TICK_S, max(0.0, wake - time.monotonic())))
                    started = hosts.next()
                busy[0] += 1
                task_id, host = started
                order = orders[task_id]
                again, last = hosts.try_of(task_id)  # this shard's own scheduler says which try this is
                order = order._replace(method="GET" if again else order.method, last=last)
            verdict = safe_check(check, order)
            with turn:
                busy[0] -= 1
                answer = hosts.answered(task_id, host, verdict)
                if answer is not None:  # else refused, and tried again after its wait
                    done.append(Answered(task_id, answer))
                turn.notify_all()

    threads = [threading.Thread(target=work, args=(check,), daemon=True) for check in checks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close()  # a Ray worker process runs many shards: no pool or watchdog left behind
    return done
