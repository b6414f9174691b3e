"""Progress on stderr, parent only: a tqdm bar on a terminal, plain status lines in CI logs."""

from __future__ import annotations

import collections
import sys
import threading
import time
from typing import TextIO

from pcheck.models import CheckResult, Outcome

#: How often a status line is printed when stderr is not a terminal (CI logs).
STATUS_INTERVAL_S = 10.0


#: The progress display on screen now, if any: log lines are written above it.
_shown: Progress | None = None


def echo(line: str) -> None:
    """A line on stderr that does not tear the progress bar."""
    shown = _shown
    if shown is not None:
        shown.write(line)
    else:
        print(line, file=sys.stderr, flush=True)


class Progress:
    """Counts results; draws a bar on a terminal, or a status line every few seconds elsewhere."""

    def __init__(self, total: int | None, enabled: bool = True, stream: TextIO | None = None,
                 interval: float = STATUS_INTERVAL_S) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.counts: collections.Counter[Outcome] = collections.Counter()
        self.done = 0
        self.waiting = 0  # failures waiting for their late re-check
        self.started = time.monotonic()
        self.bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not enabled:
            return
        global _shown
        _shown = self
        if self.stream.isatty():
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # no monitor thread
            self.bar = tqdm.tqdm(total=total, unit="url", file=self.stream, dynamic_ncols=True, mininterval=0.2)
        else:
            self._thread = threading.Thread(target=self._status_loop, args=(interval,), name="pcheck-status", daemon=True)
            self._thread.start()

    def update(self, result: CheckResult) -> None:
        self.done += 1
        self.counts[result.outcome] += 1
        if self.bar is not None:
            if result.outcome is Outcome.BROKEN:
                self.bar.set_postfix(broken=self.counts[Outcome.BROKEN], refresh=False)
            self.bar.update(1)

    def rechecks(self, waiting: int) -> None:
        """Say how many failures wait for their late re-check (the run may look idle meanwhile)."""
        if waiting == self.waiting:
            return
        self.waiting = waiting
        if self.bar is not None:
            self.bar.set_postfix(broken=self.counts[Outcome.BROKEN], recheck=waiting, refresh=True)

    def status_line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        total = f"/{self.total}" if self.total is not None else ""
        c = self.counts
        waiting = f", {self.waiting} waiting for a late re-check" if self.waiting else ""
        return (f"pcheck: {self.done}{total} checked, {rate:.0f}/s, alive {c[Outcome.ALIVE]}, "
                f"broken {c[Outcome.BROKEN]}, blocked {c[Outcome.BLOCKED]}{waiting}")

    def _status_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.write(self.status_line())

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        global _shown
        if _shown is self:
            _shown = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self.bar is not None:
            self.bar.close()
