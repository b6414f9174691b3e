"""The signals that end a run early (Ctrl-C, SIGTERM and SIGHUP, all treated as Ctrl-C), and the reads they cut short.

CI cancelling a job, `timeout`, `docker stop` and a closed terminal send
SIGTERM or SIGHUP, whose default action kills the parent at once: no report,
orphaned workers. Here each of them asks the run to stop as Ctrl-C does; the
first one received decides the exit status (128 + its number, as a shell
reports a process killed by it).

Signals are process-wide, so what was received is too: one `Interrupts`
record, written by whichever handler is installed at the time.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Generic, Iterable, Iterator, Protocol, TypeVar, cast

#: The signals that interrupt a run; SIGHUP is missing on Windows.
ENDING_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)

Handler = Callable[[int, object], None]
T = TypeVar("T")
R = TypeVar("R")


class Interrupts:
    """The ending signals received so far, in order."""

    def __init__(self) -> None:
        self.received: list[int] = []

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def exit_status(self) -> int:
        """128 + the first signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + (self.first or signal.SIGINT)


#: The one record for this process.
received = Interrupts()


@contextmanager
def handling(handler: Handler) -> Iterator[None]:
    """Route every ending signal to `handler` (after recording it), restoring the old handlers after.

    Outside the main thread signals cannot be handled; the caller's own handlers stay.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def record_then_handle(signum: int, frame: object) -> None:
        received.received.append(signum)
        handler(signum, frame)

    previous = {}
    for signum in ENDING_SIGNALS:
        previous[signum] = signal.signal(signum, record_then_handle)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class Repeats:
    """Tells a new stop request from the same one delivered again: a signal within REPEAT_S of the last one
    that counted does not count (`timeout` and supervisors signal the process and its group, 1-50 ms apart)."""

    def __init__(self) -> None:
        self.counted_at = -float("inf")

    def counts(self) -> bool:
        now = time.monotonic()
        if now - self.counted_at < REPEAT_S:
            return False
        self.counted_at = now
        return True


class Interrupted(KeyboardInterrupt):
    """An ending signal, raised as Ctrl-C's KeyboardInterrupt is (and caught as one).

    A subclass on purpose: once a plain KeyboardInterrupt has passed through
    code run by exec() of a string (dataclasses and namedtuple make their
    methods so, at import time), CPython kills the process with SIGINT at exit
    whatever exit status was asked for, and SIGTERM would be reported as 130.
    """


def wrapped_interrupt(exc: BaseException) -> bool:
    """True when an ending signal is behind `exc`: Python wraps what a class body's `__set_name__` raises (a
    dataclass's fields) in a RuntimeError, so a signal landing there surfaces as one."""
    seen = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def raise_interrupt(signum: int, frame: object) -> None:
    """The handler outside a run: unwind like Ctrl-C, whichever signal it was."""
    raise Interrupted


#: Longest the loop sleeps without looking at Ctrl-C and input.
TICK_S = 0.1
#: After Ctrl-C, how long results already on their way are still collected.
INTERRUPT_GRACE_S = 0.5
#: An ending signal this soon after the one before is the same request delivered twice (1-50 ms apart
#: when `timeout` or a supervisor signals both the process and its group); a person's second Ctrl-C,
#: after seeing the first one's effect, comes later.
REPEAT_S = 0.5
#: After an interrupt, a read of the input that brings nothing for this long is given up:
#: a pipe or a terminal may never send its next line, and the first Ctrl-C must still work.
READ_STALL_S = 0.5
#: After an interrupt, the rest of the input is read (each URL reported `cancelled`) for at most
#: this long; an endless stream would otherwise keep the run from ending.
CANCEL_READ_S = 10.0


class InputAbandoned(Exception):
    """Raised by the alarm into a read of the input that hangs after an interrupt."""


class GuardedInput(Generic[T]):
    """A run's input, marked while it is being read, so an interrupt can give up a read that hangs.

    A blocked read in the main thread can only be ended by an exception from a
    signal handler; this is the one place that catches it. After that the
    input is over, and `cut` says why.
    """

    def __init__(self, items: Iterable[T]) -> None:
        self._inner = iter(items)
        self.reading = False
        self.read = 0
        self.cut: str | None = None

    def __iter__(self) -> GuardedInput[T]:
        return self

    def __next__(self) -> T:
        if self.cut is not None:
            raise StopIteration
        item: object = _NOTHING
        self.reading = True
        try:
            item = next(self._inner)
        except InputAbandoned as exc:
            # An item whose read ended just as the alarm fired may be lost with it; the input
            # was stalled and interrupted, and `cut` tells the user it was not read to its end.
            self.cut = str(exc)
            if item is _NOTHING:
                raise StopIteration from None
        finally:
            self.reading = False
        self.read += 1
        return cast(T, item)


