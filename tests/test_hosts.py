"""Polite per host: an interval between request starts, and a host that answers 429 slowed as a whole."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import time

import pytest

from support import faults as fh
from conftest import run_pcheck, write_list
from pcheck.models import HostBackoff, Outcome, Verdict
from pcheck.run.hosts import HostScheduler
from pcheck.run.pace import WINDOW_S
from support.fast import FAST_KEEPING_RETRIES

pytestmark = pytest.mark.timeout(90)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scheduler(cap: int = 4, interval: float = 0.0, deferrals: int = 3, max_pause: float = 30.0):
    clock = Clock()
    return HostScheduler(lambda host: cap, lambda host: interval, max_pause, deferrals, clock=clock,
                         retry_wait=lambda attempt: 0.5 * 2 ** attempt), clock


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


def answer(hosts: HostScheduler, task_id: int, host: str, status: int, retry_after: float | None = None,
           attempts: int = 1) -> Verdict | None:
    """The scheduler hears one request's end: 2xx alive, anything else broken (blocked for 429)."""
    outcome = Outcome.ALIVE if status < 300 else Outcome.BLOCKED if status == 429 else Outcome.BROKEN
    return hosts.answered(task_id, host, Verdict(outcome, status, attempts=attempts, retry_after_s=retry_after))


def refuse_a_burst(hosts: HostScheduler, clock: Clock, host: str = "a", n: int = 8, retry_after: float | None = 2.0):
    """n URLs of `host` started together, every one refused: the host's own state, not one URL's."""
    for i in range(n):
        hosts.add(i, host)
    started = drain(hosts)
    for task_id, _ in started:
        clock.now += 0.001
        answer(hosts, task_id, host, 429, retry_after)
    return started


def test_a_lone_503_is_its_urls_own_and_does_not_slow_its_siblings():
    hosts, clock = scheduler(cap=4, deferrals=2)
    hosts.add(0, "a")
    for i in range(1, 40):
        hosts.add(i, "a")
    first = drain(hosts)
    assert answer(hosts, first[0][0], "a", 503) is None  # back in line after its own wait, not a verdict
    for task_id, _ in first[1:]:
        assert answer(hosts, task_id, "a", 200) is not None
    # Its siblings go on at the host's full pace while the refused URL waits its backoff.
    assert [t for t, _ in drain(hosts)] == [4, 5, 6, 7]
    [a] = hosts.backoffs()
    assert (a.refusals, a.limit, a.reason, a.paused_s) == (1, 4, "", 0.0)  # not slowed: the 503 was that URL's answer
    assert hosts.next_wake() is not None  # the refused URL's next try is due at its backoff


def test_a_refused_url_is_tried_again_after_its_own_backoff_with_get_then_its_refusal_stands():
    hosts, clock = scheduler(deferrals=2)
    hosts.add(1, "a")
    outcomes = []
    assert hosts.try_of(1) == (False, False)
    for tries_left in (1, 0, None):
        task = hosts.next()
        assert task == (1, "a")
        outcomes.append(answer(hosts, 1, "a", 503, attempts=1))
        if outcomes[-1] is None:
            assert hosts.try_of(1) == (True, tries_left == 0)  # its next try goes straight to GET
            assert hosts.next() is None  # not before its backoff (0.5 s, then 1 s, on this test's wait)
            clock.now = hosts.next_wake()
    assert outcomes[:2] == [None, None]
    final = outcomes[2]
    assert final is not None and final.status == 503
    assert final.attempts == 3  # every try's requests, not the last one's
    assert hosts.try_of(1) == (False, False) and hosts.next() is None and hosts.waiting == 0


def test_a_retry_after_within_the_cap_is_the_urls_wait_and_beyond_it_the_refusal_stands():
    hosts, clock = scheduler(max_pause=30.0)
    for i in (1, 2, 3):
        hosts.add(i, "a")
    drain(hosts)
    assert answer(hosts, 1, "a", 429, 5.0) is None
    assert hosts.next_wake() == pytest.approx(105.0)  # the URL waits what the server asked
    refused = answer(hosts, 2, "a", 429, 3600.0)
    assert refused is not None and refused.status == 429  # nobody waits an hour: the refusal is its verdict
    hosts.add(4, "a")
    assert hosts.next() == (4, "a")  # its siblings go at once


