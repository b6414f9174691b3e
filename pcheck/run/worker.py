"""The child process: a thread pool that checks URLs and sends verdicts back in batches.

  parent --task pipe--> reader (main thread) -> tasks -> N checker threads
                                                            |
  parent <--result pipe-- sender thread <- results <--------+

Threads park on network I/O like goroutines. The sender batches whatever
verdicts are ready, so a busy worker sends few large messages and an idle one
answers at once. End-of-file on the task pipe means the parent is gone.
"""

from __future__ import annotations

import pickle
import queue
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Callable

from pcheck.config import POOL_HOSTS, CheckConfig
from pcheck.models import Answered, ErrorKind, Order, Outcome, Verdict
from pcheck.run.crew import Crew, timed

#: Most verdicts per message; bigger batches gain little and delay the parent's bookkeeping.
MAX_BATCH = 256
#: How long the sender waits for more verdicts after the first one: a few milliseconds of
#: latency turn one message (and one wake-up of the parent) per verdict into one per dozens.
BATCH_WINDOW_S = 0.005
#: A message of this many verdicts says they are pouring in: the next one waits for its window.
BUSY_BATCH = 8

#: How long past --timeout a stopped thread worker waits for its last checks (the watchdog's tick, and some).
WATCHDOG_SLACK_S = 1.0
#: Descriptors a worker holds besides its sockets (11 measured with one socket open: std streams,
#: pipes, the interpreter's), with room for brief opens: the CA bundle (once per process and mode),
#: /etc/hosts and resolv.conf per lookup.
RESERVED_FDS = 24
#: Sockets per checker thread: the one it uses, and one idle kept-alive beside it.
FDS_PER_THREAD = 2

CheckFn = Callable[[str, str, bool, "str | None", bool, bool], Verdict]  # Checker.check(url, host, anchors, method, last, page)


@dataclass(frozen=True)
class FdBudget:
    """How large one worker may grow under the open-files limit: sockets are files too."""

    nofile: int | None  # the soft limit judged; None when there is none
    threads: int  # checker threads, each with a socket in use
    per_host: int  # idle kept-alive connections kept per host
    pool_hosts: int  # hosts whose idle connections are kept

    def shortfall(self, config: CheckConfig) -> str | None:
        """The warning to give once when the limit holds the run below --threads; None if it does not."""
        if self.threads >= config.threads:
            return None
        return (f"the open-files limit ({self.nofile}) leaves room for {self.threads} of {config.threads} "
                f"threads per process; checking with {self.threads} (raise it with `ulimit -n`)")


