"""How long a server asks a client to wait, read strictly: Retry-After, and when a spent rate-limit quota resets.

The server controls these strings: str.isdigit() and int() also take '²', '١٢' and full-width digits
(a crash, or a wait the server never asked for), so only ASCII digits are read.
"""

from __future__ import annotations

import email.utils
import re
import time

#: How long a spent quota is waited for when the server does not say when it resets.
QUOTA_UNSAID_S = 1.0
#: A rate-limit reset above this many seconds is a Unix time (2001-09-09), not a delay.
UNIX_TIME_FROM = 1e9
#: Retry-After's delta-seconds (RFC 9110 §10.2.3): ASCII digits only.
_DELTA_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if malformed."""
    value = value.strip(" \t")
    if not value.isascii():
        return None
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_quota_reset(value: str) -> float:
    """Seconds until a spent quota resets, from `RateLimit-Reset` (delta seconds, the IETF draft's) or
    `X-RateLimit-Reset` (often a Unix time, GitHub's); QUOTA_UNSAID_S when not said or unreadable."""
    value = value.strip(" \t")
    if not value.isascii() or not _DELTA_SECONDS.fullmatch(value):
        return QUOTA_UNSAID_S
    seconds = float(value)
    if seconds > UNIX_TIME_FROM:  # a moment, not a delay
        seconds -= time.time()
    return max(0.0, seconds)
