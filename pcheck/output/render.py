"""A jsonl report's records read back as `CheckResult`s, for any writer to render again (`--render-from`).

One run, many renderings: the GitHub Action checks once into a jsonl report,
then writes its job summary (markdown) and its annotations from those records.
Each line must be a record as `CheckResult.to_record` wrote it; anything else
stops the rendering, naming the file and the line (ConfigError: exit 2).
Records are read one at a time: a report of a million lines is never held whole.
"""

from __future__ import annotations

import calendar
import json
import time
from typing import Iterator

from pcheck.errors import ConfigError
from pcheck.models import CheckResult, ErrorKind, Outcome

#: A longer line is no record (as store.resume reads a report).
_MAX_LINE_BYTES = 1 << 20


def read_records(path: str) -> Iterator[CheckResult]:
    """The records of the jsonl report at `path`, in order. The file is opened at once (a missing
    one is said before anything is written); its lines are read as the results are taken."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise ConfigError(f"--render-from {path}: {exc.strerror or exc}") from None
    return _records(stream, path)


def _records(stream, path: str) -> Iterator[CheckResult]:
    with stream:
        for number, raw in enumerate(iter(lambda: stream.readline(_MAX_LINE_BYTES + 1), b""), 1):
            if not raw.strip():
                continue
            try:
                yield from_record(json.loads(raw))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not a pcheck jsonl record ({exc})") from None


def from_record(record: dict) -> CheckResult:
    """The CheckResult a record was written from (the normalised key and host are not in records)."""
    error = record.get("error")
    since = record.get("failing_since")
    return CheckResult(
        url=_text(record["url"]), outcome=Outcome(record["outcome"]), status=record.get("status"),
        error=ErrorKind(error) if error is not None else None, final_url=record.get("final_url"),
        redirects=record.get("redirects") or 0, method=record.get("method"), attempts=record.get("attempts") or 0,
        elapsed_ms=float(record.get("elapsed_ms") or 0.0), detail=record.get("detail"), source=record.get("source"),
        line=record.get("line"), column=record.get("column"), link=record.get("link"),
        failed_runs=record.get("failed_runs"), checked_url=record.get("checked_url"),
        suggestion=record.get("suggestion"),
        failing_since=None if since is None else float(calendar.timegm(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ"))))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("url is not a string")
    return value
