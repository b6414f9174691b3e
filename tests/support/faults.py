"""Bounded waiting, process trees from /proc, and a fault-injecting worker (tests of crashes and signals).

The fault worker (`fault_worker_main`) is what `pcheck.run.pool.worker_main` is
monkeypatched to in the parent. forkserver and spawn children do not see the
test's monkeypatches, but they do import this module by name (`support.faults`: tests/ is on
the sys.path the parent hands to its children), so the faults travel as data
inside the URLs themselves: a query string the local site ignores, e.g.
`/ok?i=3&fault=sigkill`. Every other URL is checked by pcheck's real Checker.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from support.checks import stands_in_for_check

#: Longest any helper waits for a condition; every wait below is bounded by it or less.
MAX_WAIT_S = 20.0
POLL_S = 0.02


class WaitTimeout(AssertionError):
    pass


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = POLL_S) -> object:
    """Poll `condition` until it returns something truthy; fail (never hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"not within {timeout:.1f} s: {what}")
        time.sleep(interval)


# -- process trees from /proc ------------------------------------------------------


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return rest[0], int(rest[1])


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie holds no CPU, sockets or memory)."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def children(pid: int) -> list[int]:
    """Direct children, from /proc/<pid>/task/*/children (needs no scan of all of /proc)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return kids
    for tid in tasks:
        try:
            kids += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return kids


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = children(pid)
    while todo:
        p = todo.pop()
        if p not in out:
            out.append(p)
            todo += children(p)
    return out


def worker_pids(parent: int) -> list[int]:
    """Running pcheck worker processes of a `python -m pcheck` (or test) process.

    spawn: workers are the parent's children started by spawn_main. forkserver:
    workers are children of the fork server, itself a child of the parent. The
    resource tracker and the fork server itself are not workers.
    """
    found = []
    for child in children(parent):
        line = cmdline(child)
        if "resource_tracker" in line:
            continue
        if "forkserver" in line:
            found += [p for p in children(child) if is_running(p)]
        elif "spawn_main" in line and is_running(child):
            found.append(child)
    return sorted(found)


def running(pids: list[int]) -> list[int]:
    return [p for p in pids if is_running(p)]


# -- faults carried by URLs -----------------------------------------------------------


def fault_url(base_url: str, fault: str, **params: object) -> str:
    """`base_url` with `fault=...` and parameters appended as a query string the local site ignores."""
    query = "&".join([f"fault={fault}"] + [f"{k}={quote(str(v), safe='')}" for k, v in params.items()])
    return base_url + ("&" if "?" in base_url else "?") + query


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class _Faults:
    """Per-process state of the fault worker: what went into the result pipe, and a gate that holds sends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[str] = []  # final_url of every verdict written to the pipe
        self.held: list[str] = []  # verdicts taken from the result queue but never sent
        self.gate = threading.Event()
        self.gate.set()
        self.held_event = threading.Event()


_state = _Faults()


def _unlink(path: str) -> bool:
    """True exactly once per marker file, across processes."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def fault_worker_main(config, task_conn, result_conn, start_checks=None) -> None:  # type: ignore[no-untyped-def]
    """pcheck.run.worker.worker_main, with check functions that obey `fault=` in the URL."""
    import pcheck.run.worker as worker
    from pcheck.check.checker import Checker
    from pcheck.check.transport import Transport

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    real_send = worker.send_batch

    def gated_send(conn, batch):  # type: ignore[no-untyped-def]
        if not _state.gate.is_set():
            with _state.lock:
                _state.held.extend(v.final_url for _, v in batch)
            _state.held_event.set()
            time.sleep(MAX_WAIT_S)  # the poison thread ends the process long before this
        real_send(conn, batch)
        with _state.lock:
            _state.sent.extend(v.final_url for _, v in batch)

    worker.send_batch = gated_send  # _send_loop looks it up at call time

    transport = Transport(pool_maxsize=config.threads, verify=config.ca_bundle or config.verify_tls)
    stop = threading.Event()

    checkers = [Checker(config, transport, stop) for _ in range(config.threads)]
    worker.serve(task_conn, result_conn, [FaultyCheck(c) for c in checkers], stop)


class FaultyCheck:
    """A checker's check that obeys `fault=` in the URL first (see fault_url); called as the worker calls Checker.check."""

    def __init__(self, checker) -> None:  # type: ignore[no-untyped-def]
        self.checker = checker

    def __call__(self, url: str, host: str | None = None, anchors: bool = False, method: str | None = None,
                 last: bool = False, page: bool = False):  # type: ignore[no-untyped-def]
        from pcheck.models import Outcome, Verdict

        p = _params(url)
        fault = p.get("fault")
        if fault == "sigkill" or (fault == "sigkill-once" and _unlink(p["marker"])):
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "exit" or (fault == "exit-once" and _unlink(p["marker"])):
            os._exit(int(p.get("code", "3")))
        if fault == "exit-buffered" and _unlink(p["marker"]):
            _exit_with_buffered_results(int(p["after"]), p["report"], int(p.get("code", "3")))
        if fault == "unpicklable":
            return Verdict(Outcome.ALIVE, status=200, final_url=url, detail=lambda: None)  # type: ignore[arg-type]
        if fault == "big":
            return Verdict(Outcome.ALIVE, status=200, final_url=url, detail="x" * int(p["size"]))
        return self.checker.check(url, host, anchors, method, last, page)


stands_in_for_check(FaultyCheck.__call__)


def _exit_with_buffered_results(after: int, report: str, code: int) -> None:
    """Let `after` verdicts reach the pipe, then hold the next batch in the process and os._exit."""
    deadline = time.monotonic() + MAX_WAIT_S
    while True:
        with _state.lock:
            if len(_state.sent) >= after:
                break
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    _state.gate.clear()
    _state.held_event.wait(MAX_WAIT_S)
    with _state.lock:
        data = {"sent": list(_state.sent), "held": list(_state.held)}
    tmp = report + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, report)
    os._exit(code)


def signal_pending(pid: int, signum: int) -> bool:
    """True while `signum` is pending for the process (not yet delivered), from /proc/<pid>/status."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    bit = 1 << (signum - 1)
    return any(int(line.split()[1], 16) & bit for line in text.splitlines() if line.startswith(("SigPnd:", "ShdPnd:")))
