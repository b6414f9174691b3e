"""Report writers, one per --format; each streams records and ends with the summary.

Every string a URL list controls is escaped before it is written where a
terminal or a line-based parser could see it: a hostile list cannot inject
escape sequences or split a record.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from typing import TextIO
from urllib.parse import urlsplit

from .models import RECORD_FIELDS, CheckResult, Outcome, Summary

FORMATS = ("text", "jsonl", "json", "csv")
# C0, DEL, C1, and the bidi controls that reorder what a terminal shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_TOP_HOSTS = 10


def printable(text: str) -> str:
    """`text` with every control character written as a visible escape (\\x1b, \\u202e)."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Reporter:
    """Base: counts outcomes; subclasses write records as they come."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.summary = Summary()

    def write(self, result: CheckResult) -> None:
        self.summary.add(result)
        self._write(result)

    def _write(self, result: CheckResult) -> None:
        raise NotImplementedError

    def finish(self, elapsed_s: float, interrupted: bool) -> Summary:
        self.summary.elapsed_s = elapsed_s
        self.summary.interrupted = interrupted
        self._finish()
        self.stream.flush()
        return self.summary

    def _finish(self) -> None:
        pass


class JsonlReporter(Reporter):
    def _write(self, result: CheckResult) -> None:
        self.stream.write(json.dumps(result.to_record()) + "\n")
        self.stream.flush()


class JsonReporter(Reporter):
    """One document, {"results": [...], "summary": {...}}, still written as results arrive."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.stream.write('{"results": [')
        self.first = True

    def _write(self, result: CheckResult) -> None:
        self.stream.write(("\n  " if self.first else ",\n  ") + json.dumps(result.to_record()))
        self.first = False

    def _finish(self) -> None:
        self.stream.write("\n], \"summary\": " + json.dumps(self.summary.to_record()) + "}\n")


class CsvReporter(Reporter):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(RECORD_FIELDS)

    def _write(self, result: CheckResult) -> None:
        row = [printable(v) if isinstance(v, str) else ("" if v is None else v) for v in result.to_record().values()]
        self.writer.writerow(row)
        self.stream.flush()


class TextReporter(Reporter):
    """For people: counts, then every URL that is not alive, with where it came from."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.problems: dict[Outcome, list[CheckResult]] = collections.defaultdict(list)
        self.hosts: collections.Counter[str] = collections.Counter()

    def _write(self, result: CheckResult) -> None:
        if result.outcome is not Outcome.ALIVE:
            self.problems[result.outcome].append(result)
            if result.outcome in (Outcome.BROKEN, Outcome.BLOCKED):
                self.hosts[_host(result.url)] += 1

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        rate = s.total / s.elapsed_s if s.elapsed_s > 0 else 0.0
        title = "interrupted after" if s.interrupted else "checked"
        out.write(f"pcheck: {s.total} URL(s) {title} {s.elapsed_s:.2f} s ({rate:.0f}/s)\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"  {outcome.value:<10}{s.counts[outcome]:>8}\n")
        for outcome in (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED, Outcome.EXCLUDED):
            items = self.problems.get(outcome)
            if not items:
                continue
            out.write(f"\n{outcome.value.capitalize()} ({len(items)}):\n")
            for r in items:
                out.write(f"  {printable(r.url)}\n      {_why(r)}  [{_where(r)}]\n")
        if self.hosts:
            out.write("\nHosts with the most broken or blocked URLs:\n")
            for host, n in self.hosts.most_common(_TOP_HOSTS):
                out.write(f"  {n:>6}  {printable(host)}\n")


def _why(r: CheckResult) -> str:
    parts = []
    if r.status is not None:
        parts.append(str(r.status))
    if r.error is not None:
        parts.append(r.error.value)
    if r.redirects:
        parts.append(f"after {r.redirects} redirect(s)")
    if r.detail:
        parts.append(f"({printable(r.detail)})")
    return " ".join(parts) or r.outcome.value


def _where(r: CheckResult) -> str:
    source = printable(r.source or "?")
    return f"{source}:{r.line}" if r.line is not None else source


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


_REPORTERS = {"text": TextReporter, "jsonl": JsonlReporter, "json": JsonReporter, "csv": CsvReporter}


def make_reporter(fmt: str, stream: TextIO) -> Reporter:
    return _REPORTERS[fmt](stream)
