"""--dump's lines: the links a run would check, one per line, or one jsonl record each."""

from __future__ import annotations

import json

from pcheck.models import CheckResult, Target, redact_userinfo
from pcheck.output.reasons import reason, where
from pcheck.output.reporter import printable

DUMP_FORMATS = ("text", "jsonl")


def dump_line(target: Target, fmt: str) -> str:
    """The URL as written (secrets redacted, controls escaped), or {"url", "source", "line", "column"} as jsonl."""
    url = redact_userinfo(target.url)
    if fmt == "jsonl":
        return json.dumps({"url": url, "source": target.source, "line": target.line, "column": target.column})
    return printable(url)


def problem_line(result: CheckResult) -> str:
    """A problem --dump met instead of a link (an invalid line, a missing local file), for stderr:
    `file:line:col: invalid: URL (why)`, as the text report would list it."""
    place = where(result.source, result.line, result.column)
    return printable(f"{place}: {result.outcome.value}: {redact_userinfo(result.url)} ({reason(result)})")
