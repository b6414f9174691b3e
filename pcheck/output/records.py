"""The machine formats: jsonl (streamed), json, csv; one record per input occurrence."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from pcheck.models import RECORD_FIELDS, CheckResult, Summary
from pcheck.output.reporter import Reporter, printable


class JsonlReporter(Reporter):
    def _write(self, result: CheckResult) -> None:
        self.stream.write(json.dumps(result.to_record()) + "\n")


class JsonReporter(Reporter):
    """One document, {"results": [...], "summary": {...}}, still written as results arrive."""

    def __init__(self, stream: TextIO, summary: Summary | None = None) -> None:
        super().__init__(stream, summary)
        self.stream.write('{"results": [')
        self.first = True

    def _write(self, result: CheckResult) -> None:
        self.stream.write(("\n  " if self.first else ",\n  ") + json.dumps(result.to_record()))
        self.first = False

    def _finish(self) -> None:
        self.stream.write("\n], \"summary\": " + json.dumps(self.summary.to_record()) + "}\n")


class CsvReporter(Reporter):
    def __init__(self, stream: TextIO, summary: Summary | None = None) -> None:
        super().__init__(stream, summary)
        self.writer = csv.writer(stream, lineterminator="\n")
        #: For a row whose first cell starts with `::`: quoted, no line of the report can be read as a
        #: GitHub Actions workflow command (an input line `::error::x` is an invalid URL's record).
        self.quoting = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.writer.writerow(RECORD_FIELDS)

    def _write(self, result: CheckResult) -> None:
        row = [_cell(v) if isinstance(v, str) else ("" if v is None else v) for v in result.to_record().values()]
        (self.quoting if str(row[0]).lstrip(" \t").startswith("::") else self.writer).writerow(row)


def _cell(text: str) -> str:
    """Printable, and never a spreadsheet formula: a leading = + - @ gets a quote (OWASP's advice)."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