def test_a_burst_of_refused_urls_pauses_the_host_and_halves_its_concurrency():
    hosts, clock = scheduler(cap=8)
    refuse_a_burst(hosts, clock, retry_after=2.0)
    for i in range(100, 120):
        hosts.add(i, "a")
    assert hosts.next() is None  # paused for the Retry-After
    clock.now += 2.0
    again = fill(hosts, clock)
    assert len(again) == 4  # concurrency halved (the refused URLs first, then the rest)
    [slowed] = hosts.backoffs()
    assert (slowed.host, slowed.refusals, slowed.limit) == ("a", 8, 4)
    assert slowed.paused_s == pytest.approx(2.0) and "refused" in slowed.reason


def test_refusals_seen_late_do_not_slow_the_host_twice():
    hosts, clock = scheduler(cap=8)
    for i in range(8):
        hosts.add(i, "a")
    started = drain(hosts)
    for task_id, _ in started:  # all sent before the first refusal was heard
        clock.now += 0.001
        answer(hosts, task_id, "a", 429, None)
    [slowed] = hosts.backoffs()
    assert slowed.limit == 4 and slowed.paused_s == pytest.approx(1.0)  # one slowdown, not one per refusal


def test_the_pace_comes_back_after_a_quiet_period_however_slow_the_host_was_sent():
    hosts, clock = scheduler(cap=8, interval=0.05)
    for round_ in range(3):  # three overloads in a row: concurrency 1, extra interval 0.4 s
        refuse_a_burst(hosts, clock, retry_after=0.5)
        clock.now += 0.5
    [slowed] = hosts.backoffs()
    assert slowed.limit < 8 and slowed.extra_interval_s > 0.05
    clock.now += 8 * 1.0 + 0.1  # quiet: no refusal for eight recovery steps
    for i in range(1000, 1016):
        hosts.add(i, "a")
    burst = drain(hosts)
    [back] = hosts.backoffs()
    assert (back.limit, back.extra_interval_s) == (8, 0.0)  # its configured pace again
    assert len(burst) == 1 and hosts.next_wake() == pytest.approx(clock.now + 0.05)  # only the configured interval
    assert 0 < back.slowed_s < clock.now - 100.0


def test_a_host_whose_refusals_do_not_follow_the_pace_is_not_slowed_again():
    """Every other request refused, at any pace (one throttled backend of two): slowing cannot help, so after
    a second slowdown that did not lower the refusals, the host keeps its pace and each URL its retries."""
    hosts, clock = scheduler(cap=8, interval=0.05, deferrals=2)
    for i in range(200):
        hosts.add(i, "alt")
    sent = 0
    verdicts = 0
    while hosts.waiting and clock.now < 1000:
        task = hosts.next()
        if task is None:
            clock.now = max(clock.now, hosts.next_wake() or clock.now + 0.01)
            continue
        sent += 1
        clock.now += 0.01
        verdicts += answer(hosts, task[0], "alt", 429 if sent % 2 else 200) is not None
    assert verdicts == 200
    [alt] = hosts.backoffs()
    assert "did not lower" in alt.reason and alt.paused_s <= 1.0 + 2.0
    assert clock.now - 100.0 < 20, clock.now - 100.0  # 200 URLs at 50 ms (10 s) and their retries, not a minute


