"""The host scheduler both distributors (the process pool and Ray) share: hosts in turn, never past their cap.

Pacing, backoff and what the reports say of hosts are in test_hosts.py.
"""

from __future__ import annotations

from pcheck.config import Config
from pcheck.models import Order, Outcome
from pcheck.run.hosts import HostScheduler
from pcheck.run.ray import check_shard
from pcheck.urls import normalise


def drain(hosts: HostScheduler) -> list[tuple[int, str]]:
    started = []
    while (item := hosts.next()) is not None:
        started.append(item)
    return started


def test_the_host_scheduler_takes_hosts_in_turn_and_never_past_their_cap():
    hosts = HostScheduler(lambda host: {"a": 2, "b": 1}[host])
    for i in range(4):
        hosts.add(i, "a")
    hosts.add(10, "b")
    hosts.add(11, "b")
    assert drain(hosts) == [(0, "a"), (10, "b"), (1, "a")]  # a at 2, b at 1: nothing more may start
    assert hosts.waiting == 3 and not hosts.has_ready()
    hosts.finished("b")
    assert drain(hosts) == [(11, "b")]
    hosts.finished("a")
    hosts.finished("a")
    assert drain(hosts) == [(2, "a"), (3, "a")]
    assert hosts.waiting == 0


def test_a_task_started_outside_the_queues_counts_against_its_hosts_cap():
    hosts = HostScheduler(lambda host: 1)
    hosts.start("a")  # a dead worker's task, sent again
    hosts.add(1, "a")
    assert hosts.next() is None and not hosts.has_room("a")
    hosts.finished("a")
    assert hosts.next() == (1, "a")


def test_a_ray_shard_holds_the_per_host_cap_with_the_shared_scheduler(lab):
    """check_shard runs in-process here (no Ray needed): 8 threads, 40 slow URLs on 2 hosts, cap 2."""
    tasks = []
    for i in range(40):
        url = lab.url(f"delay/50?i={i}", i % 2)
        key, host = normalise(url)
        tasks.append(Order(i, key, host))
    done = check_shard(Config(processes=1, threads=8, max_per_host=2, timeout=5.0, retries=0), tasks)
    assert sorted(task_id for task_id, _ in done) == list(range(40))
    assert all(verdict.outcome is Outcome.ALIVE for _, verdict in done)
    for address in ("127.0.0.1", "127.0.0.2"):
        assert lab.snapshot()[address].max_in_flight == 2  # used to the full, never past it


def test_an_answer_after_the_scheduler_was_cleared_gives_no_host_extra_room():
    """A cancelled run clears the scheduler, then answers still in flight arrive: no host may go below zero."""
    hosts = HostScheduler(lambda host: 1)
    hosts.add(1, "a")
    assert hosts.next() == (1, "a")
    hosts.clear()
    hosts.finished("a")  # the answer of task 1, after the clear
    hosts.add(2, "a")
    hosts.add(3, "a")
    assert drain(hosts) == [(2, "a")]  # still one at a time
