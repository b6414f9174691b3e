"""Fault injection: every way a run can be hurt, and the promise that every input URL still gets one result.

Organised by failure mode, as CPython's test_concurrent_futures is: killed
workers, workers that exit with results still in their buffers, Ctrl-C, a
killed parent, hostile servers, results that cannot be pickled, results larger
than a pipe buffer, and load. Pool tests run under every supported start
method. Nothing sleeps and hopes: every wait polls an observable condition
(the local site's counters, /proc, the report file, a process sentinel) under
a bound, and pytest-timeout plus faulthandler turn a hang into tracebacks.

Faults inside worker processes are injected by `fault_helpers.fault_worker_main`
(see its docstring): forkserver and spawn children do not inherit the test's
monkeypatches, so the fault travels in the URL's query string.
"""

from __future__ import annotations

import collections
import email.utils
import json
import logging
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

import fault_helpers as fh
import pcheck.run.pool
from pcheck.check.checker import Checker
from pcheck.config import Config
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import parse_url
from pcheck.lab import Lab
from pcheck.models import CheckResult, ErrorKind, Order, Outcome, Verdict
from pcheck.run.pool import CheckRun, INTERRUPT_GRACE_S, JOIN_GRACE_S
from pcheck.check.transport import Transport
from pcheck.run.worker import serve

START_METHODS = ["forkserver", "spawn"]
#: Slack on top of a deadline for scheduling on a loaded 2-core machine.
GRACE_S = 0.5
#: A run that ends on its own (no hanging URL left) must do so well within this.
RUN_BOUND_S = 20.0


@pytest.fixture(params=START_METHODS)
def start_method(request):
    return request.param


# -- helpers -------------------------------------------------------------------------


def targets(urls):
    for url in urls:
        yield parse_url(url, ARGS_SOURCE, None)


def requests_by_i(lab: Lab) -> collections.Counter:
    """How many requests the local site saw per `i=` query value."""
    counts: collections.Counter = collections.Counter()
    for entry in list(lab.log):
        i = parse_qs(urlsplit(entry.target).query).get("i")
        if i:
            counts[i[0]] += 1
    return counts


def one_result_each(results: list[CheckResult], urls: list[str]) -> None:
    got = collections.Counter(r.url for r in results)
    missing = [u for u in urls if got[u] == 0]
    doubled = [u for u, n in got.items() if n > 1]
    extra = set(got) - set(urls)
    assert not missing and not doubled and not extra, (
        f"{len(missing)} missing, {len(doubled)} doubled, {len(extra)} unknown; e.g. {missing[:2]} {doubled[:2]}"
    )


def in_flight(lab: Lab) -> int:
    return sum(s.in_flight for s in lab.snapshot().values())


def read_jsonl(path: Path, complete: bool = False) -> list[dict]:
    """Records written so far (a last line still being written is skipped unless `complete`)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if complete or line.endswith("}")]


def start_cli(tmp_path: Path, urls: list[str], *args: str) -> tuple[subprocess.Popen, Path, Path]:
    """`python -m pcheck check LIST --format jsonl -o REPORT ARGS` in its own session (process group).

    With no interval between requests to a host: these tests drive the pool as fast as it goes
    (politeness has tests of its own, in test_hosts.py)."""
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    report = tmp_path / "report.jsonl"
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o", str(report),
             "--no-progress", "--host-interval", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
    return proc, report, stderr


@pytest.fixture
def cli_processes():
    """Every CLI run started by a test; killed (whole group) and reaped at teardown whatever happened."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


