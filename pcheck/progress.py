"""The progress bar: parent only, on stderr, and off when stderr is not a terminal."""

from __future__ import annotations

import sys

from .models import CheckResult, Outcome


class Progress:
    def __init__(self, total: int | None, enabled: bool = True) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # no monitor thread: the parent spawns workers after this
            self.bar = tqdm.tqdm(total=total, unit="url", file=sys.stderr, dynamic_ncols=True, mininterval=0.2)
        self.broken = 0

    def update(self, result: CheckResult) -> None:
        if self.bar is not None:
            if result.outcome is Outcome.BROKEN:
                self.broken += 1
                self.bar.set_postfix(broken=self.broken, refresh=False)
            self.bar.update(1)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