@pytest.mark.parametrize("retry_after", [30.0, 0.0, None])
def test_a_host_that_refuses_whatever_the_pace_costs_the_run_a_bounded_time(retry_after):
    """429 on every request: the host is slowed, then not again once slowing does not help; each URL ends
    with its refusal after its retries."""
    hosts, clock = scheduler(cap=8, deferrals=2, max_pause=30.0)
    for i in range(100):
        hosts.add(i, "wall")
    verdicts = 0
    for _ in range(10_000):
        task = hosts.next()
        if task is None:
            if not hosts.waiting:
                break
            clock.now = max(clock.now, hosts.next_wake())
            continue
        clock.now += 0.001
        verdicts += answer(hosts, task[0], task[1], 429, retry_after) is not None
    assert verdicts == 100  # every URL ends with its refusal as its verdict
    [wall] = hosts.backoffs()
    assert wall.paused_s <= 2 * 30.0 + 30.0  # pauses stop once they cost twice the cap
    assert clock.now - 100.0 < 200, clock.now - 100.0  # and the host's 100 URLs do not take hours


def test_other_hosts_go_on_while_one_is_paused():
    hosts, clock = scheduler(cap=4)
    refuse_a_burst(hosts, clock, "slow", n=4, retry_after=10.0)
    for i in range(3, 6):
        hosts.add(i + 10, "fine")
    started = []
    for _ in range(3):
        task = hosts.next()
        started.append(task)
        answer(hosts, task[0], task[1], 200)
    assert started == [(13, "fine"), (14, "fine"), (15, "fine")]


def test_a_re_check_is_a_last_try_and_goes_straight_to_get():
    hosts, clock = scheduler(deferrals=2)
    hosts.add(7, "a", last_try=True)
    assert hosts.try_of(7) == (True, True)
    assert hosts.next() == (7, "a")
    final = answer(hosts, 7, "a", 503)
    assert final is not None and final.status == 503  # a refusal now is its verdict


# -- end to end, against a host that allows 10 requests a second --------------------------------------------

def rate_limited_run(lab, tmp_path, *flags: str) -> tuple[list[dict], dict]:
    urls = [lab.url(f"rate/10/x?i={i}") for i in range(80)] + [lab.url(f"delay/20?i={i}", 1) for i in range(40)]
    path = write_list(tmp_path / "urls.txt", urls)
    proc = run_pcheck("check", str(path), "--format", "jsonl", *FAST_KEEPING_RETRIES, "-p", "2", *flags)
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
    proc = run_pcheck("check", str(path), *FAST_KEEPING_RETRIES, "-p", "2", "--host-stats")
    assert proc.returncode == 0, proc.stderr
    hint = next(line for line in proc.stdout.splitlines() if "answered 429/503" in line)
    assert hint.strip().startswith("127.0.0.1") and "slowed" in hint and "paused" in hint and "--host-interval" in hint
    table = proc.stdout.split("\nHosts:\n", 1)[1].splitlines()
    assert "429/503" in table[0] and "paused s" in table[0]
    refused = int(table[1].split()[-2])
    assert refused == lab.snapshot()["127.0.0.1"].refused > 0


def test_a_slowed_host_whose_refusals_stand_gets_one_hint_not_two(lab, tmp_path):
    """--retries 0: each 429 is its URL's verdict, and the host was slowed all the same. Its line says how;
    the results' own "rate-limited (429)" count would repeat it."""
    urls = [lab.url(f"rate/5/z?i={i}") for i in range(30)]
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), *FAST_KEEPING_RETRIES, "-p", "2", "--retries", "0",
                      "--recheck-after", "0")
    assert "429 Too Many Requests" in proc.stdout, proc.stdout  # some refusals stood as verdicts
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("127.0.0.1: ")]
    assert [line for line in lines if "answered 429/503" in line], proc.stdout
    assert not [line for line in lines if "rate-limited (429)" in line], proc.stdout


