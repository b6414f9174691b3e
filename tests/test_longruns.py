"""Long runs: --resume after a kill at any moment, the verdict cache, and watch rounds."""

from __future__ import annotations

import collections
import json
import multiprocessing
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import run_pcheck, write_list
from pcheck.store.cache import VerdictCache
from pcheck.config import Config
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import parse_url
from pcheck.models import Outcome
from pcheck.run.pool import CheckRun
from pcheck.run.watch import Change, RoundSummary, watch
from support.fast import FAST_ANY_PROCESSES

pytestmark = pytest.mark.timeout(120)


def final_records(path):
    finals = collections.Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)  # every line whole: a torn one would not parse
        if record["outcome"] != "unchecked":
            finals[(record["url"], record["line"])] += 1
    return finals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_resume_after_sigkill_at_a_random_moment_ends_with_one_final_record_each(lab, tmp_path, seed):
    urls = [lab.url(f"delay/20?i={i}", i % 4) for i in range(300)] + ["not a url", lab.url("delay/20?i=7", 3)]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"
    args = [sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o", str(report),
            "--resume", "-p", "2", "-t", "4", *FAST_ANY_PROCESSES]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # Wait until some records are written, then kill the whole group at a random moment after that.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not report.exists() or report.stat().st_size < 2000):
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0.0, 0.5))
    try:
        import os

        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
    finished_before = sum(final_records(report).values()) if report.read_bytes().endswith(b"\n") else None
    resumed = run_pcheck(*args[3:])  # the resuming run need not be killable: in process
    assert resumed.returncode == 1, resumed.stderr  # the invalid line fails the whole audit
    finals = final_records(report)
    expected = collections.Counter((url, n) for n, url in enumerate(urls, start=1))
    assert finals == expected
    if finished_before is not None:
        assert finished_before < len(urls)  # the kill did interrupt the first run


def test_a_torn_last_line_is_cut_and_unchecked_records_are_retried(lab, tmp_path):
    urls = [lab.url("ok?a=1"), lab.url("ok?a=2")]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"
    first = {"url": urls[0], "outcome": "alive", "ok": True, "status": 200, "error": None, "final_url": urls[0],
             "redirects": 0, "method": "HEAD", "attempts": 1, "elapsed_ms": 1.0, "source": str(listing), "line": 1}
    cancelled = {**first, "url": urls[1], "line": 2, "outcome": "unchecked", "error": "cancelled", "ok": False}
    report.write_text(json.dumps(first) + "\n" + json.dumps(cancelled) + "\n" + '{"url": "http://torn', encoding="utf-8")
    proc = run_pcheck("check", str(listing), "--format", "jsonl", "-o", str(report), "--resume", "-p", "1", *FAST_ANY_PROCESSES)
    assert proc.returncode == 0, proc.stderr
    assert "torn" in proc.stderr
    records = [json.loads(line) for line in report.read_text().splitlines()]
    # the resumed run ended: its report holds one record per occurrence, the superseded unchecked one gone
    assert [(r["line"], r["outcome"]) for r in records] == [(1, "alive"), (2, "alive")]
    assert sum(1 for r in lab.log if "a=1" in r.target) == 0  # line 1 was not checked again


def test_resume_needs_a_jsonl_report_file(lab):
    assert run_pcheck("check", lab.url("ok"), "--resume", *FAST_ANY_PROCESSES).returncode == 2


def cache_args(tmp_path, *extra):
    return ["--cache", "--cache-path", str(tmp_path / "cache.sqlite"), "--format", "jsonl", "-p", "1", *FAST_ANY_PROCESSES, *extra]


