"""Polite per host: an interval between request starts, and a host that answers 429 slowed as a whole."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import time

import pytest

import fault_helpers as fh
from conftest import run_pcheck, write_list
from pcheck.models import HostBackoff
from pcheck.run.hosts import HostScheduler

pytestmark = pytest.mark.timeout(90)
FAST = ["--timeout", "5", "-p", "2", "--no-progress"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scheduler(cap: int = 4, interval: float = 0.0, deferrals: int = 3, max_pause: float = 30.0):
    clock = Clock()
    return HostScheduler(lambda host: cap, lambda host: interval, max_pause, deferrals, clock=clock), clock


def drain(hosts: HostScheduler) -> list[tuple[int, str]]:
    started = []
    while (task := hosts.next()) is not None:
        started.append(task)
    return started


def fill(hosts: HostScheduler, clock: Clock) -> list[tuple[int, str]]:
    """Start what the host allows in flight, moving the clock over each interval: its concurrency."""
    started = []
    while True:
        task = hosts.next()
        if task is not None:
            started.append(task)
        elif hosts.next_wake() is not None:
            clock.now = max(clock.now, hosts.next_wake())
        else:
            return started


# -- the scheduler, on a clock the test moves ------------------------------------------------------------

def test_requests_to_one_host_start_no_closer_than_its_interval():
    hosts, clock = scheduler(cap=8, interval=0.5)
    for i in range(3):
        hosts.add(i, "a")
    hosts.add(10, "b")
    assert drain(hosts) == [(0, "a"), (10, "b")]  # a waits for its interval; b is not held up by it
    assert hosts.next_wake() == pytest.approx(100.5)
    clock.now = 100.49
    assert hosts.next() is None
    clock.now = 100.5
    assert hosts.next() == (1, "a")


def test_a_429_pauses_the_host_for_its_retry_after_and_halves_its_concurrency():
    hosts, clock = scheduler(cap=8)
    for i in range(20):
        hosts.add(i, "a")
    started = drain(hosts)
    assert len(started) == 8
    assert hosts.answered(0, "a", 429, 2.0) is True  # refused: back in line, not a verdict
    for task_id, _ in started[1:]:  # the same overload, seen late: no further slowing
        hosts.answered(task_id, "a", 200, None)
    assert hosts.next() is None
    clock.now += 1.99
    assert hosts.next() is None
    clock.now += 0.02
    again = drain(hosts)
    assert again[0] == (0, "a")  # the refused URL first
    assert len(again) == 1  # concurrency 4 now, and starts spaced by the extra interval
    [slowed] = hosts.backoffs()
    assert (slowed.host, slowed.refusals, slowed.limit) == ("a", 1, 4)
    assert slowed.paused_s == pytest.approx(2.0)


def test_concurrency_comes_back_one_request_a_round_of_answers_without_refusal():
    hosts, clock = scheduler(cap=8)
    for i in range(200):
        hosts.add(i, "a")
    first = drain(hosts)
    hosts.answered(first[0][0], "a", 429, 0.0)
    for task_id, _ in first[1:]:
        hosts.answered(task_id, "a", 200, None)
    limits = []
    while hosts.waiting > 8:  # whole rounds only
        clock.now += 1.0  # past the pause
        batch = fill(hosts, clock)
        limits.append(len(batch))
        for task_id, _ in batch:
            hosts.answered(task_id, "a", 200, None)
    assert limits[0] == 4 and limits[-1] == 8  # multiplicative decrease, then back step by step to the cap
    assert all(b - a in (0, 1) for a, b in zip(limits, limits[1:]))


def test_a_url_is_put_back_as_often_as_it_has_retries_then_its_refusal_stands():
    hosts, clock = scheduler(deferrals=2)
    hosts.add(1, "a")
    outcomes = []
    for _ in range(3):
        clock.now += 60
        task = hosts.next()
        assert task == (1, "a")
        outcomes.append(hosts.answered(1, "a", 503, None))
    assert outcomes == [True, True, False]
    assert hosts.next() is None and hosts.waiting == 0


def test_a_retry_after_beyond_the_cap_is_not_waited_for_by_the_url_or_its_host():
    hosts, clock = scheduler(max_pause=30.0)
    hosts.add(1, "a")
    hosts.add(2, "a")
    hosts.next()
    assert hosts.answered(1, "a", 429, 3600.0) is False
    assert hosts.next() == (2, "a")  # its sibling goes at once: nobody waits an hour


@pytest.mark.parametrize("retry_after", [30.0, 0.0, None])
def test_a_host_that_refuses_whatever_the_pace_costs_the_run_a_bounded_time(retry_after):
    """429 on every request: with a long Retry-After the pause budget runs out; with `Retry-After: 0` (or none)
    no pause budget fills, and the host must still not be slowed to a request every 10 s for the rest of the run."""
    hosts, clock = scheduler(cap=8, deferrals=2, max_pause=30.0)
    for i in range(100):
        hosts.add(i, "wall")
    verdicts = 0
    for _ in range(10_000):
        task = fill(hosts, clock)
        if not task and not hosts.waiting:
            break
        for task_id, host in task:
            clock.now += 0.001
            verdicts += not hosts.answered(task_id, host, 429, retry_after)
    assert verdicts == 100  # every URL ends with its refusal as its verdict
    [wall] = hosts.backoffs()
    assert wall.paused_s <= 2 * 30.0 + 30.0  # pauses stop once they cost twice the cap
    assert clock.now - 100.0 < 200, clock.now - 100.0  # and the host's 100 URLs do not take hours


def test_other_hosts_go_on_while_one_is_paused():
    hosts, clock = scheduler(cap=1)
    hosts.add(1, "slow")
    hosts.add(2, "slow")
    for i in range(3, 6):
        hosts.add(i, "fine")
    assert hosts.next() == (1, "slow")
    hosts.answered(1, "slow", 429, 10.0)
    started = []
    for _ in range(3):
        task = hosts.next()
        started.append(task)
        hosts.answered(task[0], task[1], 200, None)
    assert started == [(3, "fine"), (4, "fine"), (5, "fine")]


# -- end to end, against a host that allows 10 requests a second --------------------------------------------

def rate_limited_run(lab, tmp_path, *flags: str) -> tuple[list[dict], dict]:
    urls = [lab.url(f"rate/10/x?i={i}") for i in range(80)] + [lab.url(f"delay/20?i={i}", 1) for i in range(40)]
    path = write_list(tmp_path / "urls.txt", urls)
    proc = run_pcheck("check", str(path), "--format", "jsonl", *FAST, *flags)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    return records, {"refused": lab.snapshot()["127.0.0.1"].refused}


def test_a_rate_limited_host_ends_all_alive_with_few_429s_and_a_normal_host_does_not_wait(lab, tmp_path):
    records, stats = rate_limited_run(lab, tmp_path)
    assert len(records) == 120
    assert collections.Counter(r["outcome"] for r in records) == {"alive": 120}
    # Before the host was slowed as a whole, these 80 URLs drew 56 refusals (each URL retried alone).
    assert stats["refused"] <= 14, stats
    order = [r["url"] for r in records]
    last_normal = max(i for i, url in enumerate(order) if "/delay/" in url)
    rate_limited_after = sum(1 for url in order[last_normal:] if "/rate/" in url)
    assert rate_limited_after >= 20, "the normal host waited for the rate-limited one"


def test_the_report_says_how_a_host_was_slowed(lab, tmp_path):
    urls = [lab.url(f"rate/5/y?i={i}") for i in range(30)]
    path = write_list(tmp_path / "urls.txt", urls)
    proc = run_pcheck("check", str(path), *FAST, "--host-stats")
    assert proc.returncode == 0, proc.stderr
    hint = next(line for line in proc.stdout.splitlines() if "answered 429/503" in line)
    assert hint.strip().startswith("127.0.0.1") and "paused it" in hint and "--host-interval" in hint
    table = proc.stdout.split("\nHosts:\n", 1)[1].splitlines()
    assert "429/503" in table[0] and "paused s" in table[0]
    refused = int(table[1].split()[-2])
    assert refused == lab.snapshot()["127.0.0.1"].refused > 0


def test_a_slowed_host_whose_refusals_stand_gets_one_hint_not_two(lab, tmp_path):
    """--retries 0: each 429 is its URL's verdict, and the host was slowed all the same. Its line says how;
    the results' own "rate-limited (429)" count would repeat it."""
    urls = [lab.url(f"rate/5/z?i={i}") for i in range(30)]
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), *FAST, "--retries", "0",
                      "--recheck-after", "0")
    assert "429 Too Many Requests" in proc.stdout, proc.stdout  # some refusals stood as verdicts
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("127.0.0.1: ")]
    assert [line for line in lines if "answered 429/503" in line], proc.stdout
    assert not [line for line in lines if "rate-limited (429)" in line], proc.stdout


