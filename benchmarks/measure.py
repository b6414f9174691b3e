"""Run one command and measure its whole process tree; print one JSON line.

    python benchmarks/measure.py --timeout 120 -- CMD ARGS...

Why a wrapper: pcheck's workers are forked by multiprocessing's forkserver,
which the pcheck parent never waits for, so their CPU never reaches the
parent's rusage. This wrapper makes itself a child subreaper (Linux
prctl PR_SET_CHILD_SUBREAPER): every orphan in the tree is re-parented to it
and reaped here, so getrusage(RUSAGE_CHILDREN) afterwards holds the CPU of
the whole tree, and nothing else (the wrapper's own CPU is not in it).

Reported: wall_s (start to the command's own exit), user_s, sys_s (the whole
tree, reaped), main_cpu_s (the command's own process without children, last
/proc sample, so it may miss the final ~50 ms), peak_rss_mb (largest sum of RSS over the tree, sampled every
~50 ms from /proc), peak_pss_mb (same with PSS, which splits shared pages),
max_single_rss_mb (ru_maxrss of the largest process), processes_seen,
returncode, timed_out.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.05
#: After the command exits, how long its orphans (forkserver, workers) get to exit by themselves.
ORPHAN_GRACE_S = 5.0


def _set_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int) -> list[int]:
    """pid's descendants (not pid), via /proc/<pid>/task/<tid>/children."""
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            stack.extend(kids)
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE // 1024
    except (OSError, ValueError, IndexError):
        return 0


CLK = os.sysconf("SC_CLK_TCK")


def _self_cpu_s(pid: int) -> float | None:
    """utime + stime of the process itself (not its children), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, ValueError, IndexError):
        return None


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the tree under `root` (our own children and below) every SAMPLE_S."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.seen: set[int] = set()
        self.last_cpu: dict[int, float] = {}

    def run(self) -> None:
        while True:
            pids = descendants(self.root)
            self.seen.update(pids)
            for p in pids:
                cpu = _self_cpu_s(p)
                if cpu is not None:
                    self.last_cpu[p] = cpu
            self.peak_rss_kb = max(self.peak_rss_kb, sum(_rss_kb(p) for p in pids))
            self.peak_pss_kb = max(self.peak_pss_kb, sum(_pss_kb(p) for p in pids))
            if self.stop.wait(SAMPLE_S):
                return


def _reap_all(deadline: float) -> int:
    """Reap every child (orphans included) until none is left or the deadline passes."""
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            if time.monotonic() > deadline:
                for p in descendants(os.getpid()):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                deadline = float("inf")  # killed: they will be reaped promptly now
            time.sleep(0.01)
            continue
        reaped += 1


def measure(cmd: list[str], timeout: float, stdout=None, stderr=None) -> dict:
    subreaper = _set_subreaper()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = Sampler(os.getpid())
    sampler.start()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    # os.wait4 on the command itself: its own rusage (plus only what it reaped itself), so the
    # parent's share of the tree's CPU can be told from the workers'.
    own: dict = {}

    def wait_main() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        own["ended"] = time.monotonic()
        own["usage"] = usage
        own["code"] = os.waitstatus_to_exitcode(status)

    waiter = threading.Thread(target=wait_main, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        waiter.join(10)
    proc.returncode = own.get("code")
    wall = own.get("ended", time.monotonic()) - started
    main_usage = own.get("usage")
    _reap_all(time.monotonic() + ORPHAN_GRACE_S)
    sampler.stop.set()
    sampler.join(5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall,
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mb": sampler.peak_rss_kb / 1024,
        "peak_pss_mb": sampler.peak_pss_kb / 1024,
        "max_single_rss_mb": after.ru_maxrss / 1024,
        "processes_seen": len(sampler.seen),
        # The command's own CPU, without its children: sampled from /proc (lags by up to SAMPLE_S).
        "main_cpu_s": sampler.last_cpu.get(proc.pid),
        # os.wait4's view: the command plus whatever children it reaped itself.
        "main_wait4_cpu_s": (main_usage.ru_utime + main_usage.ru_stime) if main_usage else None,
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "subreaper": subreaper,
    }


def main(argv: list[str]) -> int:
    timeout = 600.0
    out_path = None
    err_path = None
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--timeout":
            timeout = float(argv.pop(0))
        elif opt == "--stdout":
            out_path = argv.pop(0)
        elif opt == "--stderr":
            err_path = argv.pop(0)
        else:
            print(f"measure.py: unknown option {opt}", file=sys.stderr)
            return 2
    if not argv or argv[0] != "--" or len(argv) < 2:
        print("usage: measure.py [--timeout S] [--stdout FILE] [--stderr FILE] -- CMD ARGS...", file=sys.stderr)
        return 2
    cmd = argv[1:]
    sink = open(out_path, "wb") if out_path else subprocess.DEVNULL
    errs = open(err_path, "wb") if err_path else None
    try:
        result = measure(cmd, timeout, stdout=sink, stderr=errs)
    finally:
        if out_path:
            sink.close()
        if errs is not None:
            errs.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