_NOTHING = object()


class Interruptible(Protocol):
    """A run as its signals see it (pool.CheckRun, ray.RayRun): what it was sent, and why its input was cut."""

    #: Why the input was not read to its end after an interrupt (None: it was, or no interrupt).
    input_cut: str | None

    @property
    def interrupts(self) -> int:
        """Ending signals received while the run was active; `cancel()` counts as the first."""
        ...

    def interrupt(self) -> int:
        """One more ending signal: the first asks the run to cancel, a second to stop at once. How many so far."""
        ...


def interruptible(run: Interruptible, items: Iterable[T],
                  loop: Callable[[GuardedInput[T]], Iterator[R]]) -> Iterator[R]:
    """A run's loop over its input, under RunInterrupts; afterwards `run.input_cut` says why the input was cut."""
    source = GuardedInput(items)
    with RunInterrupts(run, source):
        try:
            yield from loop(source)
        finally:
            run.input_cut = source.cut


class RunInterrupts:
    """While a run is active, the first ending signal asks it to cancel (results on their way are kept for
    INTERRUPT_GRACE_S); a second one, deliberate, stops it without that wait; a third raises at once.

    A signal within REPEAT_S of the last one counted is that one delivered again (`timeout` signals the
    process and its group, and so do supervisors): it counts once. After the first and the second, every
    occurrence still gets a record (`cancelled`); only a third, for a run that did not end, unwinds.

    `run.interrupts` counts them (the runs read it at every turn, and close()
    waits for nobody after a second). Cancelling reads the rest of the input
    to report it `cancelled`, but gives up a read that brought no new line for
    READ_STALL_S, or one still going CANCEL_READ_S after the signal.

    A signal that lands while the main thread is in C code just before a
    blocking read, or that the kernel hands to another thread, leaves the
    read blocked and the Python handler unrun (CPython runs handlers only in
    the main thread, between bytecodes or on EINTR). So a watch thread sends
    the main thread SIGALRM whenever a read has brought nothing for
    READ_STALL_S: the read returns EINTR, every pending handler runs, and the
    alarm's own handler gives the read up if the run was interrupted.
    """

    def __init__(self, run: Interruptible, guard: GuardedInput[Any]) -> None:
        self.run = run
        self.guard = guard
        self.handlers = handling(self._handle)
        self.previous_alarm: Callable[[int, FrameType | None], Any] | int | signal.Handlers | None = None
        self.read_until = float("inf")
        self.repeats = Repeats()
        self.stop = threading.Event()
        self.watch: threading.Thread | None = None

    def __enter__(self) -> RunInterrupts:
        self.handlers.__enter__()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill"):
            self.previous_alarm = signal.signal(signal.SIGALRM, self._alarm)
            self.watch = threading.Thread(target=self._watch_reads, args=(threading.get_ident(),),
                                          name="pcheck-read-watch", daemon=True)
            self.watch.start()
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if not self.repeats.counts():
            return  # the same stop request delivered twice
        if self.run.interrupt() >= 3:
            raise Interrupted  # the run did not end after two: unwind from wherever it is stuck
        self.read_until = min(self.read_until, time.monotonic() + CANCEL_READ_S)

    def _watch_reads(self, main_thread: int) -> None:
        last = -1
        while not self.stop.wait(READ_STALL_S):
            guard = self.guard
            stalled = guard.reading and guard.read == last
            overdue = guard.reading and time.monotonic() > self.read_until
            last = guard.read
            if stalled or overdue:
                try:
                    signal.pthread_kill(main_thread, signal.SIGALRM)
                except OSError:  # the main thread is gone: the process is ending
                    return

    def _alarm(self, signum: int, frame: object) -> None:
        """A read has stalled (or outlasted CANCEL_READ_S): after an interrupt, give it up."""
        if not self.run.interrupts or not self.guard.reading:
            return  # the read goes on (PEP 475 retries it); any pending handler has just run
        if time.monotonic() > self.read_until:
            raise InputAbandoned(f"the rest was still being read {CANCEL_READ_S:g} s after the interrupt")
        raise InputAbandoned(f"no new line arrived for {READ_STALL_S:g} s")

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.watch is not None:
            self.watch.join(READ_STALL_S * 4)
            self.watch = None
        if self.previous_alarm is not None:
            signal.signal(signal.SIGALRM, self.previous_alarm)
            self.previous_alarm = None
        self.handlers.__exit__(*exc)