def kill_leftovers(pids: list[int]) -> None:
    for pid in fh.running(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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
    skipped = [CheckResult(f"http://skipped.invalid/{i}", Outcome.EXCLUDED) for i in range(pcheck.run.pool.READ_CHUNK)]
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


# == 5. Slow and hostile servers ===========================================================


def _check(lab: Lab, path: str, **options) -> tuple[Verdict, float]:
    config = Config(processes=1, threads=1, **options)
    transport = Transport(pool_maxsize=1)
    try:
        started = time.monotonic()
        verdict = Checker(config, transport).check(lab.url(path))
        return verdict, time.monotonic() - started
    finally:
        transport.close()


TIMEOUT_S = 1.0
#: The attempt deadline for servers that stall: still five header bytes of /drip-headers (one per 0.1 s).
STALL_TIMEOUT_S = 0.5


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path, method", [("/hang", "head"), ("/drip-headers", "head"), ("/drip-headers", "get")])
def test_server_that_stalls_times_out_per_attempt(lab, path, method):
    verdict, elapsed = _check(lab, path, method=method, timeout=STALL_TIMEOUT_S, retries=1, backoff_base=0.01,
                              backoff_cap=0.01)
    print(f"\n[fault] {path} ({method}): {elapsed:.2f} s, {verdict.outcome.value}/{verdict.error}, "
          f"{verdict.attempts} attempts")
    assert verdict.outcome is Outcome.BROKEN and verdict.error is ErrorKind.TIMEOUT
    assert verdict.attempts == 2
    assert 2 * STALL_TIMEOUT_S <= elapsed < 2 * (STALL_TIMEOUT_S + GRACE_S)
    # Nothing is left hanging at the site: the watchdog closed each socket at its deadline.
    fh.wait_until(lambda: in_flight(lab) == 0, 2.0, "requests still open at the site")


@pytest.mark.timeout(30)
def test_drip_body_with_get_is_alive_within_timeout(lab):
    verdict, elapsed = _check(lab, "/drip-body", method="get", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /drip-body (get): {elapsed:.2f} s, {verdict}")
    assert elapsed < TIMEOUT_S + GRACE_S
    assert (verdict.outcome, verdict.status, verdict.error) == (Outcome.ALIVE, 200, None)


@pytest.mark.timeout(30)
def test_drip_body_ends_within_timeout(lab):
    """Whatever the verdict, a dripped body never holds a thread past the attempt deadline."""
    verdict, elapsed = _check(lab, "/drip-body", method="get", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /drip-body (get): {elapsed:.2f} s, {verdict.outcome.value}/{verdict.error}")
    assert elapsed < TIMEOUT_S + GRACE_S
    fh.wait_until(lambda: in_flight(lab) == 0, 2.0, "the dripping response is still open at the site")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["head", "get"])
def test_endless_redirect_body_is_not_read(lab, method):
    verdict, elapsed = _check(lab, "/redirect-endless-body", method=method, timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /redirect-endless-body ({method}): {elapsed:.3f} s, {verdict.outcome.value}")
    assert (verdict.outcome, verdict.status, verdict.redirects) == (Outcome.ALIVE, 200, 1)
    assert verdict.final_url == lab.url("/ok")
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20  # the hop's endless body was not read
    assert elapsed < 0.9 * TIMEOUT_S  # nor cut by the deadline


@pytest.mark.timeout(30)
def test_endless_body_with_get_is_not_read(lab):
    verdict, elapsed = _check(lab, "/endless", method="get", timeout=TIMEOUT_S, retries=0)
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20
    assert elapsed < 0.9 * TIMEOUT_S  # not cut by the deadline


@pytest.mark.timeout(30)
def test_reset_on_head_falls_back_to_get(lab):
    verdict, elapsed = _check(lab, "/reset-on-head", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /reset-on-head: {elapsed:.3f} s, {verdict.outcome.value} via {verdict.method}")
    assert (verdict.outcome, verdict.status, verdict.method) == (Outcome.ALIVE, 200, "GET")
    assert elapsed < TIMEOUT_S
    methods = [e.method for e in lab.log if e.target == "/reset-on-head"]
    assert methods == ["HEAD", "GET"]


@pytest.mark.timeout(30)
def test_retry_after_seconds_is_honoured(lab):
    verdict, elapsed = _check(lab, "/retry-after/1/secs", timeout=TIMEOUT_S, retries=1)
    print(f"\n[fault] 429 Retry-After 1: {elapsed:.2f} s, {verdict.outcome.value}")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    assert 1.0 <= elapsed < 1.0 + TIMEOUT_S + GRACE_S


@pytest.mark.timeout(30)
def test_retry_after_http_date_is_honoured(lab):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: the wait is in (1, 2]
    verdict, elapsed = _check(lab, f"/retry-after/{quote(when, safe='')}/date", timeout=TIMEOUT_S, retries=1)
    print(f"\n[fault] 429 Retry-After {when!r}: {elapsed:.2f} s, {verdict.outcome.value}")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    assert 0.9 <= elapsed < 2.0 + TIMEOUT_S + GRACE_S


@pytest.mark.timeout(30)
def test_retry_after_too_long_ends_at_once(lab):
    verdict, elapsed = _check(lab, "/retry-after/99999/long", timeout=TIMEOUT_S, retries=2)
    print(f"\n[fault] 429 Retry-After 99999: {elapsed:.3f} s, {verdict.outcome.value} ({verdict.detail})")
    assert (verdict.outcome, verdict.status, verdict.error, verdict.attempts) == (Outcome.BLOCKED, 429, None, 1)
    assert "Retry-After" in verdict.detail
    assert elapsed < TIMEOUT_S


@pytest.mark.timeout(40)
def test_hostile_servers_through_the_pool(lab, start_method):
    """The same behaviours through check_urls: each URL one result, the run bounded by its slowest URL."""
    from pcheck import check_urls

    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    cases = {
        lab.url("/hang"): ("broken", "timeout"),
        lab.url("/drip-headers"): ("broken", "timeout"),
        lab.url("/redirect-endless-body"): ("alive", None),
        lab.url("/reset-on-head"): ("alive", None),
        lab.url("/retry-after/1/pool"): ("alive", None),
        lab.url(f"/retry-after/{quote(when, safe='')}/pool"): ("alive", None),
        lab.url("/retry-after/99999/pool"): ("blocked", None),
    }
    started = time.monotonic()
    results = list(check_urls(cases, processes=2, threads=8, timeout=TIMEOUT_S, retries=1,
                              backoff_base=0.01, backoff_cap=0.01, start_method=start_method,
                              recheck_after=0, host_interval=0))  # the bound is one check's: no late re-check
    elapsed = time.monotonic() - started
    one_result_each(results, list(cases))
    got = {r.url: (r.outcome.value, r.error.value if r.error else None) for r in results}
    assert got == cases
    assert elapsed < 2 * (TIMEOUT_S + GRACE_S) + 3.0  # two timed-out attempts, plus start-up


# == 6. Results that cannot be pickled ======================================================


class UnpicklableInParent(Exception):
    """Pickles fine, fails in pickle.loads: the classic exception whose __init__ takes two arguments."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}: {b}")


def _serve_in_thread(check_fns):
    task_r, task_w = multiprocessing.Pipe(duplex=False)
    result_r, result_w = multiprocessing.Pipe(duplex=False)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(task_r, result_w, check_fns, stop), daemon=True)
    thread.start()
    return thread, task_w, result_r, (task_r, result_w)


def _receive(result_r, want: int, timeout: float = 10.0) -> dict[int, Verdict]:
    import pickle

    got: dict[int, Verdict] = {}
    deadline = time.monotonic() + timeout
    while len(got) < want:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and result_r.poll(remaining), f"only {len(got)} of {want} verdicts arrived"
        got.update(pickle.loads(result_r.recv_bytes()))
    return got


@pytest.mark.timeout(30)
def test_serve_replaces_an_unpicklable_verdict(lab):
    def check(url: str, host: str, anchors: bool = False, method: str | None = None, last: bool = False) -> Verdict:
        if "bad" in url:
            return Verdict(Outcome.ALIVE, status=200, final_url=url, detail=lambda: None)  # type: ignore[arg-type]
        return Verdict(Outcome.ALIVE, status=200, final_url=url)

    thread, task_w, result_r, ends = _serve_in_thread([check] * 4)
    try:
        tasks = [Order(i, f"http://x.test/{'bad' if i % 7 == 3 else 'good'}/{i}", "x.test") for i in range(300)]
        task_w.send(tasks)
        task_w.send(None)
        got = _receive(result_r, len(tasks))
        thread.join(5)
        assert not thread.is_alive(), "serve did not return after None"
    finally:
        for conn in (task_w, result_r, *ends):
            conn.close()
    assert sorted(got) == [i for i, *_ in tasks]
    for i, url, *_ in tasks:
        if "bad" in url:
            assert (got[i].outcome, got[i].error) == (Outcome.UNCHECKED, ErrorKind.INTERNAL)
            assert "could not be sent to the parent" in got[i].detail
        else:
            assert (got[i].outcome, got[i].final_url) == (Outcome.ALIVE, url)


@pytest.mark.timeout(40)
def test_pool_unpicklable_verdict_becomes_internal(lab, start_method, monkeypatch):
    monkeypatch.setattr(pcheck.run.pool, "worker_main", fh.fault_worker_main)
    bad = fh.fault_url(lab.url("/ok?i=bad"), "unpicklable")
    urls = [bad] + [lab.url(f"/ok?i={i}") for i in range(30)]
    results = list(pcheck.check_urls(urls, processes=2, threads=4, timeout=5, retries=0, start_method=start_method))
    one_result_each(results, urls)
    by_url = {r.url: r for r in results}
    assert (by_url[bad].outcome, by_url[bad].error) == (Outcome.UNCHECKED, ErrorKind.INTERNAL)
    assert all(by_url[u].ok for u in urls[1:])


@pytest.mark.timeout(30)
def test_verdict_that_fails_to_unpickle_in_parent_does_not_end_the_run(lab):
    """CPython's ErrorAtUnpickle, against the parent; fork so the child sees the patched check."""
    original = Checker.check

    def check(self, url):  # runs in the forked worker
        if "i=bad" in url:
            return Verdict(Outcome.ALIVE, status=200, final_url=url, detail=UnpicklableInParent("a", "b"))
        return original(self, url)

    mp = pytest.MonkeyPatch()
    mp.setattr(Checker, "check", check)
    try:
        urls = [lab.url("/ok?i=bad")] + [lab.url(f"/ok?i={i}") for i in range(20)]
        results = []
        error = None
        try:
            for r in pcheck.check_urls(urls, processes=1, threads=2, timeout=5, retries=0, start_method="fork"):
                results.append(r)
        except Exception as exc:  # noqa: BLE001
            error = exc
    finally:
        mp.undo()
    assert error is None, f"the run died: {type(error).__name__}: {error}"
    one_result_each(results, urls)


# == 7. Results larger than a pipe buffer at shutdown ============================================


BIG = 100_000  # bytes of detail per verdict: one verdict alone outgrows a 64 KiB pipe buffer


@pytest.mark.timeout(40)
def test_big_results_all_arrive_and_workers_exit_cleanly(lab, start_method, monkeypatch):
    monkeypatch.setattr(pcheck.run.pool, "worker_main", fh.fault_worker_main)
    urls = [fh.fault_url(lab.url(f"/ok?i={i}"), "big", size=BIG) for i in range(300)]
    config = Config(processes=2, threads=4, timeout=5, retries=0, start_method=start_method, host_interval=0)
    started = time.monotonic()
    with CheckRun(config) as run:
        results = list(run.results(targets(urls)))
        processes = [w.process for w in run._workers]
        closing = time.monotonic()
    close_s = time.monotonic() - closing
    print(f"\n[fault] 300 x 100 KB verdicts ({start_method}): {closing - started:.2f} s, close {close_s:.2f} s")
    one_result_each(results, urls)
    assert all(r.ok and len(r.detail) == BIG for r in results)
    assert [p.exitcode for p in processes] == [0, 0], "workers were terminated instead of exiting"
    assert close_s < JOIN_GRACE_S


@pytest.mark.timeout(40)
def test_closing_early_with_big_results_in_flight_drains_before_join(lab, start_method, monkeypatch):
    monkeypatch.setattr(pcheck.run.pool, "worker_main", fh.fault_worker_main)
    urls = [fh.fault_url(lab.url(f"/ok?i={i}"), "big", size=BIG) for i in range(300)]
    config = Config(processes=2, threads=4, timeout=5, retries=0, start_method=start_method, host_interval=0)
    run = CheckRun(config)
    with run:
        gen = run.results(targets(urls))
        for _ in range(5):
            next(gen)
        processes = [w.process for w in run._workers]
        # Take results until both workers hold work again (the parent only dispatches between
        # results, so waiting would change nothing); their big batches then fill the pipes.
        for _ in range(250):
            if all(w.in_flight for w in run._workers):
                break
            next(gen)
        assert all(w.in_flight for w in run._workers), "never had work in flight on both workers"
        gen.close()
        closing = time.monotonic()
    close_s = time.monotonic() - closing
    print(f"\n[fault] close with big results in flight ({start_method}): {close_s:.2f} s, "
          f"exit codes {[p.exitcode for p in processes]}")
    assert close_s < 1.0
    assert all(p.exitcode == 0 for p in processes)


# == 8. Load ====================================================================================


@pytest.mark.timeout(90)
def test_load_10000_urls_2x64_threads_50_hosts(tmp_path, cli_processes):
    cap = 4
    with Lab(hosts=50) as site:
        urls = [site.url(f"/delay/20?i={i}", host=i % 50) for i in range(10_000)]
        started = time.monotonic()
        proc, report, stderr = start_cli(tmp_path, urls, "-p", "2", "-t", "64", "--max-per-host", str(cap),
                                         "--timeout", "10", "--retries", "0")
        cli_processes.append(proc)
        proc.wait(80)
        elapsed = time.monotonic() - started
        stats = site.snapshot()
    records = read_jsonl(report, complete=True)
    err = stderr.read_text()
    requests_made = sum(s.requests for s in stats.values())
    connections = sum(s.connections for s in stats.values())
    peak = max(s.max_in_flight for s in stats.values())
    print(f"\n[load] 10,000 URLs, 2 x 64 threads, 50 hosts: {elapsed:.1f} s, {requests_made} requests on "
          f"{connections} connections, max in flight per host {peak} (cap {cap})")
    assert proc.returncode == 0, err[-2000:]
    assert len(records) == 10_000 and all(r["outcome"] == "alive" for r in records)
    assert "connection pool is full" not in err.lower(), err[-2000:]
    assert err.strip() == "", err[-2000:]
    # Seen in about 1 run of 7: one URL needed a second request (attempts 2, alive: a HEAD that failed,
    # confirmed by GET); cause not diagnosed yet, so it is printed, and tolerated only in small numbers.
    extra = [r for r in records if r["attempts"] != 1]
    if extra:
        print(f"[load] URLs that needed more than one request: {extra}")
    assert requests_made == 10_000 + sum(r["attempts"] - 1 for r in records) and len(extra) <= 5
    assert connections <= 2 * cap * 50, "sockets are not reused"
    assert all(s.max_in_flight <= cap for s in stats.values()), {a: s.max_in_flight for a, s in stats.items()}
    assert peak == cap, "concurrency never built up to the cap, so the cap was not tested"
