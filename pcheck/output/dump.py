"""--dump's lines: the links a run would check, one per line, or one jsonl record each.

A local link is checked on disk as it is read, so it reaches --dump as a record, not a Target: it is listed
all the same, as its `file://` URL (with, in jsonl, the link as written), whatever was found on disk.
"""

from __future__ import annotations

import json

from pcheck.models import CheckResult, Outcome, Target, redact_userinfo
from pcheck.output.reasons import reason, where
from pcheck.output.reporter import printable

DUMP_FORMATS = ("text", "jsonl")


def is_local_link(result: CheckResult) -> bool:
    """Whether a record is a document's local link checked on disk (not one left out, nor a #place in itself)."""
    return result.link is not None and result.url.startswith("file:") and result.outcome is not Outcome.EXCLUDED


def dump_line(item: Target | CheckResult, fmt: str) -> str:
    """The URL as written (secrets redacted, controls escaped), or {"url", "source", "line", "column"} as jsonl;
    a local link's `file://` URL, and in jsonl its `link` as written too, or a remapped URL's `checked_url`."""
    url = redact_userinfo(item.url)
    if fmt == "jsonl":
        record = {"url": url, "source": item.source, "line": item.line, "column": item.column}
        if isinstance(item, CheckResult):
            record["link"] = item.link
        elif item.checked_url is not None:  # --remap: what would be requested instead
            record["checked_url"] = redact_userinfo(item.checked_url)
        return json.dumps(record)
    return printable(url)


def problem_line(result: CheckResult) -> str:
    """A problem --dump met instead of a link (an invalid line, a missing local file), for stderr:
    `file:line:col: invalid: URL (why)`, as the text report would list it."""
    place = where(result.source, result.line, result.column)
    return printable(f"{place}: {result.outcome.value}: {redact_userinfo(result.url)} ({reason(result)})")
