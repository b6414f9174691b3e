"""--resume: carry on with a jsonl report that a killed or interrupted run left behind.

The report is append-only, one record per line, flushed per record, so a
SIGKILL can only ever leave a torn last line; it is cut off before appending.
An occurrence (source, line, url) with a final record is skipped; `unchecked`
ones (cancelled, worker crashed) are checked again and get a new record.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
from typing import Iterable, Iterator

from .models import CheckResult, Outcome, Target


class ResumeError(ValueError):
    """The report cannot be resumed from (not jsonl records)."""


def _occurrence(url: str, source: str | None, line: int | None) -> bytes:
    text = json.dumps([url, source, line])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class ResumeState:
    """The occurrences that already have a final record in the report."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.finished: set[bytes] = set()
        #: Outcomes of the final records already in the report, so the exit code covers the whole audit.
        self.counts: collections.Counter[Outcome] = collections.Counter()
        self.repaired_bytes = 0
        if os.path.exists(path):
            self._load()

    def _load(self) -> None:
        with open(self.path, "r+b") as f:
            data_end = f.seek(0, os.SEEK_END)
            # Cut a torn last line: everything after the last newline was never a whole record.
            keep = data_end
            while keep > 0:
                f.seek(max(0, keep - 65536))
                chunk = f.read(keep - max(0, keep - 65536))
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    keep = max(0, keep - len(chunk)) + cut + 1
                    break
                keep = max(0, keep - len(chunk))
            if keep != data_end:
                f.truncate(keep)
                self.repaired_bytes = data_end - keep
            f.seek(0)
            for number, raw in enumerate(f, start=1):
                try:
                    record = json.loads(raw)
                    outcome = Outcome(record["outcome"])
                    key = _occurrence(record["url"], record["source"], record["line"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ResumeError(f"{self.path}:{number}: not a pcheck jsonl record ({exc})") from None
                if outcome is not Outcome.UNCHECKED and key not in self.finished:
                    self.finished.add(key)
                    self.counts[outcome] += 1

    def skip_finished(self, items: Iterable[Target | CheckResult]) -> Iterator[Target | CheckResult]:
        """The items that still need a record; the rest already have one in the report."""
        if not self.finished:
            yield from items
            return
        for item in items:
            if _occurrence(item.url, item.source, item.line) not in self.finished:
                yield item
