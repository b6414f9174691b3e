"""The run's policies on an answer, as words the checker acts on: --redirects (allow, warn, fail) and --require-https.

Imports nothing of pcheck's (the checker applies what is said here to its Verdict, keeping its import
floors low): what a redirected alive link's detail says (its kind, permanent only when every hop was 301
or 308, and its first hop), and the https:// twin of an http:// link.
"""

from __future__ import annotations

import http
from urllib.parse import urlsplit, urlunsplit

#: The redirects that say "the link has moved for good": a link checker may rewrite the link (`pcheck fix`).
PERMANENT_REDIRECTS = frozenset({301, 308})


def redirect_said(trail: tuple[int, ...], policy: str) -> str | None:
    """`permanent redirect: 301 Moved Permanently` for a link that answered through redirects (`trail`: each hop's
    status, in order) under --redirects warn or fail; None under allow, or without a redirect."""
    if policy == "allow" or not trail:
        return None
    kind = "permanent" if all(status in PERMANENT_REDIRECTS for status in trail) else "temporary"
    try:
        first = f"{trail[0]} {http.HTTPStatus(trail[0]).phrase}"
    except ValueError:
        first = str(trail[0])
    return f"{kind} redirect: {first}"


def https_twin(url: str) -> str | None:
    """The https:// URL of an http:// one: the same host, path and query, the default port. None for any other
    URL, and for one naming a port other than 80 (which port would serve its https is anyone's guess)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or port not in (None, 80):
        return None
    netloc = parts.netloc[:-3] if parts.netloc.endswith(":80") else parts.netloc
    return urlunsplit(("https", netloc, parts.path, parts.query, ""))


def twin_works(twin: str, alive: bool, final_url: str | None) -> bool:
    """The twin answered alive and stayed on https (one that sends back to http:// is no secure twin)."""
    return alive and (final_url or twin).startswith("https:")
