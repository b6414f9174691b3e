"""Processes, apart from what runs in them: start method, fork server, stopping workers, the resource tracker.

Workers are started with forkserver (or spawn), never fork; whichever it is,
a worker must not re-run the caller's main module, so these helpers present
that module under a `__main__` name multiprocessing skips.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

log = logging.getLogger("pcheck")


def mp_context(method: str | None = None) -> multiprocessing.context.BaseContext:
    """The start method, chosen per call and never set globally.

    Never fork: the parent has threads by the time it spawns (Queue feeders,
    tqdm's monitor, a library caller's own), and forking a threaded process can
    deadlock the child. forkserver (Linux; the default from Python 3.14) forks
    from a clean single-threaded server that has pcheck's checking modules and requests
    imported already, so a replacement worker starts in milliseconds; spawn
    is the portable fallback.
    """
    if method is None:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["pcheck.run.worker", "pcheck.check.checker", "pcheck.check.transport"])
    return ctx


def prestart() -> bool:
    """Start the default start method's forkserver now, so its imports overlap the caller's start-up.

    The server imports requests and pcheck's worker (about 0.3 s) while the
    CLI is still parsing its options; the first worker then forks at once.
    True when a server was started (stop it with stop_helper_processes).
    """
    if mp_context().get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except OSError:  # no descriptors or processes to spare: the run will say so when it needs a worker
        return False
    return True


@contextlib.contextmanager
def workers_skip_main() -> Iterator[None]:
    """While workers start, present the main module as pcheck's own `__main__`, which they skip.

    spawn and forkserver children re-run the parent's main script (as
    `__mp_main__`) before unpickling their target. A script that calls
    check_urls with no `if __name__ == "__main__":` guard would then call it
    again in every worker, and multiprocessing kills each one with
    "An attempt has been made to start a new process before the current
    process has finished its bootstrapping phase": every URL `worker_crashed`.
    pcheck's workers need nothing from the caller's script (their target and
    Config are pcheck's), and a main module known by a `__main__` name is not
    imported in the child at all, so the script is never re-run. The CLI does
    the same for the console script (cli._workers_skip_the_console_script).
    """
    global _hidden_depth, _hidden_spec
    main = sys.modules.get("__main__")
    with _hidden_lock:
        if main is None or (_hidden_depth == 0 and
                            getattr(getattr(main, "__spec__", None), "name", "").endswith("__main__")):
            main = None  # already skipped (python -m pcheck, the CLI), or nothing to skip
        else:
            if _hidden_depth == 0:  # several check_urls iterated by several threads: the first hides, the last restores
                _hidden_spec = main.__spec__
                main.__spec__ = _PCHECK_MAIN_SPEC
            _hidden_depth += 1
    try:
        yield
    finally:
        if main is not None:
            with _hidden_lock:
                _hidden_depth -= 1
                if _hidden_depth == 0:
                    main.__spec__ = _hidden_spec


_PCHECK_MAIN_SPEC = importlib.util.find_spec("pcheck.__main__")
_hidden_lock = threading.Lock()
_hidden_depth = 0
_hidden_spec: object = None


class ThreadProcess:
    """A worker run in a thread of this process, behind the part of `multiprocessing.Process` the pool uses.

    For a run too small to pay for worker processes (Config.small_run): the
    same worker code, over the same pipes, so the pool cannot tell. Its
    sentinel is a pipe the thread closes when it ends, as a process's is.
    It cannot be killed: terminate() and kill() ask it to stop (`stop`) and
    abandon it. From then on it counts as gone, as a killed process is: nobody
    waits for its checks in flight, which end within their deadline, and the
    task pipe's closing ends it.
    """

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str, stop: threading.Event) -> None:
        self._target, self._args, self._stop = target, args, stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.sentinel, self._ended = os.pipe()
        self.pid = os.getpid()
        self.exitcode: int | None = None

    def start(self) -> None:
        try:
            self._thread.start()
        except RuntimeError as exc:  # "can't start new thread": the OS refused, as it can refuse a process
            self.join(0)
            os.close(self._ended)
            raise OSError(str(exc)) from exc

    def _run(self) -> None:
        try:
            self._target(*self._args)
            self.exitcode = 0
        except BaseException:
            self.exitcode = 1
            log.exception("the in-process worker failed")
        finally:
            os.close(self._ended)

    def is_alive(self) -> bool:
        return self._thread.is_alive() and self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None and self.exitcode is None:
            self._thread.join(timeout)
        if not self.is_alive() and self.sentinel >= 0:
            os.close(self.sentinel)  # nobody waits on it once its worker is joined
            self.sentinel = -1

    def terminate(self) -> None:
        self._stop.set()
        if self.exitcode is None:
            self.exitcode = -signal.SIGTERM  # abandoned: reported as a process terminated would be

    kill = terminate


@dataclass
class Worker:
    """A worker process (or ThreadProcess) as the parent sees it: its two pipe ends and the tasks it holds."""

    number: int
    process: multiprocessing.process.BaseProcess | ThreadProcess
    tasks: Connection  # parent -> worker
    results: Connection  # worker -> parent
    in_flight: dict[int, None] = field(default_factory=dict)
    answered: int = 0



def start_worker(ctx: multiprocessing.context.BaseContext, config: Any, number: int,
                 target: Callable[..., None], in_process: bool) -> Worker:
    """Start worker `number` running `target(config, task pipe, result pipe[, stop])`: a process, or a
    ThreadProcess. OSError, with nothing left open, when the OS refuses."""
    ends: list[Connection] = []
    try:
        task_reader, task_writer = ctx.Pipe(duplex=False)
        ends += [task_reader, task_writer]
        result_reader, result_writer = ctx.Pipe(duplex=False)
        ends += [result_reader, result_writer]
        name = f"pcheck-worker-{number}"
        process: multiprocessing.process.BaseProcess | ThreadProcess
        if in_process:
            stop = threading.Event()
            process = ThreadProcess(target, (config, task_reader, result_writer, stop), name, stop)
        else:
            process = ctx.Process(target=target, args=(config, task_reader, result_writer), name=name,
                                  daemon=True)  # multiprocessing's exit hook reaps daemon children on any normal exit
        process.start()
    except (OSError, EOFError) as exc:  # EOFError: the fork server could not fork either
        for end in ends:
            end.close()
        raise exc if isinstance(exc, OSError) else OSError(f"the fork server failed ({exc!r})") from exc
    if not in_process:
        # Keep only our ends: the worker's death (or ours) must read as end-of-file on the other side.
        task_reader.close()
        result_writer.close()
    return Worker(number, process, task_writer, result_reader)


@dataclass(frozen=True)
class WorkerCrash:
    """What the run says about a worker that died: stderr gets one line per crash."""

    worker: int
    pid: int | None
    exitcode: int | None
    lost: int

    def describe(self) -> str:
        code = self.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return f"worker {self.worker} (pid {self.pid}) died ({how}) with {self.lost} URL(s) in flight"


def stop_workers(workers: list[Worker], polite: bool, grace_s: float) -> None:
    """Stop worker processes: ask (None on the task pipe), then terminate, then kill; always join.

    The pipes are drained while waiting: a worker blocked writing a batch
    larger than the pipe buffer could not exit otherwise. Impolite (after a
    second Ctrl-C) nobody waits: the workers are terminated at once.
    """
    for worker in workers:
        try:
            if polite:
                worker.tasks.send(None)
            else:
                worker.process.terminate()
        except OSError:
            pass
    deadline = time.monotonic() + (grace_s if polite else 0.0)
    reading = {w.results: w for w in workers if w.process.is_alive()}  # an abandoned ThreadProcess sends no more
    while reading and (remaining := deadline - time.monotonic()) > 0:
        for conn in wait(list(reading), remaining):
            try:
                conn.recv_bytes()  # discarded: nobody is collecting any more
            except (EOFError, OSError):
                reading.pop(conn).process.join(max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(1.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(1.0)
        else:
            worker.process.join(0)  # reaped; an abandoned ThreadProcess gives back its sentinel
        worker.tasks.close()
        worker.results.close()


def stop_helper_processes() -> None:
    """Stop and reap multiprocessing's forkserver and resource tracker before the CLI exits.

    Left alone they exit only after noticing that their parent is gone, and
    become zombies wherever PID 1 does not reap orphans (many containers).
    Their stop methods are private (CPython's own tests use them), hence the
    defensive look-ups.
    """
    from multiprocessing import forkserver, resource_tracker

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is not None:
        # Its workers are gone by now. Asked politely, a server still importing its preload
        # (a run that ended before it needed a worker) exits only once that is done: 0.1 s.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    for helper in (server, getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except (OSError, ChildProcessError, AttributeError):
                pass
