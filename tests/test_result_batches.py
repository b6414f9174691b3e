"""How a worker's verdicts travel up its pipe (run/worker._send_loop): batched while they pour in, at once while
they trickle (a crawl waits for each page's links), and none lost."""

from __future__ import annotations

import pickle
import queue
import threading

from pcheck.models import Answered, Outcome, Verdict
from pcheck.run import worker


class Pipe:
    """A result pipe's write end: each message kept; `hold` makes the next send wait until it is cleared."""

    def __init__(self) -> None:
        self.messages: list[list[int]] = []
        self.sent = threading.Semaphore(0)
        self.hold = threading.Event()
        self.hold.set()
        self.sending = threading.Event()  # a send has begun (and waits, while `hold` is clear)

    def send_bytes(self, payload: bytes) -> None:
        self.sending.set()
        self.hold.wait(10)
        self.messages.append([answered.task_id for answered in pickle.loads(payload)])
        self.sent.release()


def _answered(i: int) -> Answered:
    return Answered(i, Verdict(Outcome.ALIVE, 200))


def test_a_trickle_goes_up_at_once_and_a_flood_waits_for_its_window(monkeypatch):
    results: queue.SimpleQueue = queue.SimpleQueue()
    pipe = Pipe()
    sender = threading.Thread(target=worker._send_loop, args=(results, pipe), daemon=True)
    monkeypatch.setattr(worker, "BATCH_WINDOW_S", 0.05)
    sender.start()
    results.put(_answered(0))  # the first: it waits its (short) window, and goes alone
    assert pipe.sent.acquire(timeout=10) and pipe.messages == [[0]]
    monkeypatch.setattr(worker, "BATCH_WINDOW_S", 60.0)  # a window no test waits out: only batching ends one
    results.put(_answered(1))  # a trickle: sent at once, not after the window
    assert pipe.sent.acquire(timeout=10) and pipe.messages[-1] == [1]
    pipe.hold.clear()  # the next message waits in send_bytes, and a flood piles up behind it
    pipe.sending.clear()
    results.put(_answered(2))
    assert pipe.sending.wait(10)
    for i in range(100, 100 + worker.MAX_BATCH):
        results.put(_answered(i))
    pipe.hold.set()
    assert pipe.sent.acquire(timeout=10) and pipe.sent.acquire(timeout=10)
    assert pipe.messages[-2:] == [[2], list(range(100, 100 + worker.MAX_BATCH))]  # the flood: one message
    results.put(_answered(1000))  # pouring in now: this one waits for company instead of going alone
    for i in range(1001, 1000 + worker.MAX_BATCH):
        results.put(_answered(i))
    assert pipe.sent.acquire(timeout=10) and pipe.messages[-1] == list(range(1000, 1000 + worker.MAX_BATCH))
    results.put(None)
    sender.join(10)
    assert not sender.is_alive() and sum(map(len, pipe.messages)) == 3 + 2 * worker.MAX_BATCH  # none lost
