"""`--archive`: which dead links an archived copy may replace, the question put to the Wayback Machine's
availability API, and what its answer allows, as pure functions (run/archiving.py asks).

Only a link that is gone for good is replaced (404, 410, a host name that does not exist): never one that
timed out, answered 5xx or was blocked, which may be back tomorrow. The copy must be from before the link
started failing (the API answers the snapshot *closest* to the time asked, which may be later: a capture of
the broken page) and have been captured with status 200; lychee suggests the latest snapshot, often the
broken page itself.
"""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from pcheck.models import CheckResult, ErrorKind, Outcome

DEFAULT_ARCHIVE_API = "https://archive.org/wayback/available"
#: The statuses of a page that is gone, not away: the archive's copy is the only one left.
DEAD_STATUSES = frozenset({404, 410})
#: An answer of the availability API is a few hundred bytes; one larger is not that API.
MAX_ANSWER_BYTES = 64 * 1024
#: Hosts known to serve their snapshots over https too, though the API names them with http://.
_HTTPS_ARCHIVES = frozenset({"web.archive.org"})


@dataclass(frozen=True)
class Snapshot:
    """An archived copy: its URL, and when it was captured (seconds since the epoch)."""

    url: str
    captured: float


def is_dead(result: CheckResult) -> bool:
    """Whether a checked link is gone for good: 404, 410, or a host name that does not exist."""
    if result.outcome is not Outcome.BROKEN or result.transient:
        return False
    return result.status in DEAD_STATUSES or (result.status is None and result.error is ErrorKind.DNS)


def stamp(when: float) -> str:
    """The archive's 14-digit UTC timestamp of a time: YYYYMMDDhhmmss."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(when))


def day(when: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(when))


def archive_api_is_url(api: str) -> bool:
    """Whether `--archive-api` names an http(s) URL with a host, as an API must be."""
    parts = urlsplit(api)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def question(api: str, url: str, when: float) -> str:
    """The availability API's URL asking for the snapshot of `url` closest to `when`."""
    parts = urlsplit(api)
    query = "&".join(q for q in (parts.query, urlencode({"url": url, "timestamp": stamp(when)})) if q)
    return urlunsplit(parts._replace(query=query))


def read_answer(body: bytes, when: float) -> Snapshot | str:
    """The snapshot an API answer offers for a link failing since `when`; else why there is none (a reason
    to list). The answer is a stranger's JSON: anything but the documented shape is said, never trusted."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "the archive's answer is not JSON"
    snapshots = answer.get("archived_snapshots") if isinstance(answer, dict) else None
    if not isinstance(snapshots, dict):
        return "the archive's answer has no archived_snapshots"
    closest = snapshots.get("closest")
    if not closest:
        return "the archive has none"
    if not isinstance(closest, dict):
        return "the archive's answer is not what its API documents"
    url, captured, status = closest.get("url"), _time_of(closest.get("timestamp")), str(closest.get("status"))
    if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https") or captured is None:
        return "the archive's answer is not what its API documents"
    if closest.get("available") is False:
        return "the archive has none"
    if status != "200":
        return f"the archive's closest copy was captured with status {status}"
    if captured > when:
        return f"the archive's closest copy is from {day(captured)}, later than that"
    return Snapshot(_secure(url), captured)


def _time_of(text: object) -> float | None:
    """A 14-digit archive timestamp (UTC) as seconds since the epoch; None if it is not one."""
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S")))
    except (ValueError, OverflowError):
        return None


def _secure(url: str) -> str:
    """The snapshot's URL over https when its archive serves https (the API names web.archive.org with http://):
    a dead https link must not become an http one."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "http" and (parts.hostname or "").lower() in _HTTPS_ARCHIVES:
        return urlunsplit(parts._replace(scheme="https"))
    return url