def test_host_interval_spaces_the_requests_to_a_host_on_every_process(lab, tmp_path):
    urls = [lab.url(f"ok?i={i}") for i in range(6)] + [lab.url(f"ok?j={i}", 1) for i in range(6)]
    path = write_list(tmp_path / "urls.txt", urls)
    (tmp_path / "pcheck.toml").write_text('[hosts."127.0.0.2"]\nhost_interval = "0"\n')
    proc = run_pcheck("check", str(path), *FAST, "--host-interval", "200ms", "-t", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    arrivals = collections.defaultdict(list)
    for entry in lab.log:
        arrivals[entry.address].append(entry.at)
    spaced = sorted(arrivals["127.0.0.1"])
    gaps = [b - a for a, b in zip(spaced, spaced[1:])]
    assert len(spaced) == 6 and spaced[-1] - spaced[0] >= 5 * 0.2 * 0.8, gaps
    # Each start 200 ms after the last; one request that arrives late (a loaded machine) shortens only the
    # gap after it, so every two gaps together still span two intervals.
    assert all(c - a >= 0.3 for a, c in zip(spaced, spaced[2:])), gaps
    unspaced = sorted(arrivals["127.0.0.2"])  # its table says no interval
    assert unspaced[-1] - unspaced[0] < (spaced[-1] - spaced[0]) / 2


@pytest.mark.parametrize("value, message", [("-1s", "negative"), ("2h", "between 0 and 1h"), ("fast", "not a duration")])
def test_a_bad_host_interval_is_a_usage_error(lab, value, message):
    proc = run_pcheck("check", lab.url("ok"), "--host-interval", value, *FAST)
    assert proc.returncode == 2 and message in proc.stderr


def test_backoff_records_cross_as_typed_values():
    hosts, clock = scheduler()
    hosts.add(1, "a")
    hosts.next()
    hosts.answered(1, "a", 429, 1.0)
    assert hosts.backoffs() == [HostBackoff("a", 1, 1.0, 2, 0.1)]


def test_ctrl_c_while_a_host_is_paused_ends_at_once_and_reports_every_url(lab, tmp_path):
    """A host paused 25 s by its Retry-After: Ctrl-C does not wait for the pause, and loses no URL."""
    urls = [lab.url(f"retry-after/25/k?i={i}") for i in range(5)]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o",
                             str(report), "--max-per-host", "1", *FAST], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The 429 is answered (nothing in flight at the site): pcheck pauses the host as it reads it.
        fh.wait_until(lambda: any("retry-after" in e.target for e in lab.log) and sum(s.in_flight for s in lab.snapshot().values()) == 0,
                      fh.MAX_WAIT_S, "the 429 answered")
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert took < 10, took  # the grace for in-flight requests, not the 25 s pause
    got = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(r["url"] for r in got) == sorted(urls)
    assert {(r["outcome"], r["error"]) for r in got} == {("unchecked", "cancelled")}  # the host was paused
    assert sum("retry-after" in e.target for e in lab.log) == 1, "one request, then the pause"

