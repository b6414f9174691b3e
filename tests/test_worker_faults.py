"""Faults in worker processes and signals to the run: every input URL still gets one result.

Organised by failure mode, as CPython's test_concurrent_futures is: killed
workers, workers that exit with results still in their buffers, Ctrl-C, a
killed parent. (Hostile servers are in test_hostile_servers.py, results that
cannot travel in test_worker_results.py, load in test_pool.py.) Pool tests run
under every supported start method. Nothing sleeps and hopes: every wait polls
an observable condition (the local site's counters, /proc, the report file, a
process sentinel) under a bound, and pytest-timeout plus faulthandler turn a
hang into tracebacks.

Faults inside worker processes are injected by `support.faults.fault_worker_main`
(see its docstring): forkserver and spawn children do not inherit the test's
monkeypatches, so the fault travels in the URL's query string.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import signal
import time
from multiprocessing.connection import wait as mp_wait
from urllib.parse import parse_qs, urlsplit

import pytest
from support import faults as fh
from support.runs import (
    RUN_BOUND_S,
    in_flight,
    kill_leftovers,
    one_result_each,
    read_jsonl,
    requests_by_i,
    start_cli,
    targets,
)

import pcheck.run.pool
from pcheck.config import Config
from pcheck.models import CheckResult, ErrorKind, Outcome
from pcheck.run.pool import INTERRUPT_GRACE_S, CheckRun

# == 1. A worker killed with SIGKILL ====================================================


@pytest.mark.timeout(40)
def test_worker_sigkill_midrun_redispatches_and_loses_nothing(lab, start_method, caplog):
    urls = [lab.url(f"/delay/150?i={i}", host=i % 4) for i in range(160)]
    config = Config(processes=2, threads=8, timeout=5, retries=0, start_method=start_method)
    results: list[CheckResult] = []
    victim = None
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pcheck"), CheckRun(config) as run:
        for result in run.results(targets(urls)):
            results.append(result)
            if len(results) == 20:
                victim = run._workers[0]
                os.kill(victim.process.pid, signal.SIGKILL)
            assert time.monotonic() - started < RUN_BOUND_S, "the run did not finish in bounded time"
    elapsed = time.monotonic() - started
    print(f"\n[fault] SIGKILL mid-run ({start_method}): finished in {elapsed:.2f} s")

    one_result_each(results, urls)
    assert [c.pid for c in run.crashes] == [victim.process.pid]
    crash = run.crashes[0]
    assert crash.exitcode == -signal.SIGKILL and crash.lost > 0
    # Re-dispatched once to a fresh worker: every URL, the lost ones included, ends alive.
    assert collections.Counter(r.outcome for r in results) == {Outcome.ALIVE: len(urls)}
    twice = [i for i, n in requests_by_i(lab).items() if n == 2]
    assert 1 <= len(twice) <= crash.lost, "the dead worker's in-flight requests were sent again"
    assert max(requests_by_i(lab).values()) <= 2
    assert any(f"worker {victim.number} (pid {victim.process.pid}) died (killed by signal 9)" in m
               for m in caplog.messages), caplog.messages


@pytest.mark.timeout(40)
def test_poison_url_that_kills_every_worker_ends_worker_crashed(lab, start_method, monkeypatch, caplog):
    monkeypatch.setattr(pcheck.run.pool, "worker_main", fh.fault_worker_main)
    poison = fh.fault_url(lab.url("/ok?i=poison"), "sigkill")
    urls = [poison] + [lab.url(f"/ok?i={i}", host=i % 4) for i in range(40)]
    config = Config(processes=1, threads=4, timeout=5, retries=0, start_method=start_method)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pcheck"), CheckRun(config) as run:
        results = list(run.results(targets(urls)))
    elapsed = time.monotonic() - started
    one_result_each(results, urls)
    by_url = {r.url: r for r in results}
    crashed = [r for r in results if r.error is ErrorKind.WORKER_CRASHED]
    print(f"\n[fault] poison URL ({start_method}): finished in {elapsed:.2f} s; {len(run.crashes)} crashes; "
          f"worker_crashed: {len(crashed)} (poison + {len(crashed) - 1} collateral); "
          f"{sum(r.ok for r in results)} alive")
    assert elapsed < RUN_BOUND_S
    assert by_url[poison].outcome is Outcome.UNCHECKED and by_url[poison].error is ErrorKind.WORKER_CRASHED
    assert "killed by signal 9" in by_url[poison].detail
    assert len(run.crashes) == 2, "a URL is re-dispatched once, so its worker dies exactly twice"
    assert all(c.exitcode == -signal.SIGKILL for c in run.crashes)
    assert all(r.outcome in (Outcome.ALIVE, Outcome.UNCHECKED) for r in results)
    assert all(r.error is ErrorKind.WORKER_CRASHED for r in results if not r.ok)
    for crash in run.crashes:
        assert any(f"worker {crash.worker} (pid {crash.pid}) died (killed by signal 9)" in m for m in caplog.messages)


@pytest.mark.timeout(40)
def test_cli_worker_killed_again_and_again_ends_worker_crashed(lab, start_method, tmp_path, cli_processes):
    """Kill every worker the CLI starts, from outside: no endless respawn, stderr names each death."""
    urls = [lab.url(f"/hang?i={i}", host=i % 4) for i in range(20)]
    threads = 16  # 2 tasks per thread: all 20 URLs fit in one worker, 16 of them requested at once
    proc, report, stderr = start_cli(tmp_path, urls, "-p", "1", "-t", str(threads), "--timeout", "30",
                                     "--retries", "0", "--max-per-host", "100", "--start-method", start_method)
    cli_processes.append(proc)
    killed: list[int] = []
    deadline = time.monotonic() + RUN_BOUND_S
    while proc.poll() is None:
        assert time.monotonic() < deadline, f"pcheck still running after {RUN_BOUND_S} s; killed {killed}"
        # Kill each new worker once it has its URLs in flight (the site saw its requests).
        requested = sum(s.requests for s in lab.snapshot().values())
        for pid in fh.worker_pids(proc.pid):
            if pid not in killed and requested >= threads * (len(killed) + 1):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(fh.POLL_S)
    elapsed = time.monotonic() - (deadline - RUN_BOUND_S)
    records = read_jsonl(report, complete=True)
    err = stderr.read_text()
    print(f"\n[fault] worker killed repeatedly via CLI ({start_method}): exit {proc.returncode} after {elapsed:.2f} s; "
          f"{len(killed)} kills; report {collections.Counter((r['outcome'], r['error']) for r in records)}")
    assert proc.returncode == 1
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert all(r["outcome"] == "unchecked" and r["error"] == "worker_crashed" for r in records)
    deaths = re.findall(r"pcheck: worker (\d+) \(pid (\d+)\) died \(killed by signal 9\) with (\d+) URL\(s\) in flight", err)
    assert [int(pid) for _, pid, _ in deaths] == killed, err
    assert len(killed) == 2, "each URL is re-dispatched once: two deaths end the run"
    assert all(int(n) == len(urls) for _, _, n in deaths), err


@pytest.mark.timeout(40)
def test_worker_dying_before_any_url_is_read_is_replaced(lab, start_method):
    config = Config(processes=1, threads=4, timeout=5, retries=0, start_method=start_method)
    urls = [lab.url(f"/ok?i={i}") for i in range(20)]
    skipped = [CheckResult(url=f"http://skipped.invalid/{i}", outcome=Outcome.EXCLUDED) for i in range(pcheck.run.pool.READ_CHUNK)]
    run = CheckRun(config)

    def source():
        # A list whose first READ_CHUNK lines are already results (excluded, invalid): the
        # only worker is OOM-killed meanwhile; then the checkable URLs follow.
        yield from skipped[:-1]
        worker = run._workers[0]
        os.kill(worker.process.pid, signal.SIGKILL)
        assert mp_wait([worker.process.sentinel], 10), "the worker did not die"
        yield skipped[-1]
        yield from targets(urls)

    with run:
        results = list(run.results(source()))
    one_result_each([r for r in results if r.outcome is not Outcome.EXCLUDED], urls)
    assert len(run.crashes) == 1 and run.crashes[0].lost == 0
    lost = [r for r in results if r.url in urls and not r.ok]
    assert not lost, f"{len(lost)} URLs never checked: {lost[0].error}: {lost[0].detail}"


# == 2. A worker that exits with results still in its buffer ===============================


@pytest.mark.timeout(40)
def test_worker_os_exit_with_buffered_results(lab, start_method, monkeypatch, tmp_path, caplog):
    """os._exit(3) while verdicts sit in the worker: those sent are kept, the unsent are re-dispatched once."""
    monkeypatch.setattr(pcheck.run.pool, "worker_main", fh.fault_worker_main)
    marker = tmp_path / "exit-once"
    marker.touch()
    worker_report = tmp_path / "worker.json"
    poison = fh.fault_url(lab.url("/ok?i=poison"), "exit-buffered", marker=marker, after=10, report=worker_report, code=3)
    urls = [lab.url(f"/delay/5?i={i}", host=i % 4) for i in range(3)] + [poison] + [
        lab.url(f"/delay/5?i={i}", host=i % 4) for i in range(3, 80)]
    config = Config(processes=1, threads=4, timeout=5, retries=0, start_method=start_method)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pcheck"), CheckRun(config) as run:
        results = list(run.results(targets(urls)))
    elapsed = time.monotonic() - started
    seen = json.loads(worker_report.read_text())
    held = {parse_qs(urlsplit(u).query)["i"][0] for u in seen["held"]}
    sent = {parse_qs(urlsplit(u).query)["i"][0] for u in seen["sent"]}
    counts = requests_by_i(lab)
    print(f"\n[fault] os._exit with buffered results ({start_method}): finished in {elapsed:.2f} s; "
          f"{len(sent)} verdicts were in the pipe, {len(held)} held in the worker; crash {run.crashes}")

    one_result_each(results, urls)
    assert all(r.ok for r in results), collections.Counter((r.outcome, r.error) for r in results)
    assert len(run.crashes) == 1 and run.crashes[0].exitcode == 3
    assert run.crashes[0].lost >= len(held) + 1
    assert len(sent) >= 10 and held, seen
    assert all(counts[i] == 1 for i in sent), "a verdict already in the pipe was thrown away and checked again"
    assert all(counts[i] == 2 for i in held), "a verdict lost in the dead worker was not checked again"
    assert counts["poison"] == 1  # killed before its request the first time; checked by the fresh worker
    assert any("died (exit code 3)" in m for m in caplog.messages)


# == 3. Ctrl-C ===========================================================================


def _start_hanging_cli(lab, tmp_path, cli_processes, start_method, n_fast=50, n_hang=1000, threads=32):
    fast = [lab.url(f"/ok?i=f{i}", host=i % 4) for i in range(n_fast)]
    hang = [lab.url(f"/hang?i=h{i}", host=i % 4) for i in range(n_hang)]
    urls = fast + hang
    proc, report, stderr = start_cli(tmp_path, urls, "-p", "2", "-t", str(threads), "--timeout", "30",
                                     "--retries", "0", "--max-per-host", "1000", "--start-method", start_method)
    cli_processes.append(proc)
    # Ready when every fast URL is in the report and every worker thread hangs on the site.
    fh.wait_until(lambda: proc.poll() is not None or (len(read_jsonl(report)) >= n_fast
                                                      and in_flight(lab) >= 2 * threads),
                  fh.MAX_WAIT_S, "fast URLs reported and all threads hanging")
    assert proc.poll() is None, stderr.read_text()
    tree = fh.descendants(proc.pid)
    assert len(fh.worker_pids(proc.pid)) == 2
    return proc, report, stderr, fast, hang, tree


@pytest.mark.timeout(60)
def test_ctrl_c_while_1000_urls_hang(lab, start_method, tmp_path, cli_processes):
    proc, report, stderr, fast, hang, tree = _start_hanging_cli(lab, tmp_path, cli_processes, start_method)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole foreground group
    try:
        proc.wait(10)
    finally:
        kill_leftovers(tree)
    exit_s = time.monotonic() - sent
    gone = fh.wait_until(lambda: not fh.running(tree) and "all gone", 5.0, f"children left: {fh.running(tree)}")
    tree_s = time.monotonic() - sent
    records = read_jsonl(report, complete=True)
    summary = collections.Counter((r["outcome"], r["error"]) for r in records)
    print(f"\n[fault] Ctrl-C with 1000 hanging URLs ({start_method}): exit {proc.returncode} after {exit_s:.2f} s, "
          f"process tree ({len(tree)} processes) gone after {tree_s:.2f} s; report {dict(summary)}")
    assert gone
    assert proc.returncode == 130, stderr.read_text()
    assert exit_s < INTERRUPT_GRACE_S + 2.5
    assert sorted(r["url"] for r in records) == sorted(fast + hang)
    by_url = {r["url"]: r for r in records}
    assert all(by_url[u]["outcome"] == "alive" for u in fast)
    assert all(by_url[u]["outcome"] == "unchecked" and by_url[u]["error"] == "cancelled" for u in hang)
    assert "Traceback" not in stderr.read_text()


@pytest.mark.timeout(60)
def test_second_ctrl_c_exits_at_once(lab, tmp_path, cli_processes):
    proc, report, stderr, fast, hang, tree = _start_hanging_cli(lab, tmp_path, cli_processes, "forkserver",
                                                                n_hang=300, threads=16)
    os.killpg(proc.pid, signal.SIGINT)
    # Two SIGINTs that arrive before Python's handler runs count as one, so space them: the first is
    # delivered (no longer pending), then 50 ms for the main thread to wake from its 0.1 s wait and run
    # the handler; the run is then inside its INTERRUPT_GRACE_S (0.5 s) of collecting.
    fh.wait_until(lambda: not fh.signal_pending(proc.pid, signal.SIGINT), 2.0, "first SIGINT delivered")
    time.sleep(0.05)
    second = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(10)
    finally:
        kill_leftovers(tree)
    exit_s = time.monotonic() - second
    fh.wait_until(lambda: not fh.running(tree), 5.0, f"children left: {fh.running(tree)}")
    print(f"\n[fault] second Ctrl-C: exit {proc.returncode} {exit_s:.2f} s after it; "
          f"{len(read_jsonl(report))} records written")
    assert proc.returncode == 130, stderr.read_text()
    # Without the second Ctrl-C the run would wait out its grace (0.5 s) and then close its workers
    # politely (up to 2 s): well over this bound, which a loaded machine still meets.
    assert exit_s < 1.5, f"a second Ctrl-C took {exit_s:.2f} s to exit"


# == 4. The parent killed with SIGKILL =====================================================


@pytest.mark.timeout(40)
def test_parent_sigkill_workers_exit(lab, start_method, tmp_path, cli_processes):
    proc, report, stderr, fast, hang, tree = _start_hanging_cli(lab, tmp_path, cli_processes, start_method,
                                                                n_fast=10, n_hang=100, threads=8)
    workers = fh.worker_pids(proc.pid)
    killed = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone: no chance to clean up
    proc.wait(10)
    try:
        fh.wait_until(lambda: not fh.running(workers), 5.0, f"orphaned workers still running: {fh.running(workers)}")
        workers_s = time.monotonic() - killed
        fh.wait_until(lambda: not fh.running(tree), 5.0, f"orphans still running: {fh.running(tree)}")
        tree_s = time.monotonic() - killed
    finally:
        kill_leftovers(tree)
    print(f"\n[fault] parent SIGKILL ({start_method}): workers gone after {workers_s:.2f} s, whole tree "
          f"({len(tree)} processes) after {tree_s:.2f} s")
    # The sockets they held are closed too: the site sees no request in flight.
    fh.wait_until(lambda: in_flight(lab) == 0, 5.0, "requests of the orphans still open at the site")
