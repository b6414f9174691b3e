"""The base of every report writer: outcome counts, flushing, and escaping what a list controls.

Every string a URL list controls is escaped before it is written where a
terminal or a line-based parser could see it: a hostile list cannot inject
escape sequences or split a record.
"""

from __future__ import annotations

import re
from typing import TextIO

from pcheck.models import CheckResult, ErrorKind, HostBackoff, Summary

# C0, DEL, C1, and the bidi controls that reorder what a terminal shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


#: Error kinds by their stored value, for rows read back from a spool.
ERROR_KINDS = {kind.value: kind for kind in ErrorKind}


def printable(text: str) -> str:
    """`text` with every control character written as a visible escape (\\x1b, \\u202e)."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Reporter:
    """Base: counts outcomes; subclasses write records as they come."""

    def __init__(self, stream: TextIO, summary: Summary | None = None) -> None:
        self.stream = stream
        #: The run's tally: the session's own (its policy, a resumed report's counts), or a fresh one.
        #: Every record written is counted in it; the summary the report ends with is read from it.
        self.summary = summary if summary is not None else Summary()
        #: Hosts that answered 429/503 and were slowed (set by the session before `finish`).
        self.backoffs: list[HostBackoff] = []
        #: What the run says of itself besides its records (a crawl's pages and bounds), set before `finish`.
        self.notes: list[str] = []

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
        try:
            self._finish()
            self.stream.flush()
        finally:
            self.close()
        return self.summary

    def _finish(self) -> None:
        pass

    def close(self) -> None:
        """Free the spool on disk, if any (finish does; safe to call again)."""
