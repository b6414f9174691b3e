"""Fragments and the anchors they name: shared by local documents (inputs) and fetched pages (check).

A fragment is judged against a page's anchors: every `id` and `name` attribute
of its HTML (and, for Markdown, GitHub's heading slugs, made in
pcheck.inputs.documents). Text fragments (`#:~:text=`) highlight words, not
anchors, and are never judged.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

#: Bytes of a page read for its anchors (--include-fragments on an http(s) link); a fragment not in
#: the part read is not judged. Few pages are larger (lychee reads whole pages; 10 MiB bounds memory).
MAX_PAGE_BYTES = 10 * 1024 * 1024
#: Anchors kept of one page: a page of a million ids would otherwise sit in memory for the whole run.
MAX_PAGE_ANCHORS = 100_000
#: GitHub renders a README's ids as `user-content-x` and scrolls to them for `#x`.
GITHUB_PREFIX = "user-content-"


def fragment_of(link: str) -> str | None:
    """The fragment a link names, percent-decoded; None when there is none, or a text fragment (not judged)."""
    fragment = unquote(urlsplit(link).fragment) if "#" in link else ""
    if not fragment or fragment.startswith(":~:"):
        return None
    return fragment


def has_anchor(anchors: frozenset[str] | set[str], fragment: str) -> bool:
    """True when a page with `anchors` scrolls to `#fragment` (GitHub's `user-content-` ids included)."""
    return fragment in anchors or GITHUB_PREFIX + fragment in anchors


class _IdParser(HTMLParser):
    def __init__(self, most: int | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.most = most
        self.capped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                if self.most is not None and len(self.ids) >= self.most and value not in self.ids:
                    self.capped = True
                    return
                self.ids.add(value)


def html_ids(text: str) -> set[str]:
    """Every `id` and `name` attribute value of an HTML text: the anchors a fragment may name."""
    parser = _IdParser()
    parser.feed(text)
    parser.close()
    return parser.ids


class AnchorReader:
    """The anchors of a fetched page, fed to it piece by piece as the page arrives: its memory is the
    parser's, never the whole page's. A page that is not HTML, or came compressed, has none to judge."""

    def __init__(self, content_type: str, encoding: str) -> None:
        lowered = content_type.lower()
        self.why_not: str | None = None
        if encoding != "identity":
            self.why_not = f"the page came {encoding[:40]}-encoded, not as asked: #fragments not checked"
        elif lowered and "html" not in lowered:
            self.why_not = f"not an HTML page ({content_type[:80]}): #fragments not checked"
        charset = _CHARSET.search(lowered)
        try:
            self._decoder = codecs.getincrementaldecoder(charset.group(1) if charset else "utf-8")("replace")
        except LookupError:  # a charset Python does not know
            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._parser = _IdParser(MAX_PAGE_ANCHORS)

    @property
    def capped(self) -> bool:
        """True when the page had more anchors than are kept: a fragment not among them is not judged."""
        return self._parser.capped

    def feed(self, chunk: bytes) -> None:
        if self.why_not is None:
            self._parser.feed(self._decoder.decode(chunk))

    def result(self) -> tuple[frozenset[str] | None, str | None]:
        """(the page's ids and names, None), or (None, why its fragments are not judged)."""
        if self.why_not is not None:
            return None, self.why_not
        self._parser.feed(self._decoder.decode(b"", final=True))
        self._parser.close()
        return frozenset(self._parser.ids), None


_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)")
