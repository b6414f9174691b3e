"""Report writers, one per --format; each streams records and ends with the summary.

What a report shows only at its end (text and Markdown: problems in document
order; JUnit: every unique URL with all its places; per-host counts) waits in
a spool on disk (output.spool), not in memory, so a report of a million
lines stays small.
"""

from __future__ import annotations

from typing import TextIO

from pcheck.config import FORMATS  # noqa: F401 - the formats make_reporter writes, named where they are made
from pcheck.models import Summary
from pcheck.output.htmlreport import HtmlReporter
from pcheck.output.junit import JunitReporter
from pcheck.output.problems import MarkdownReporter, TextReporter
from pcheck.output.records import CsvReporter, JsonlReporter, JsonReporter
from pcheck.output.reporter import Reporter
from pcheck.output.review import GithubReporter, SarifReporter


def make_reporter(fmt: str, stream: TextIO, host_stats: bool = False, fail_on_blocked: bool = False, *,
                  verbosity: int = 0, color: bool = False, timeout_s: float | None = None,
                  summary: Summary | None = None) -> Reporter:
    """The writer for `fmt`; verbosity (-q -1, -v 1), colour and the timeout (for its words) serve the formats people read.

    `summary`: the run's tally, which the writer counts its records in (None: a fresh one of its own)."""
    for_people = {"verbosity": verbosity, "fail_on_blocked": fail_on_blocked, "timeout_s": timeout_s}
    if fmt == "text":
        return TextReporter(stream, host_stats, color=color, summary=summary, **for_people)
    if fmt == "markdown":
        return MarkdownReporter(stream, host_stats, summary=summary, **for_people)
    if fmt == "junit":
        return JunitReporter(stream, fail_on_blocked, summary)
    if fmt == "html":
        return HtmlReporter(stream, summary, fail_on_blocked=fail_on_blocked, timeout_s=timeout_s)
    if fmt in ("github", "sarif"):
        return (GithubReporter if fmt == "github" else SarifReporter)(stream, fail_on_blocked, summary, timeout_s)
    return {"jsonl": JsonlReporter, "json": JsonReporter, "csv": CsvReporter}[fmt](stream, summary)