def test_cache_serves_alive_verdicts_and_never_failures(lab, tmp_path):
    urls = [lab.url("ok?c=1"), lab.url("status/404?c=2"), lab.url("redirect/2?c=3")]
    listing = write_list(tmp_path / "urls.txt", urls)
    run_pcheck("check", str(listing), *cache_args(tmp_path))
    before = collections.Counter(r.target.split("?")[-1] for r in lab.log)
    again = run_pcheck("check", str(listing), *cache_args(tmp_path))
    after = collections.Counter(r.target.split("?")[-1] for r in lab.log)
    records = {r["url"]: r for r in map(json.loads, again.stdout.splitlines())}
    assert records[urls[0]]["outcome"] == "alive" and "from cache" in records[urls[0]]["detail"]
    assert records[urls[2]]["redirects"] == 2 and "from cache" in records[urls[2]]["detail"]
    assert records[urls[1]]["outcome"] == "broken" and not records[urls[1]]["detail"]
    assert after["c=1"] == before["c=1"] and after["c=3"] == before["c=3"]  # served, not requested
    assert after["c=2"] > before["c=2"]  # the 404 was checked again


def test_cache_entries_expire_and_depend_on_verdict_options(lab, tmp_path):
    url = lab.url("ok?e=1")
    run_pcheck("check", url, *cache_args(tmp_path))
    hits = lambda: sum(1 for r in lab.log if "e=1" in r.target)  # noqa: E731
    n = hits()
    run_pcheck("check", url, *cache_args(tmp_path, "--max-cache-age", "0s"))
    assert hits() == n + 1  # expired
    run_pcheck("check", url, *cache_args(tmp_path, "--accept", "200-299,403"))
    assert hits() == n + 2  # other accept codes: another key
    run_pcheck("check", url, *cache_args(tmp_path))
    assert hits() == n + 2  # a fresh entry from the runs above


def test_two_concurrent_runs_share_one_cache_safely(lab, tmp_path):
    listings = [write_list(tmp_path / f"urls{k}.txt", [lab.url(f"ok?k={k}&i={i}", i % 4) for i in range(200)])
                for k in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(path), *cache_args(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for path in listings]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 400


def _open_cache_at_the_barrier(path, barrier, errors):
    barrier.wait()
    try:
        VerdictCache(path, Config()).close()
    except Exception as exc:  # reported to the test, not lost in the child
        errors.put(repr(exc))


def test_runs_opening_a_new_cache_at_the_same_moment_all_get_it(tmp_path):
    """Switching a new file to WAL together deadlocks, and SQLite answers that without waiting."""
    fork = multiprocessing.get_context("fork")  # cheap children that only touch SQLite
    errors = fork.Queue()
    for trial in range(20):
        barrier = fork.Barrier(8)
        openers = [fork.Process(target=_open_cache_at_the_barrier,
                                args=(str(tmp_path / f"cache{trial}.sqlite"), barrier, errors)) for _ in range(8)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
            assert opener.exitcode == 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []


def test_watch_reports_a_route_flipping_to_500_and_back(lab):
    flip = lab.url("flip/w")
    steady = lab.url("ok?steady=1")
    items = lambda: [parse_url(u, ARGS_SOURCE, None) for u in (flip, steady)]  # noqa: E731
    plan = iter([500, 200])

    def between_rounds(seconds):
        lab.flips["w"] = next(plan)  # the test's own clock: no sleeping

    with CheckRun(Config(processes=1, timeout=3.0, retries=0)) as run:
        events = list(watch(run, items, 30.0, rounds=3, sleep=between_rounds))
        workers_seen = {w.process.pid for w in run._workers}
    changes = [(e.round, e.result.url, e.previous, e.result.outcome) for e in events if isinstance(e, Change)]
    assert changes == [(2, flip, Outcome.ALIVE, Outcome.BROKEN), (3, flip, Outcome.BROKEN, Outcome.ALIVE)]
    summaries = [e for e in events if isinstance(e, RoundSummary)]
    assert [s.counts.get(Outcome.ALIVE) for s in summaries] == [2, 1, 2]
    assert len(workers_seen) == 1  # one warm worker served all rounds


def test_watch_command_prints_changes_and_stops_after_its_rounds(lab):
    proc = run_pcheck("watch", lab.url("status/500"), lab.url("ok"), "--rounds", "2", "--every", "0s",
                      "--format", "jsonl", "-p", "1", "--retries", "0", "--timeout", "3")
    assert proc.returncode == 1, proc.stderr  # the last round still has the 500: as a check would, 1
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["url"], r["outcome"], r["previous"], r["round"]) for r in records] == [
        (lab.url("status/500"), "broken", None, 1)]
    assert proc.stderr.count("round ") == 2
