"""Verdicts on their way from a worker to the parent: ones that cannot be pickled, or unpickled, and ones
larger than a pipe buffer at shutdown. Each URL still gets exactly one result, and the run goes on."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import time

import pytest
from support import faults as fh
from support.checks import (
    UnpicklableInParent,
    check_unpicklable_in_parent,
    unpicklable_for_bad_urls,
)
from support.runs import one_result_each, targets

import pcheck.run.pool
from pcheck.check.checker import Checker
from pcheck.config import Config
from pcheck.models import ErrorKind, Order, Outcome, Verdict
from pcheck.run.pool import JOIN_GRACE_S, CheckRun
from pcheck.run.worker import serve

# -- results that cannot be pickled, or unpickled -----------------------------------------------


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
    thread, task_w, result_r, ends = _serve_in_thread([unpicklable_for_bad_urls] * 4)
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


def test_a_verdict_that_fails_to_unpickle_in_the_parent_really_does():
    """The premise of the next test: the verdict pickles (in the worker) and fails in pickle.loads (in the parent)."""
    verdict = Verdict(Outcome.ALIVE, status=200, final_url="http://x.test/", detail=UnpicklableInParent("a", "b"))
    data = pickle.dumps([(1, verdict)], pickle.HIGHEST_PROTOCOL)
    with pytest.raises(TypeError):
        pickle.loads(data)


@pytest.mark.timeout(30)
def test_verdict_that_fails_to_unpickle_in_parent_does_not_end_the_run(lab, monkeypatch):
    """CPython's ErrorAtUnpickle, against the parent; fork so the worker sees the replaced Checker.check.

    The stand-in has Checker.check's own signature (test_fake_signatures.py holds it to that): with any
    other, the worker's call raises TypeError, the URL becomes an ordinary internal error in the worker,
    and nothing unpicklable ever reaches the parent.
    """
    monkeypatch.setattr(Checker, "check", check_unpicklable_in_parent)
    bad = lab.url("/ok?i=bad")
    urls = [bad] + [lab.url(f"/ok?i={i}") for i in range(20)]
    results = []
    error = None
    try:
        for r in pcheck.check_urls(urls, processes=1, threads=2, timeout=5, retries=0, start_method="fork",
                                   recheck_after=0):
            results.append(r)
    except Exception as exc:
        error = exc
    assert error is None, f"the run died: {type(error).__name__}: {error}"
    one_result_each(results, urls)
    by_url = {r.url: r for r in results}
    # The bad verdict never arrives: its worker is stopped (twice: once re-dispatched), and the URL is
    # reported as lost with its worker, not as alive with a detail nobody could read.
    assert by_url[bad].outcome is Outcome.UNCHECKED and by_url[bad].error is not None, by_url[bad]
    # A good verdict sent in the same message as the bad one is lost with it (the parent cannot read that
    # message), and goes the way of its worker: re-dispatched once, then `worker_crashed`. How many share
    # the bad one's messages depends on timing (a loaded machine batches more): at most a worker's tasks
    # (threads x 2), twice; every other URL is checked.
    lost = [u for u in urls[1:] if not by_url[u].ok]
    assert len(lost) <= 2 * (2 * 2 - 1), [(u, by_url[u].outcome, by_url[u].detail) for u in lost]
    assert all(by_url[u].error is ErrorKind.WORKER_CRASHED for u in lost), [by_url[u] for u in lost]
    assert sum(e.target.startswith("/ok?i=") for e in lab.log) >= 20  # the good URLs were checked for real, by the real Checker.check


# -- results larger than a pipe buffer at shutdown -------------------------------------------------


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
