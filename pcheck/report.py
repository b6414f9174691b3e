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
from typing import Iterator, TextIO
from urllib.parse import quote, urlsplit

from .models import RECORD_FIELDS, CheckResult, ErrorKind, Outcome, Summary

FORMATS = ("text", "jsonl", "json", "csv", "markdown", "junit")
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

    def flush(self) -> None:
        """Called whenever the run is about to wait: every record so far reaches its reader."""
        self.stream.flush()

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
        row = [_cell(v) if isinstance(v, str) else ("" if v is None else v) for v in result.to_record().values()]
        self.writer.writerow(row)


def _cell(text: str) -> str:
    """Printable, and never a spreadsheet formula: a leading = + - @ gets a quote (OWASP's advice)."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class ProblemsReporter(Reporter):
    """Keeps what people read at the end: problem URLs by outcome and source, and per-host counts."""

    def __init__(self, stream: TextIO, host_stats: bool = False) -> None:
        super().__init__(stream)
        self.problems: dict[Outcome, dict[str, list[CheckResult]]] = collections.defaultdict(
            lambda: collections.defaultdict(list))
        self.hosts = HostTable() if host_stats else None
        self.trouble = HostTable()

    def _write(self, result: CheckResult) -> None:
        if self.hosts is not None and result.outcome is not Outcome.INVALID:
            self.hosts.add(result)
        if result.outcome in PROBLEM_ORDER:  # excluded URLs are counted, not listed
            self.problems[result.outcome][result.source or "?"].append(result)
            if result.outcome in (Outcome.BROKEN, Outcome.BLOCKED):
                self.trouble.add(result)

    def grouped(self) -> Iterator[tuple[Outcome, int, list[tuple[str, list[CheckResult]]]]]:
        for outcome in PROBLEM_ORDER:
            by_source = self.problems.get(outcome)
            if by_source:
                count = sum(len(items) for items in by_source.values())
                # Verdicts arrive in completion order; a report reads in document order.
                yield outcome, count, [(source, sorted(items, key=_line_order))
                                       for source, items in sorted(by_source.items())]


def _line_order(result: CheckResult) -> tuple[int, str]:
    return (result.line if result.line is not None else -1, result.url)


PROBLEM_ORDER = (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED)


class HostTable:
    """Per-host counts, for --host-stats and for the hints about throttling and bot walls."""

    def __init__(self) -> None:
        self.rows: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.elapsed: collections.Counter[str] = collections.Counter()

    def add(self, result: CheckResult) -> None:
        row = self.rows[_host(result.url)]
        row["urls"] += 1
        row[result.outcome.value] += 1
        if result.status in (401, 403, 429, 999):
            row[str(result.status)] += 1
        if result.error is ErrorKind.TIMEOUT:
            row["timeout"] += 1
        if result.detail and "challenge" in result.detail:
            row["challenge"] += 1
        self.elapsed[_host(result.url)] += result.elapsed_ms

    def hints(self) -> list[str]:
        """One line per host that throttles, walls off robots, or times out, with what to try."""
        lines = []
        for host, row in sorted(self.rows.items(), key=lambda kv: -kv[1]["urls"]):
            if row["429"]:
                lines.append(f"{host}: {row['429']} URL(s) rate-limited (429): lower --max-per-host, "
                             "or add --accept 429 if throttling is not a failure for you")
            walls = row["403"] + row["401"] + row["999"] + row["challenge"]
            if walls:
                lines.append(f"{host}: {walls} URL(s) refused to robots (401/403/999/challenge): "
                             "check one in a browser; add --accept 403 if they load")
            if row["timeout"] >= 2:
                lines.append(f"{host}: {row['timeout']} timeouts: raise --timeout or lower --max-per-host")
        return lines[:_TOP_HOSTS]

    def table(self) -> list[tuple[str, int, int, int, int, float]]:
        """(host, URLs, alive, broken, blocked, mean ms), busiest first."""
        rows = []
        for host, row in sorted(self.rows.items(), key=lambda kv: (-kv[1]["urls"], kv[0])):
            n = row["urls"]
            rows.append((host, n, row["alive"], row["broken"], row["blocked"], self.elapsed[host] / n if n else 0.0))
        return rows


class TextReporter(ProblemsReporter):
    """For people: counts, then every URL that is not alive, grouped by where it came from."""

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        rate = s.total / s.elapsed_s if s.elapsed_s > 0 else 0.0
        title = "interrupted after" if s.interrupted else "checked in"
        out.write(f"pcheck: {s.total} URL(s) {title} {s.elapsed_s:.2f} s ({rate:.0f}/s)\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"  {outcome.value:<10}{s.counts[outcome]:>8}\n")
        for outcome, count, by_source in self.grouped():
            out.write(f"\n{outcome.value.capitalize()} ({count}):\n")
            for source, items in by_source:
                out.write(f"  {printable(source)}\n")
                for r in items:
                    where = f"{r.line:>6}" if r.line is not None else "     -"
                    out.write(f"  {where}  {printable(r.url)}\n          {_why(r)}\n")
        hints = self.trouble.hints()
        if hints:
            out.write("\nHints:\n")
            out.writelines(f"  {printable(h)}\n" for h in hints)
        if self.hosts is not None:
            out.write("\nHosts:\n  " + f"{'host':<40}{'urls':>8}{'alive':>8}{'broken':>8}{'blocked':>8}{'mean ms':>10}\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                out.write(f"  {printable(host):<40}{n:>8}{alive:>8}{broken:>8}{blocked:>8}{mean:>10.1f}\n")


class MarkdownReporter(ProblemsReporter):
    """A report that reads well as a CI job summary or a pull-request comment."""

    def _finish(self) -> None:
        s = self.summary
        out = self.stream
        state = "interrupted" if s.interrupted else ("failed" if s.failed() else "passed")
        out.write(f"## pcheck: {s.total} URL(s), {state}\n\n| outcome | count |\n|---|---:|\n")
        for outcome in Outcome:
            if s.counts[outcome]:
                out.write(f"| {outcome.value} | {s.counts[outcome]} |\n")
        for outcome, count, by_source in self.grouped():
            out.write(f"\n### {outcome.value.capitalize()} ({count})\n")
            for source, items in by_source:
                out.write(f"\n**{_md_text(source)}**\n\n| line | URL | why |\n|---:|---|---|\n")
                for r in items:
                    line = "" if r.line is None else str(r.line)
                    out.write(f"| {line} | {_md_link(r.url, r.outcome)} | {_md_text(_why(r))} |\n")
        hints = self.trouble.hints()
        if hints:
            out.write("\n### Hints\n\n" + "".join(f"- {_md_text(h)}\n" for h in hints))
        if self.hosts is not None:
            out.write("\n### Hosts\n\n| host | URLs | alive | broken | blocked | mean ms |\n|---|---:|---:|---:|---:|---:|\n")
            for host, n, alive, broken, blocked, mean in self.hosts.table():
                out.write(f"| {_md_text(host)} | {n} | {alive} | {broken} | {blocked} | {mean:.1f} |\n")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", printable(text))


def _md_link(url: str, outcome: Outcome) -> str:
    if outcome is Outcome.INVALID:
        return _md_text(url)  # not a URL a reader should be invited to click
    target = "".join(c if c.isascii() and c.isprintable() and c not in " <>()|" else quote(c, safe="") for c in url)
    return f"[{_md_text(url)}]({target})"


class JunitReporter(Reporter):
    """JUnit XML: one testcase per unique URL, a failure for each that fails, so CI shows them natively."""

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False) -> None:
        super().__init__(stream)
        self.fail_on_blocked = fail_on_blocked
        self.cases: dict[str, list[CheckResult]] = {}

    def _write(self, result: CheckResult) -> None:
        self.cases.setdefault(result.url, []).append(result)

    def _finish(self) -> None:
        from xml.etree import ElementTree as ET

        suite = ET.Element("testsuite", name="pcheck", timestamp="", time=f"{self.summary.elapsed_s:.3f}")
        failures = skipped = 0
        for url, occurrences in self.cases.items():
            first = occurrences[0]
            case = ET.SubElement(suite, "testcase", classname=_xml(first.source or "pcheck"), name=_xml(url),
                                 time=f"{first.elapsed_ms / 1000:.3f}")
            where = "\n".join(f"{_xml(r.source or '?')}:{r.line if r.line is not None else '-'}" for r in occurrences)
            fails = first.outcome in (Outcome.BROKEN, Outcome.INVALID, Outcome.UNCHECKED) or (
                first.outcome is Outcome.BLOCKED and self.fail_on_blocked)
            if fails:
                failures += 1
                failure = ET.SubElement(case, "failure", message=_xml(_why(first)), type=first.outcome.value)
                failure.text = where
            elif first.outcome in (Outcome.EXCLUDED, Outcome.BLOCKED):
                skipped += 1
                ET.SubElement(case, "skipped", message=_xml(f"{first.outcome.value}: {_why(first)}"))
        suite.set("tests", str(len(self.cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        del suite.attrib["timestamp"]
        root = ET.Element("testsuites", name="pcheck", tests=str(len(self.cases)), failures=str(failures),
                          errors="0", skipped=str(skipped), time=f"{self.summary.elapsed_s:.3f}")
        root.append(suite)
        ET.indent(root)
        self.stream.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


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


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _xml(text: str) -> str:
    # XML 1.0 cannot carry most control characters at all, even escaped.
    return printable(text)


def make_reporter(fmt: str, stream: TextIO, host_stats: bool = False, fail_on_blocked: bool = False) -> Reporter:
    if fmt == "text":
        return TextReporter(stream, host_stats)
    if fmt == "markdown":
        return MarkdownReporter(stream, host_stats)
    if fmt == "junit":
        return JunitReporter(stream, fail_on_blocked)
    return {"jsonl": JsonlReporter, "json": JsonReporter, "csv": CsvReporter}[fmt](stream)
