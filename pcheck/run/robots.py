"""robots.txt for `pcheck crawl`: read once per origin, obeyed for the pages a crawl would fetch to follow.

It is parsed with protego (Scrapy's parser: RFC 9309, `*` and `$` wildcards, the longest match winning),
as the user agent `pcheck` (and `*`). As RFC 9309 says: a robots.txt that answers 4xx (none) allows every
page; one that cannot be read (5xx, a timeout, no connection) disallows every page of its origin (a site
in trouble is not crawled harder), and the run says so. It is fetched as any URL of the run is (redirects,
TLS settings, --exclude-private's guard), at most 512 KiB of it, the crawl waiting for it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pcheck.config import CheckConfig
from pcheck.models import Verdict

#: The most of a robots.txt read (Google reads 500 KiB).
MAX_ROBOTS_BYTES = 512 * 1024
AGENT = "pcheck"


class Robots:
    """The robots.txt rules of each origin met, fetched on first need."""

    def __init__(self, config: CheckConfig) -> None:
        self.config = config
        self._rules: dict[str, object] = {}  # origin -> a Protego parser, or the reason nothing is allowed
        #: What the run should say of the robots.txt files it read (one that could not be read, by origin).
        self.said: list[str] = []

    def refusal(self, url: str) -> str | None:
        """Why robots.txt forbids fetching `url` (a normalised http(s) URL); None when it allows it."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        rules = self._rules.get(origin)
        if rules is None:
            rules = self._rules[origin] = self._read(origin)
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(url, AGENT):  # type: ignore[attr-defined]
            return None
        return f"disallowed by {origin}/robots.txt"

    def _read(self, origin: str) -> object:
        from protego import Protego

        from pcheck.check.fetch import fetch_body

        body = fetch_body(self.config, f"{origin}/robots.txt", MAX_ROBOTS_BYTES)
        if isinstance(body, Verdict):
            if body.status is not None and 400 <= body.status < 500:
                return Protego.parse("")  # no robots.txt: everything allowed
            why = f"HTTP {body.status}" if body.status else (body.detail or str(body.error))
            said = f"{origin}/robots.txt could not be read ({why}): its pages are not followed (RFC 9309)"
            self.said.append(said)
            return said
        return Protego.parse(body.decode("utf-8", "replace"))
