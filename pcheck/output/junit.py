"""JUnit XML for CI dashboards: one test case per unique URL, with every place it was found."""

from __future__ import annotations

import itertools
from operator import itemgetter
from typing import TextIO
from urllib.parse import urlsplit

from pcheck.models import ARGS_SOURCE, STDIN, CheckResult, Outcome, Summary, redact_userinfo
from pcheck.output.reasons import reason
from pcheck.output.reporter import ERROR_KINDS, Reporter, printable
from pcheck.output.spool import Spool, dec, dec_opt, enc, enc_opt
from pcheck.urls import shown_file_url, shown_path


class JunitReporter(Reporter):
    """JUnit XML: one testcase per unique URL, a failure for each that fails, so CI shows them natively.

    Every occurrence waits in a spool on disk; at the end SQLite groups them by
    URL, in the order each URL was first seen, and the XML is streamed out
    (written as ElementTree's indent() and tostring() would write it).
    """

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False, summary: Summary | None = None) -> None:
        super().__init__(stream, summary)
        self.fail_on_blocked = fail_on_blocked
        self.cases = Spool(
            "CREATE TABLE occurrences (url BLOB, source BLOB, line INTEGER, outcome TEXT, status INTEGER,"
            " error TEXT, redirects INTEGER, detail BLOB, elapsed_ms REAL, failed_runs INTEGER, failing_since REAL,"
            " fails INTEGER)",
            "INSERT INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def _write(self, result: CheckResult) -> None:
        r = result
        # Whether it fails the run is decided here, by the exit code's own rule (Summary.forgives).
        fails = (r.outcome in (Outcome.BROKEN, Outcome.INVALID, Outcome.UNCHECKED) and not self.summary.forgives(r)) \
            or (r.outcome is Outcome.BLOCKED and self.fail_on_blocked)
        self.cases.add((enc(redact_userinfo(_name(r))), enc_opt(r.source), r.line, r.outcome.value, r.status,
                        r.error and r.error.value, r.redirects, enc_opt(r.detail), r.elapsed_ms, r.failed_runs,
                        r.failing_since, fails))

    def _finish(self) -> None:
        db = self.cases.flush()
        # Indexed once at the end (a sort on disk) rather than row by row on the hot path.
        db.executescript(
            "CREATE INDEX occurrences_by_url ON occurrences (url);"
            "CREATE TABLE cases (first INTEGER PRIMARY KEY, url BLOB);"
            "INSERT INTO cases SELECT min(rowid), url FROM occurrences GROUP BY url;")
        counted = db.execute(
            "SELECT o.outcome, o.fails, count(*) FROM cases c JOIN occurrences o ON o.rowid = c.first"
            " GROUP BY o.outcome, o.fails").fetchall()
        tests = sum(n for _, _, n in counted)
        failures = sum(n for _, fails, n in counted if fails)
        skipped = sum(n for o, fails, n in counted if not fails and o in _SKIPPED)
        took = f"{self.summary.elapsed_s:.3f}"
        counts = f'tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}"'
        out = self.stream
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="pcheck" {counts} time="{took}">\n')
        if not tests:
            out.write(f'  <testsuite name="pcheck" time="{took}" {counts} />\n</testsuites>\n')
            return
        out.write(f'  <testsuite name="pcheck" time="{took}" {counts}>\n')
        rows = db.execute(
            "SELECT c.first, o.url, o.source, o.line, o.outcome, o.status, o.error, o.redirects, o.detail,"
            " o.elapsed_ms, o.failed_runs, o.failing_since, o.fails"
            " FROM cases c JOIN occurrences o ON o.url = c.url ORDER BY c.first, o.rowid")
        for _, occurrences in itertools.groupby(rows, itemgetter(0)):
            _, url, source, line, outcome, status, error, redirects, detail, elapsed_ms, runs, since, fails = \
                next(occurrences)
            first = CheckResult(url=dec(url), outcome=Outcome(outcome), status=status, error=ERROR_KINDS.get(error),
                                redirects=redirects, elapsed_ms=elapsed_ms, source=dec_opt(source), line=line,
                                detail=dec_opt(detail), failed_runs=runs, failing_since=since)
            said = reason(first, None, self.summary.fail_after, self.summary.accept_transient)
            out.write(f'    <testcase classname="{_xml_attr(_xml(first.source or "pcheck"))}" '
                      f'name="{_xml_attr(_xml(first.url))}"{_file_line(first.source, first.line)} '
                      f'time="{first.elapsed_ms / 1000:.3f}"')
            if fails:
                out.write(f'>\n      <failure message="{_xml_attr(_xml(said))}" type="{first.outcome.value}">')
                out.write(_xml_text(_place(first.source, first.line)))
                for row in occurrences:  # every place the URL occurs, one per line
                    out.write("\n" + _xml_text(_place(dec_opt(row[2]), row[3])))
                out.write("</failure>\n    </testcase>\n")
            elif first.outcome in _SKIPPED:
                message = _xml_attr(_xml(f"{first.outcome.value}: {said}"))
                out.write(f'>\n      <skipped message="{message}" />\n    </testcase>\n')
            else:
                out.write(" />\n")
        out.write("  </testsuite>\n</testsuites>\n")

    def close(self) -> None:
        self.cases.close()


#: Cases that do not fail are shown skipped when nothing was verified: excluded, blocked, and broken
#: links the run forgives (--accept-transient, --fail-after).
_SKIPPED = (Outcome.EXCLUDED, Outcome.BLOCKED, Outcome.BROKEN)


def _name(r: CheckResult) -> str:
    """A test case's name: the URL, or for a local link its file relative to the working directory and the
    #fragment asked for (`docs/usage.md#setup`): one case per file and fragment, never this machine's path."""
    if not r.url.startswith("file:"):
        return r.url
    fragment = urlsplit(r.link).fragment if r.link else ""
    return shown_file_url(r.url) + (f"#{fragment}" if fragment else "")


def _file_line(source: str | None, line: int | None) -> str:
    """` file="docs/a.md" line="3"`: where CI reporters put an annotation; nothing for a URL given on the
    command line or standard input, a sitemap's URL, or a label such as the demo's list."""
    if not source or source in (ARGS_SOURCE, STDIN) or "://" in source or (source[0] + source[-1]) == "<>":
        return ""
    said = f' file="{_xml_attr(_xml(shown_path(source)))}"'
    return said + (f' line="{line}"' if line is not None else "")


def _place(source: str | None, line: int | None) -> str:
    return f"{_xml(source or '?')}:{line if line is not None else '-'}"


def _xml_attr(text: str) -> str:
    """`text` escaped for a double-quoted XML attribute, exactly as ElementTree escapes it."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


def _xml_text(text: str) -> str:
    """`text` escaped as XML character data, exactly as ElementTree escapes it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(text: str) -> str:
    # XML 1.0 cannot carry most control characters at all, even escaped.
    return printable(text)