def test_host_interval_spaces_the_requests_to_a_host_on_every_process(lab, tmp_path):
    urls = [lab.url(f"ok?i={i}") for i in range(6)] + [lab.url(f"ok?j={i}", 1) for i in range(6)]
    path = write_list(tmp_path / "urls.txt", urls)
    (tmp_path / "pcheck.toml").write_text('[hosts."127.0.0.2"]\nhost_interval = "0"\n')
    proc = run_pcheck("check", str(path), *FAST_KEEPING_RETRIES, "-p", "2", "--host-interval", "200ms", "-t", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    arrivals = collections.defaultdict(list)
    for entry in lab.log:
        arrivals[entry.address].append(entry.at)
    spaced = sorted(arrivals["127.0.0.1"])
    gaps = [b - a for a, b in zip(spaced, spaced[1:])]
    assert len(spaced) == 6 and spaced[-1] - spaced[0] >= 5 * 0.2 * 0.8, gaps
    # Each start 200 ms after the last; one request that arrives late (a loaded machine: up to 150 ms seen for
    # the first, which opens its connection) shortens only the gap after it, so every two gaps together still
    # span most of two intervals (unpaced, six requests arrive within milliseconds).
    assert all(c - a >= 0.25 for a, c in zip(spaced, spaced[2:])), gaps
    unspaced = sorted(arrivals["127.0.0.2"])  # its table says no interval
    assert unspaced[-1] - unspaced[0] < (spaced[-1] - spaced[0]) / 2


@pytest.mark.parametrize("value, message", [("-1s", "negative"), ("2h", "between 0 and 1h"), ("fast", "not a duration")])
def test_a_bad_host_interval_is_a_usage_error(lab, value, message):
    proc = run_pcheck("check", lab.url("ok"), "--host-interval", value, *FAST_KEEPING_RETRIES, "-p", "2")
    assert proc.returncode == 2 and message in proc.stderr


def test_backoff_records_cross_as_typed_values():
    hosts, clock = scheduler(cap=4)
    refuse_a_burst(hosts, clock, n=4, retry_after=1.0)
    assert hosts.backoffs() == [HostBackoff("a", 4, 1.0, 2, 0.1, 0.001, "100% of its URLs refused within 2 s")]


def test_ctrl_c_while_a_url_waits_its_retry_after_ends_at_once_and_reports_every_url(lab, tmp_path):
    """A URL told to come back in 25 s: Ctrl-C does not wait for it, and loses no URL."""
    urls = [lab.url("retry-after/25/k?i=0")]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o",
                             str(report), "--max-per-host", "1", *FAST_KEEPING_RETRIES, "-p", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    assert {(r["outcome"], r["error"]) for r in got} == {("unchecked", "cancelled")}  # it was waiting
    assert sum("retry-after" in e.target for e in lab.log) == 1, "one request, then the wait"


# -- one failing link in a pull request's documents -------------------------------------------------------

#: What a check of two links may take beyond its waits: start-up and two round trips, on a loaded CI machine.
SLACK_S = 4.0


@pytest.mark.parametrize("status", [503, 500])
@pytest.mark.parametrize("recheck_after", [2.0, 0.0])
def test_one_link_failing_every_time_costs_its_retries_and_its_re_check_and_nothing_more(lab, tmp_path, status,
                                                                                      recheck_after):
    """A document with a link answering 503 (or 500) every time and an alive one: a few requests for the failing
    link, seconds of backoff, the late re-check's wait, and no slowed host holding the run."""
    doc = tmp_path / "README.md"
    doc.write_text(f"[bad]({lab.url(f'status/{status}?doc=1', 1)}) and [good]({lab.url('ok?doc=1')})\n")
    started = time.monotonic()
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--no-progress", "--recheck-after", f"{recheck_after:g}s")
    took = time.monotonic() - started
    records = {r["url"].split("/")[3].split("?")[0]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 1 and records["ok"]["outcome"] == "alive", proc.stderr
    bad = records["status"]
    sent = sum(1 for e in lab.log if e.target.startswith(f"/status/{status}?doc=1"))
    assert bad["outcome"] == "broken" and bad["status"] == status
    assert sent <= 5, sent  # HEAD, GET on each retry, one GET on the re-check: not a dozen
    assert bad["attempts"] == sent  # the record counts every request the server saw, retries and re-check too
    assert took < recheck_after + SLACK_S, took


def test_a_start_made_late_by_the_loop_does_not_push_the_hosts_later_starts_back():
    """The interval is the host's rate: a wake-up 2 ms late costs nothing over a host's URLs, where it cost
    2 ms a URL (0.1 s over 150 URLs at 50 ms)."""
    hosts, clock = scheduler(cap=8, interval=0.05)
    for i in range(5):
        hosts.add(i, "a")
    assert hosts.next() == (0, "a")
    for i in (1, 2, 3):
        clock.now = hosts.next_wake() + 0.002  # the loop wakes a little late
        assert hosts.next() == (i, "a")
    assert hosts.next_wake() == pytest.approx(100.0 + 4 * 0.05)  # the grid, not 4 x (50 + 2) ms
    clock.now = hosts.next_wake()
    assert hosts.next() == (4, "a")
    hosts.add(9, "a")
    hosts.add(10, "a")
    clock.now += 1.0  # a real gap (nothing to send): counted from now again
    assert hosts.next() == (9, "a") and hosts.next_wake() == pytest.approx(clock.now + 0.05)


def test_a_host_that_says_its_quota_is_spent_is_paused_until_it_resets_at_its_pace():
    hosts, clock = scheduler(cap=4, max_pause=30.0)
    for i in range(10):
        hosts.add(i, "api")
    first = drain(hosts)
    quota = hosts.answered(first[0][0], "api", Verdict(Outcome.ALIVE, 200, attempts=1, quota_wait_s=5.0))
    assert quota is not None and quota.outcome is Outcome.ALIVE  # the answer stands; the next ones wait
    for task_id, _ in first[1:]:
        answer(hosts, task_id, "api", 200)
    assert hosts.next() is None and hosts.next_wake() == pytest.approx(105.0)
    clock.now = 105.0
    assert len(drain(hosts)) == 4  # its concurrency untouched: a quota counts requests, not their pace
    [api] = hosts.backoffs()
    assert "quota" in api.reason and api.paused_s == pytest.approx(5.0) and api.limit == 4


def test_a_quota_that_resets_beyond_the_cap_is_not_waited_for():
    hosts, clock = scheduler(cap=4, max_pause=30.0)
    hosts.add(1, "api")
    hosts.add(2, "api")
    hosts.next()
    hosts.answered(1, "api", Verdict(Outcome.BLOCKED, 403, attempts=1, quota_wait_s=3600.0))
    assert hosts.next() == (2, "api")  # an hour is not waited for: its answers stand


def test_a_run_waits_for_a_spent_quota_to_reset_and_says_so(lab, tmp_path):
    urls = [lab.url(f"headers?code=200&RateLimit-Remaining=0&RateLimit-Reset=1&i={i}") for i in range(3)]
    # One at a time: else, on a loaded machine, a second request may start before the first's answer says
    # the quota is spent (dispatch is paced; a worker's first request may leave late), which is no fault.
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), *FAST_KEEPING_RETRIES, "-p", "2",
                      "--host-stats", "--max-per-host", "1")
    assert proc.returncode == 0, proc.stderr
    arrivals = sorted(e.at for e in lab.log if e.target.startswith("/headers"))
    assert len(arrivals) == 3
    assert all(b - a >= 0.9 for a, b in zip(arrivals, arrivals[1:])), arrivals  # each waited for the reset
    assert "quota of requests was spent" in proc.stdout, proc.stdout


