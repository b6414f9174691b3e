"""Deadlines for requests in flight: one watchdog thread per process cuts off what runs too long.

A timeout on each socket read cannot bound a server that drips one header
byte a second; a total deadline per attempt can. Each checker thread arms
its slot before a request, and the watchdog shuts the socket down once the
deadline passes, which wakes the blocked read.
"""

from __future__ import annotations

import socket
import threading
import time

from urllib3.connection import HTTPConnection

#: How often the watchdog looks at the deadlines; the deadline holds to within this.
WATCHDOG_TICK_S = 0.05

class DeadlineExceeded(Exception):
    """The attempt's total deadline passed while a request was in progress."""


class DeadlineSlot:
    """The request one thread is running now, and when it must be cut off."""

    __slots__ = ("lock", "conn", "deadline", "fired")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: HTTPConnection | None = None
        self.deadline = float("inf")
        self.fired = False

    def arm(self, deadline: float, conn: HTTPConnection | None = None) -> None:
        with self.lock:
            self.deadline, self.fired, self.conn = deadline, False, conn

    def attach(self, conn: HTTPConnection) -> None:
        with self.lock:
            self.conn = conn
            if self.fired:  # expired before the connection was known
                _shutdown(conn)

    def detach(self, conn: HTTPConnection) -> None:
        """`conn` goes back to the pool, where it may carry another thread's request: stop watching it.

        urllib3 gives a connection back as soon as the last body byte is read,
        before the request's slot is disarmed; a deadline passing in between
        must not cut the next request on it.
        """
        with self.lock:
            if self.conn is conn:
                self.conn = None
                if self.fired:  # already shut down: never pooled half-dead
                    conn.close()

    def disarm(self) -> bool:
        """Stop watching; True if the deadline fired meanwhile."""
        with self.lock:
            self.deadline, self.conn = float("inf"), None
            return self.fired

    def expire_if_due(self, now: float) -> None:
        with self.lock:
            if not self.fired and now >= self.deadline:
                self.fired = True
                if self.conn is not None:
                    _shutdown(self.conn)


def _shutdown(conn: HTTPConnection) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in header parsing
        except OSError:
            pass


class Watchdog:
    """One daemon thread per process that cuts off requests past their deadline."""

    def __init__(self) -> None:
        self._slots: list[DeadlineSlot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pcheck-watchdog", daemon=True)
        self._thread.start()

    def new_slot(self) -> DeadlineSlot:
        slot = DeadlineSlot()
        with self._lock:
            self._slots.append(slot)
        return slot

    def _run(self) -> None:
        while not self._stop.wait(WATCHDOG_TICK_S):
            now = time.monotonic()
            with self._lock:
                slots = list(self._slots)
            for slot in slots:
                slot.expire_if_due(now)

    def stop(self) -> None:
        self._stop.set()
