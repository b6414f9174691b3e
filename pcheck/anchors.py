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
    parser's, never the whole page's. A page that is not HTML, or came compressed, has none to judge.

    The body is a stranger's: its charset is chosen as a browser would (a byte order mark first, then
    the declared charset if it is a text encoding, else UTF-8), and a page that still cannot be read
    has its fragments not judged, saying so; nothing a body holds makes the reader raise.
    """

    def __init__(self, content_type: str, encoding: str) -> None:
        lowered = content_type.lower()
        self.why_not: str | None = None
        if encoding != "identity":
            self.why_not = f"the page came {encoding[:40]}-encoded, not as asked: #fragments not checked"
        elif lowered and "html" not in lowered:
            self.why_not = f"not an HTML page ({content_type[:80]}): #fragments not checked"
        charset = _CHARSET.search(lowered)
        self._charset = _text_encoding(charset.group(1) if charset else None)
        self._decoder: codecs.IncrementalDecoder | None = None  # chosen on the first bytes (a BOM wins)
        self._parser = _IdParser(MAX_PAGE_ANCHORS)

    @property
    def wanted(self) -> bool:
        """Whether the body is worth reading: not when its fragments cannot be judged anyway."""
        return self.why_not is None

    @property
    def capped(self) -> bool:
        """True when the page had more anchors than are kept: a fragment not among them is not judged."""
        return self._parser.capped

    def feed(self, chunk: bytes) -> None:
        if self.why_not is None and chunk:
            if self._decoder is None:
                self._charset = _sniffed(chunk, self._charset)
                self._decoder = codecs.getincrementaldecoder(self._charset)("replace")
            self._parse(chunk)

    def _parse(self, chunk: bytes, final: bool = False) -> None:
        try:
            self._parser.feed(self._decoder.decode(chunk, final) if self._decoder is not None else "")
            if final:
                self._parser.close()
        except Exception as exc:  # noqa: BLE001 - a body no decoder or parser takes: its fragments are not judged
            self.why_not = f"the page could not be read as {self._charset} ({type(exc).__name__}): #fragments not checked"

    def result(self) -> tuple[frozenset[str] | None, str | None]:
        """(the page's ids and names, None), or (None, why its fragments are not judged)."""
        if self.why_not is None:
            self._parse(b"", final=True)
        if self.why_not is not None:
            return None, self.why_not
        return frozenset(self._parser.ids), None


def _text_encoding(name: str | None) -> str:
    """The declared charset if Python knows it as a text encoding, else UTF-8: a page may not name a
    bytes-to-bytes codec (zlib, bz2, base64, hex, uu: a decompression bomb), a str codec (rot13) or one
    whose decoder fails on any input (idna)."""
    if name:
        try:
            info = codecs.lookup(name)
        except LookupError:  # a charset Python does not know
            return "utf-8"
        if getattr(info, "_is_text_encoding", True) and info.name not in _UNFIT:
            return info.name
    return "utf-8"


#: Text encodings whose incremental decoder is unfit for a page (idna raises on an empty label).
_UNFIT = frozenset({"idna", "punycode"})
#: Byte order marks, longest first: one decides the encoding whatever was declared (as in browsers).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: Encodings whose markup bytes hold NULs; a declared one without a BOM is read as WHATWG reads the label.
_WIDE = {"utf-16": "utf-16-le", "utf-16-le": "utf-16-le", "utf-16-be": "utf-16-be",
         "utf-32": "utf-32-le", "utf-32-le": "utf-32-le", "utf-32-be": "utf-32-be"}


def _sniffed(first: bytes, declared: str) -> str:
    """The encoding to read a page in, from its first bytes and its declared charset."""
    for bom, name in _BOMS:
        if first.startswith(bom):
            return name
    if declared in _WIDE:  # HTML in UTF-16/32 has NULs in its first bytes; without them it is not so encoded
        return _WIDE[declared] if b"\x00" in first[:1024] else "utf-8"
    return declared
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)")
