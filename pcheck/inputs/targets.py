"""A URL as read from any input (a list, an argument, a document, a sitemap): a Target, or an `invalid` record.

The lowest module of inputs/: every reader makes its targets here, so a URL
is judged checkable by the same rule wherever it was written.
"""

from __future__ import annotations

from pcheck.models import CheckResult, ErrorKind, Outcome, Target, Verdict
from pcheck.urls import normalise

#: Characters of an over-long line or an excluded link shown in its record (a data: image can be megabytes).
SHOWN_LINK = 200


def parse_url(url: str, source: str, line: int | None, column: int | None = None,
              link: str | None = None) -> Target | CheckResult:
    """A Target for a checkable URL (from a list, an argument or a document), else an `invalid` result saying why."""
    try:
        key, host = normalise(url)
    except ValueError as exc:
        return invalid_result(url, source, line, str(exc), column, link)
    return Target(url, key, host, source, line, column, link)


def invalid_result(url: str, source: str, line: int | None, reason: str, column: int | None = None,
                   link: str | None = None) -> CheckResult:
    verdict = Verdict(Outcome.INVALID, error=ErrorKind.INVALID_URL, detail=reason)
    return CheckResult.of(url, source, line, verdict, column=column, link=link)


def shown(link: str) -> str:
    """A link as its record shows it: whole, or its first SHOWN_LINK characters and an ellipsis."""
    return link if len(link) <= SHOWN_LINK else link[:SHOWN_LINK] + "…"


def unsupported_result(link: str, source: str, line: int | None, column: int | None, reason: str) -> CheckResult:
    """An `excluded` record for a link pcheck does not check as written (mailto:, a #fragment, an ftp: sitemap...):
    counted as skipped, with the reason."""
    verdict = Verdict(Outcome.EXCLUDED, error=ErrorKind.UNSUPPORTED, detail=reason)
    return CheckResult.of(shown(link), source, line, verdict, column=column)