def fd_budget(config: CheckConfig, nofile: int | None) -> FdBudget:
    """Threads and kept-alive pools per process that fit in `nofile` descriptors (pure: parent and worker agree).

    Each thread needs a socket, and the pools keep idle ones beside them, at
    most per_host x pool_hosts. When the limit cannot hold the usual pools
    (threads idle sockets for each of 256 hosts), a pool keeps only what the
    per-host cap lets a worker use at once, and fewer hosts are kept.
    """
    threads, per_host, pool_hosts = config.threads, config.threads, POOL_HOSTS
    if nofile is None or RESERVED_FDS + threads * (1 + pool_hosts) <= nofile:
        return FdBudget(nofile, threads, per_host, pool_hosts)
    threads = max(1, min(threads, (nofile - RESERVED_FDS) // FDS_PER_THREAD))
    busiest = max([config.max_per_host, *(p.max_per_host or 0 for _, p in config.hosts)])
    per_host = min(threads, busiest)  # a worker never has more in flight to one host than its cap
    pool_hosts = max(1, min(POOL_HOSTS, (nofile - RESERVED_FDS - threads) // per_host))
    return FdBudget(nofile, threads, per_host, pool_hosts)


def open_files_limit() -> int | None:
    """The soft RLIMIT_NOFILE of this process; None if unlimited or unknown."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def worker_main(config: CheckConfig, task_conn: Connection, result_conn: Connection) -> None:
    """Process entry point (module level, so spawn and forkserver can pickle it)."""
    # Ctrl-C and a closed terminal reach the whole process group: the parent decides, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    raise_open_files_limit()
    budget = fd_budget(config, open_files_limit())  # the parent has warned if this is below --threads
    stop = threading.Event()
    check_fns, _ = start_checks(config, budget.threads, budget.per_host, budget.pool_hosts, stop)  # closed by exit
    serve(task_conn, result_conn, check_fns, stop)


def thread_worker(config: CheckConfig, task_conn: Connection, result_conn: Connection, stop: threading.Event) -> None:
    """worker_main for a worker in a thread of the parent (procs.ThreadProcess): the signals are the
    parent's, the open-files limit already raised, and what it opened is closed when it ends."""
    budget = fd_budget(config, open_files_limit())
    check_fns, close = start_checks(config, budget.threads, budget.per_host, budget.pool_hosts, stop)
    sender = None
    try:
        sender = serve(task_conn, result_conn, check_fns, stop)
    finally:
        if sender is not None:  # stopped: checks in flight end within their deadline, and nothing is sent after
            sender.join(config.timeout + WATCHDOG_SLACK_S)
        close()
        task_conn.close()
        result_conn.close()  # the parent reads end-of-file: this worker is done


def start_checks(config: CheckConfig, threads: int, per_host: int, pool_hosts: int,
                 stop: threading.Event) -> tuple[list[CheckFn], Callable[[], None]]:
    """A process's check functions, one Checker per thread sharing one transport, and what closes them.

    The worker process and the Ray shard both start their checks here. Imported here, not above: the
    parent imports this module for worker_main and must not pay for requests (the fork server has it
    preloaded, so a worker starts with it in memory).
    """
    from pcheck.check.checker import Checker
    from pcheck.check.transport import make_transport
    from pcheck.inputs.documents import read_page_links  # a crawled page is read where it was fetched

    transport = make_transport(config, per_host, pool_hosts)
    return [Checker(config, transport, stop, defer_rate_limits=True, read_page=read_page_links).check
            for _ in range(threads)], transport.close


def serve(task_conn: Connection, result_conn: Connection, check_fns: list[CheckFn],
          stop: threading.Event) -> threading.Thread | None:
    """Run one thread per check function until the parent sends None (every verdict sent: None)
    or goes away (the sender thread, perhaps still sending what is in flight)."""
    tasks: queue.SimpleQueue[Order | None] = queue.SimpleQueue()
    results: queue.SimpleQueue[Answered | None] = queue.SimpleQueue()
    crew = Crew(check_fns, tasks, lambda fn, tasks, tally: _check_loop(fn, tasks, results, tally))
    sender = threading.Thread(target=_send_loop, args=(results, result_conn), name="pcheck-send", daemon=True)
    sender.start()
    while True:
        try:
            batch = task_conn.recv()
        except (EOFError, OSError):
            stop.set()  # the parent died (or stopped a thread worker): in-flight checks are nobody's business
            for _ in range(crew.stop()):
                tasks.put(None)  # idle threads end; a worker in the parent's own process must leave none behind
            results.put(None)  # and the sender, once it has sent what it holds
            return sender
        if batch is None:
            break
        for order in batch:
            tasks.put(order)
    for _ in range(crew.stop()):
        tasks.put(None)
    for thread in crew.threads:
        thread.join()
    results.put(None)
    sender.join()
    return None


def _check_loop(check: CheckFn, tasks: queue.SimpleQueue[Order | None], results: queue.SimpleQueue[Answered | None],
                tally: object) -> None:
    while (order := tasks.get()) is not None:
        results.put(Answered(order.task_id, timed(safe_check, tally, check, order)))  # type: ignore[arg-type]


def safe_check(check: CheckFn, order: Order) -> Verdict:
    """Check the URL an order names; a bug in pcheck must still give it a result."""
    try:
        return check(order.url, order.host, order.anchors, order.method, order.last, order.page)
    except Exception:  # noqa: BLE001
        return Verdict(Outcome.UNCHECKED, error=ErrorKind.INTERNAL, detail=_last_line(traceback.format_exc()))


def _send_loop(results: queue.SimpleQueue, conn: Connection) -> None:
    """Send verdicts in batches until None (every checker thread has ended).

    While verdicts pour in (the last message carried BUSY_BATCH or more), the sender waits up to
    BATCH_WINDOW_S for more to join the first: one message per dozens. While they trickle (a crawl's few
    pages in flight, whose links the parent waits for), it sends what is there at once: a window would
    only delay each of them (a 2,047-page crawl: 2.6 s with it, 2.2 s without)."""
    ended, busy = False, True
    while not ended:
        batch = []
        item = results.get()
        window_ends = time.monotonic() + (BATCH_WINDOW_S if busy else 0.0)
        while True:
            if item is None:
                ended = True
            else:
                batch.append(item)
            if len(batch) >= MAX_BATCH or ended:
                break
            try:
                wait = window_ends - time.monotonic()
                item = results.get(timeout=wait) if wait > 0 else results.get_nowait()
            except queue.Empty:
                break
        busy = len(batch) >= BUSY_BATCH
        if batch:
            try:
                send_batch(conn, batch)
            except OSError:  # the parent is gone
                return


def send_batch(conn: Connection, batch: list[Answered]) -> None:
    """Send a batch; an item that cannot be pickled is replaced, never silently dropped."""
    try:
        payload = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - pickling can raise nearly anything
        payload = pickle.dumps([_picklable(item) for item in batch], pickle.HIGHEST_PROTOCOL)
    conn.send_bytes(payload)


def _picklable(item: Answered) -> Answered:
    try:
        pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        return item
    except Exception as exc:  # noqa: BLE001
        detail = f"result could not be sent to the parent: {type(exc).__name__}: {exc}"
        return Answered(item.task_id, Verdict(Outcome.UNCHECKED, error=ErrorKind.INTERNAL, detail=detail[:200]))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:200]


def raise_open_files_limit() -> None:
    """Lift the soft open-files limit to the hard one, as lychee does: sockets are files."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = hard if hard != resource.RLIM_INFINITY else 1 << 16
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass
