"""--format html: one self-contained page to look at, streamed as the records come.

The page is written in three parts. The head (its Content-Security-Policy, its
style) first; then the records, as they arrive, as JSON data in
`<script type="application/json">` blocks of RECORDS_PER_BLOCK records; at the
end the run's summary (more JSON data) and the page's script, which draws the
counts, the charts, the per-host and per-file tables and the paged problems
table from that data. Nothing is held per record, so a million records cost
the writer no memory; the page itself is made to be read up to about 100,000.

Safety: everything a URL list controls (URLs, file names, details) reaches
the page only inside those JSON blocks, with `<`, `>`, `&` and every non-ASCII
character written as `\\uXXXX` (so no `</script>` and no U+2028 can end or
break a block), and the script puts it on the page with `textContent` and
`createElement` only, never as markup; a link gets an `href` only for an
http(s) URL. The policy lets run only the page's own script and style, named
by their SHA-256 hashes, and loads nothing at all: no request leaves the page.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from importlib import resources
from typing import Any, TextIO

from pcheck._version import __version__
from pcheck.models import ARGS_SOURCE, CheckResult, Outcome, Summary, redact_userinfo
from pcheck.output.overview import Overview
from pcheck.output.reasons import as_written, reason
from pcheck.output.reporter import Reporter
from pcheck.urls import host_of

#: Records a JSON block holds: a block is parsed whole, and written as its records come.
RECORDS_PER_BLOCK = 1_000
#: A reason longer than this is cut (the record's `detail` in jsonl keeps it whole).
MAX_REASON_CHARS = 240

#: The order of a record's cells in the page's data (the script reads them by these positions).
CELLS = ("outcome", "url", "source", "line", "column", "status", "error", "ms", "transient", "reason", "host")

_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def data_json(value: Any) -> str:
    """`value` as JSON that is safe inside a `<script type="application/json">` block: ASCII only
    (U+2028, U+2029 and lone surrogates as `\\u` escapes), and no `<`, `>` or `&` at all."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).translate(_ESCAPES)


def _asset(name: str) -> str:
    return resources.files("pcheck.output").joinpath("html", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def policy(script: str, style: str) -> str:
    """The page's Content-Security-Policy: nothing is loaded from anywhere, only this script and style run."""
    return (f"default-src 'none'; script-src {_sha256(script)}; style-src {_sha256(style)}; img-src 'none'; "
            "font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; frame-src 'none'; "
            "worker-src 'none'; manifest-src 'none'; base-uri 'none'; form-action 'none'")


class HtmlReporter(Reporter):
    """The report as a page: the head at once, the records in JSON blocks as they come, the summary and
    the script at the end."""

    def __init__(self, stream: TextIO, summary: Summary | None = None, *, fail_on_blocked: bool = False,
                 timeout_s: float | None = None) -> None:
        super().__init__(stream, summary)
        self.fail_on_blocked = fail_on_blocked
        self.timeout_s = timeout_s
        self.overview = Overview()
        self.in_block = 0  # records written in the open block (0: none open)
        self.script = _asset("report.js")
        style = _asset("report.css")
        stream.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                     f'<meta http-equiv="Content-Security-Policy" content="{policy(self.script, style)}">\n'
                     '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                     '<meta name="referrer" content="no-referrer">\n'
                     f'<title>pcheck report</title>\n<style>{style}</style>\n</head>\n<body>\n'
                     '<noscript><p>This report is drawn by its script: open it in a browser with JavaScript on. '
                     'Its data are the JSON blocks of this file.</p></noscript>\n<main id="report"></main>\n')

    def _write(self, result: CheckResult) -> None:
        self.overview.add(result)
        out = self.stream
        if not self.in_block:
            out.write('<script type="application/json" class="pcheck-records">[\n')
        else:
            out.write(",\n")
        out.write(data_json(cells(result, self.summary, self.timeout_s)))
        self.in_block += 1
        if self.in_block >= RECORDS_PER_BLOCK:
            self._close_block()

    def _close_block(self) -> None:
        if self.in_block:
            self.stream.write("\n]</script>\n")
            self.in_block = 0

    def _finish(self) -> None:
        self._close_block()
        s = self.summary
        data = {
            "version": __version__,
            "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "headline": self.overview.headline(s),
            "state": "interrupted" if s.interrupted else ("failed" if s.failed(self.fail_on_blocked) else "passed"),
            "total": s.total,
            "counts": {o.value: s.counts[o] for o in Outcome},
            "transient": s.transient, "forgiven": s.forgiven, "skipped": s.skipped, "cancelled": s.cancelled,
            "cached": s.cached, "elapsed_s": round(s.elapsed_s, 3),
            "notes": [*self.overview.notes(), *self.notes],
            "cells": CELLS,
        }
        self.stream.write(f'<script type="application/json" id="pcheck-summary">{data_json(data)}</script>\n'
                          f"<script>{self.script}</script>\n</body>\n</html>\n")


def cells(r: CheckResult, summary: Summary, timeout_s: float | None) -> list[Any]:
    """One record as the page's data, in CELLS' order: what its tables show, and no more
    (a local link as written; the source None for the command line)."""
    url = redact_userinfo(as_written(r))
    said = reason(r, timeout_s, summary.fail_after, summary.accept_transient) if r.outcome is not Outcome.ALIVE else ""
    if len(said) > MAX_REASON_CHARS:
        said = said[:MAX_REASON_CHARS - 1] + "\u2026"
    transient = r.transient
    source = None if r.source in (None, ARGS_SOURCE) else r.source
    return [r.outcome.value, url, source, r.line, r.column, r.status, r.error and r.error.value,
            round(r.elapsed_ms), None if transient is None else int(transient), said,
            r.host or host_of(r.url) or ""]
