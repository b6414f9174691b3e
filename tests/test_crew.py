"""A worker's threads grow while its checks wait on the network, and stay few while they wait on the GIL.

128 threads checked a list of slow HTTPS hosts 30 % faster than 64, and a
CPU-bound list 15 % slower (issue 18): the crew starts with THREADS_AT_START
and doubles only while the threads leave the GIL mostly idle.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

from support import faults as fh
from pcheck.run import crew as crew_module
from pcheck.run.crew import THREADS_AT_START, Crew, timed

pytestmark = pytest.mark.timeout(60)

MAX_THREADS = 128


def run_crew(check, tasks_count: int) -> int:  # type: ignore[no-untyped-def]
    """Run `tasks_count` checks through a crew of at most MAX_THREADS; the threads it had at the end."""
    tasks: queue.SimpleQueue = queue.SimpleQueue()
    done = threading.Semaphore(0)

    def loop(fn, tasks, tally):  # type: ignore[no-untyped-def]
        while tasks.get() is not None:
            timed(fn, tally)
            done.release()

    for _ in range(tasks_count):
        tasks.put(1)
    crew = Crew([check] * MAX_THREADS, tasks, loop)
    for _ in range(tasks_count):
        assert done.acquire(timeout=30), "a check never finished"
    # The crew has looked at every check that ended (it judges only after MIN_CHECKS): stopping it before
    # its first look would prove nothing.
    fh.wait_until(lambda: crew.looked_at >= min(tasks_count, crew_module.MIN_CHECKS), 5.0, "the crew's look")
    size = crew.stop()
    for _ in range(size):
        tasks.put(None)
    for thread in crew.threads:
        thread.join(10)
    assert not any(t.is_alive() for t in crew.threads)
    return size


def test_checks_that_wait_on_the_network_get_more_threads_up_to_the_limit():
    assert run_crew(lambda: time.sleep(0.05), 2000) == MAX_THREADS  # a slow server: the GIL stays idle


def test_checks_that_keep_the_gil_busy_keep_the_first_threads(monkeypatch):
    def busy() -> None:  # pure Python, holding the GIL: what a local site answering at once costs
        end = time.thread_time() + 0.002
        while time.thread_time() < end:
            pass

    # The suite's other tests share the cores: this process may get half of one, which reads as a GIL
    # half idle. A quarter of a core is still far from a process whose threads wait on the network.
    monkeypatch.setattr(crew_module, "MAX_BUSY", 0.25)
    assert run_crew(busy, 600) == THREADS_AT_START


def test_no_thread_is_added_while_every_check_has_one():
    assert run_crew(lambda: time.sleep(0.05), THREADS_AT_START // 2) == THREADS_AT_START