def test_many_hosts_that_each_refuse_once_keep_a_count_each_not_a_pace(monkeypatch):
    monkeypatch.setattr("pcheck.run.hosts.MAX_PACES", 16)
    hosts, clock = scheduler(cap=8, deferrals=0)
    for i in range(200):
        hosts.add(i, f"h{i}")
    while (task := hosts.next()) is not None:
        clock.now += 0.1  # each refusal leaves the window before long
        assert answer(hosts, task[0], task[1], 503) is not None
    assert len(hosts._paces) <= 16 + WINDOW_S / 0.1 + 1  # the ones still weighed, and no more
    counted = hosts.backoffs()
    assert len(counted) == 200 and sum(b.refusals for b in counted) == 200  # the host table still counts them all
    assert not any(b.reason for b in counted)


def test_a_quota_that_resets_now_pauses_nothing_and_retry_after_zero_still_waits_the_interval():
    hosts, clock = scheduler(cap=4, interval=0.05)
    for i in range(3):
        hosts.add(i, "api")
    hosts.next()
    hosts.answered(0, "api", Verdict(Outcome.ALIVE, 200, attempts=1, quota_wait_s=0.0))
    clock.now += 0.05
    assert hosts.next() == (1, "api")  # "spent, and reset now": no pause
    assert answer(hosts, 1, "api", 429, retry_after=0.0) is None
    assert hosts.next_wake() == pytest.approx(clock.now + 0.05)  # "retry now" waits the interval all the same


