"""Reports stay one record per line and never pass control characters to a terminal."""

from __future__ import annotations

import csv
import io
import json

from pcheck.inputs.sources import invalid_result
from pcheck.models import CheckResult, Outcome, Verdict
from pcheck.output.reporter import printable
from pcheck.output.reports import make_reporter

HOSTILE = 'http://evil.example/\x1b[2J\x1b]0;pwned\x07,"quoted",\u202egnp.exe'


def render(fmt: str, results: list[CheckResult]) -> str:
    stream = io.StringIO()
    reporter = make_reporter(fmt, stream)
    for result in results:
        reporter.write(result)
    reporter.finish(1.0, False)
    return stream.getvalue()


def hostile_results() -> list[CheckResult]:
    return [
        invalid_result(HOSTILE, "list\x1b[31m.txt", 4, "holds a control character"),
        CheckResult.of("http://ok.example/", "list.txt", 5, Verdict(Outcome.BROKEN, status=404)),
    ]


def test_printable_escapes_controls_and_bidi_overrides():
    assert printable("a\x1b[2Jb\u202ec\x85") == "a\\x1b[2Jb\\u202ec\\x85"
    assert printable("https://bücher.example/ok") == "https://bücher.example/ok"


def test_text_report_has_no_raw_control_characters():
    text = render("text", hostile_results())
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\x1b[2J" in text and "list\\x1b[31m.txt:" in text


def test_jsonl_keeps_one_record_per_line_and_round_trips():
    lines = render("jsonl", hostile_results()).splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["url"] == HOSTILE  # exact, escaped only by JSON itself
    assert "\x1b" not in lines[0]


def test_csv_rows_stay_rows_and_quote_commas():
    rows = list(csv.reader(io.StringIO(render("csv", hostile_results()))))
    assert len(rows) == 3 and rows[0][0] == "url"
    assert rows[1][0] == printable(HOSTILE) and "\x1b" not in rows[1][0]


def test_json_document_carries_the_summary():
    document = json.loads(render("json", hostile_results()))
    assert document["summary"]["invalid"] == 1 and document["summary"]["broken"] == 1
    assert len(document["results"]) == 2
