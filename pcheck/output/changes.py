"""`pcheck watch`'s records, a `Change` of outcome and a `RoundSummary`, and their lines (the summary's for stderr).

`run/watch.py` makes the records; they live here, below the run, so that output and run may both import them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from pcheck.models import CheckResult, Outcome, redact_userinfo
from pcheck.output.reasons import as_written
from pcheck.output.reporter import printable

WATCH_FORMATS = ("text", "jsonl")


@dataclass(frozen=True)
class Change:
    """An occurrence whose outcome differs from the previous round (previous None: first seen)."""

    round: int
    at: float  # time.time()
    result: CheckResult
    previous: Outcome | None


@dataclass(frozen=True)
class RoundSummary:
    round: int
    counts: dict[Outcome, int]
    changes: int
    elapsed_s: float
    interrupted: bool
    #: The round ended with a link failing, as `check` would judge it (a bounded watch's exit code).
    failed: bool = False


def change_line(event: Change, fmt: str) -> str:
    """`<time> <url> <before> -> <after> (<why>)`, or a jsonl record with `previous`, `round` and `at`."""
    r = event.result
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.at))
    if fmt == "jsonl":
        record = {**r.to_record(), "previous": event.previous and event.previous.value,
                  "round": event.round, "at": when}
        return json.dumps(record)
    before = event.previous.value if event.previous else "new"
    why = " ".join(str(x) for x in (r.status, r.error and r.error.value, r.detail) if x) or r.outcome.value
    return f"{when} {printable(redact_userinfo(as_written(r)))} {before} -> {r.outcome.value} ({printable(why)})"


def round_line(summary: RoundSummary) -> str:
    counts = ", ".join(f"{o.value} {n}" for o, n in summary.counts.items() if n)
    return f"pcheck: round {summary.round}: {counts}; {summary.changes} change(s) in {summary.elapsed_s:.1f} s"