def test_an_overload_before_the_host_is_back_at_its_pace_is_judged_against_the_last_one():
    """Every other request refused: at the slowed pace a step or two of quiet came back between overloads, and
    each step wiped the 'slowing did not help' judgement; the host cycled between slow paces for a minute
    (46-58 s for 60 URLs, 3 runs in 6). An overload while still slowed is judged against the last."""
    hosts, clock = scheduler(cap=8, deferrals=0)
    refuse_a_burst(hosts, clock, n=4, retry_after=1.0)
    clock.now += 1.0 + 1.5  # the pause, then one quiet step back: faster, still below its pace
    [stepped] = hosts.backoffs()
    assert stepped.limit == 8 and 0 < stepped.extra_interval_s < 0.1 and stepped.slowed_s > 0
    for i in range(100, 104):  # the same share refused again
        hosts.add(i, "a")
        clock.now = max(clock.now, hosts.next_wake() or clock.now)
        assert hosts.next() == (i, "a")
        clock.now += 0.01
        answer(hosts, i, "a", 429)
    [judged] = hosts.backoffs()
    assert "did not lower" in judged.reason and judged.paused_s == pytest.approx(1.0)  # not paused again


def test_a_refusal_at_the_slowed_pace_is_not_quiet():
    hosts, clock = scheduler(cap=8, deferrals=0)
    refuse_a_burst(hosts, clock, n=4, retry_after=1.0)
    clock.now += 1.0 + 0.8  # the pause, then a refused first try: one refusal, no overload
    [slowed] = hosts.backoffs()
    hosts.add(100, "a")
    assert hosts.next() == (100, "a")
    answer(hosts, 100, "a", 503)
    clock.now += 0.7  # 1.5 s after the pause, 0.7 s after the refusal: no step back yet
    [still] = hosts.backoffs()
    assert (still.limit, still.extra_interval_s) == (slowed.limit, slowed.extra_interval_s)
    clock.now += 0.31  # a whole second without one
    [back] = hosts.backoffs()
    assert back.limit == 2 * slowed.limit


def test_refusals_while_a_spent_quota_is_waited_for_still_slow_the_host():
    """The quota's pause is not an overload: refusals arriving during it are judged on their own."""
    hosts, clock = scheduler(cap=8, max_pause=30.0)
    for i in range(5):
        hosts.add(i, "api")
    started = drain(hosts)
    hosts.answered(started[0][0], "api", Verdict(Outcome.ALIVE, 200, attempts=1, quota_wait_s=5.0))
    for task_id, _ in started[1:]:  # sent before the quota was said spent, refused after
        clock.now += 0.001
        answer(hosts, task_id, "api", 429, 2.0)
    [api] = hosts.backoffs()
    assert api.limit == 4 and "did not lower" not in api.reason  # slowed, not given up at its first overload


def test_a_retry_whose_wait_is_over_still_waits_a_pause_that_came_since():
    """A refused URL's try is due; before it starts, another answer says the host's quota is spent."""
    hosts, clock = scheduler(cap=4, deferrals=2)
    hosts.add(1, "api")
    hosts.add(2, "api")
    drain(hosts)
    assert answer(hosts, 1, "api", 503) is None
    clock.now = hosts.next_wake()
    assert hosts.has_ready()  # its wait is over: it is next
    hosts.answered(2, "api", Verdict(Outcome.ALIVE, 200, attempts=1, quota_wait_s=5.0))
    assert hosts.next() is None  # the pause binds the retry too
    clock.now += 5.0
    assert hosts.next() == (1, "api")
