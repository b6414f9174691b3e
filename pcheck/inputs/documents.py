"""Links in documents: Markdown (markdown-it-py), HTML (html.parser) and plain text, with line numbers.

Every link a reader can click comes out, whatever it points at (http, mailto:, a relative
path, #anchor): the caller decides what is checked and gives the rest a record saying why,
so nothing in a document is dropped unsaid. In Markdown, bare URLs in prose count as GitHub
renders them (GFM's autolinks: a scheme or `www.`, trailing punctuation left out, balanced
parentheses kept, e-mail addresses), through markdown-it's linkify; code spans and fenced or
indented code are skipped: a URL in code is an example, not a link. In HTML, every href, src
and srcset counts, as a browser would follow them, but resource hints (preconnect,
dns-prefetch) name hosts, not pages, and are not links.
"""

from __future__ import annotations

import bisect
import codecs
import re
import threading
from html.parser import HTMLParser
from typing import Iterator, NamedTuple

from markdown_it import MarkdownIt

from pcheck.anchors import html_ids
from pcheck.inputs.decoding import decode_document

DOCUMENT_FORMATS = ("markdown", "html", "text")
# Plain text has no markup to parse, so a pattern it is: a URL ends at whitespace,
# quotes or angle brackets, and trailing sentence punctuation is not part of it.
_BARE_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_URL_ATTRIBUTES = {"href", "src", "cite", "action", "poster", "data"}
#: Attributes whose empty value is still a link (to the page itself); an empty form action is just the default.
_MUST_NAME = {"href", "src"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_BACKTICKS = re.compile("`+")
# What GitHub autolinks in prose: a URL with a scheme, `www.` and a domain, or an e-mail address.
_GFM_AUTOLINK = re.compile(r"(?:https?://|ftp://|www\.|[^\s@]+@[^\s@]+\.)", re.IGNORECASE)
#: Any top-level domain (letters, then letters, digits or hyphens), for linkify's list.
_ANY_TLD = "[a-z][a-z0-9-]{0,62}"
#: <link rel> values that name a host to warm up, not a resource: no page to check.
_RESOURCE_HINTS = {"preconnect", "dns-prefetch"}


def extract(text: str, fmt: str) -> Iterator[tuple[str, int, int | None]]:
    """(link as written, 1-based line, 1-based column) for every link in a document, in document order.

    Text documents have no link syntax: only bare http(s) URLs count there. The
    column is None where the link is not written as itself on its line (an
    entity-encoded URL, an HTML attribute on a later line than its tag).
    """
    if fmt == "markdown":
        found = _markdown(text)
    elif fmt == "html":
        found = _html(text, 0)
    elif fmt == "text":
        found = _text(text)
    else:
        raise ValueError(f"unknown document format {fmt!r}")
    yield from with_columns(text, found, code_spans=fmt == "markdown")


def with_columns(text: str, found: Iterator[tuple[str, int, str | None]],
                  code_spans: bool = False) -> Iterator[tuple[str, int, int | None]]:
    """Each link's column: found again on its line (as written there), after the previous link of that line,
    and (`code_spans`, Markdown) not inside a code span of that line: the same URL in code is no link."""
    lines = text.split("\n")  # as extraction counts lines
    after: dict[int, int] = {}
    for link, line, shown in found:
        if not link:
            yield link, line, None
            continue
        physical = lines[line - 1] if 0 < line <= len(lines) else ""
        start = after.get(line, 0)
        spans = _code_spans(physical) if code_spans and "`" in physical else []
        for form in (shown,) if shown else _written_forms(link):
            at = physical.find(form, start)
            while at >= 0 and any(begin <= at < end for begin, end in spans):
                at = physical.find(form, at + 1)
            if at >= 0:
                after[line] = at + len(form)
                yield link, line, at + 1
                break
        else:
            yield link, line, None


def _code_spans(line: str) -> list[tuple[int, int]]:
    """The code spans of one line, (start, end): a run of backticks (not escaped) up to the next run of the
    same length. Linear in the line: each run's next run of its length is found once, from the end."""
    runs = [m.span() for m in _BACKTICKS.finditer(line)]
    following: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        following[i] = last.get(length)
        last[length] = i
    spans, i = [], 0
    while i < len(runs):
        closer = following[i]
        if closer is None or (runs[i][0] and line[runs[i][0] - 1] == "\\"):
            i += 1
            continue
        spans.append((runs[i][0], runs[closer][1]))
        i = closer + 1
    return spans


def _written_forms(link: str) -> tuple[str, ...]:
    """How a link may stand in the source: itself, entity-encoded, or as the prose GFM autolinked."""
    forms = [link, link.replace("&", "&amp;")]
    if link.startswith("http://www."):
        forms.append(link[len("http://"):])
    elif link.startswith("mailto:"):
        forms.append(link[len("mailto:"):])
    return tuple(forms)


_parsers = threading.local()


def _links_parser() -> MarkdownIt:
    """The parser, built once per thread: building linkify's patterns costs about as much as parsing a
    small document, and linkify-it keeps match state between calls."""
    md = getattr(_parsers, "links", None)
    if md is not None:
        return md
    md = MarkdownIt("commonmark", {"linkify": True}).enable("linkify")
    # linkify-it links `www.x.dev` and `a@x.dev` only for top-level domains on its short list; GitHub
    # links any domain. Its list is joined into a regular expression, so one pattern stands for every name.
    md.linkify.tlds(_ANY_TLD, keep_old=True)
    # Report links as written: the default percent-encodes paths and punycodes hosts,
    # which would check (and show) a URL that is not in the document.
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    # markdown-it leaves javascript:, vbscript:, file: and data: links out of its HTML for safety; they
    # are still links in the document, and each gets a record (excluded, saying why).
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    _parsers.links = md
    return md


def markdown_tokens(text: str) -> list:  # type: ignore[type-arg]
    """markdown-it's tokens of a document, as links are read from them (inputs/ignores.py reads its comments)."""
    return _links_parser().parse(text)


def _markdown(text: str) -> Iterator[tuple[str, int]]:
    tokens = markdown_tokens(text)
    found: list[tuple[int, str, str | None]] = []
    for token in tokens:
        if token.type == "html_block" and token.map:
            found += [(line, url, None) for url, line, _ in _html(token.content, token.map[0])]
        if token.type != "inline" or not token.map:
            continue
        found += _inline_links(token)
    # Reference definitions are not links: `[text][ref]` uses are (markdown-it resolves them), each
    # reported where it is used; a definition nobody uses renders nothing.
    for line, url, shown in sorted(found, key=lambda item: item[0]):
        yield url, line, shown  # "" too: `[text]()` is an empty link, reported as one


def _inline_links(token) -> list[tuple[int, str, str | None]]:  # type: ignore[no-untyped-def]
    """Links of one paragraph, each on its own line, with how it is written there when that is not its URL.

    The token's children do not say where they start, and newlines inside a code
    span or a link title leave no softbreak, so each link is found again in the
    paragraph's source, after the previous one, and its line counted there. A
    reference link (`[text][ref]`) is found by its text: its URL stands elsewhere.
    """
    source, first = token.content, token.map[0] + 1
    # Where each line ends, so a link's line is a binary search, not a count from the paragraph's start
    # (a big table is one paragraph: counting for every link made it quadratic in the paragraph's size).
    ends = [m.start() for m in re.finditer("\n", source)]
    found: list[tuple[int, str, str | None]] = []
    cursor, line = 0, first
    children = token.children or []
    for i, child in enumerate(children):
        if child.type in ("softbreak", "hardbreak"):
            line += 1
            continue
        html = child.type == "html_inline"
        if child.type == "link_open" and child.markup == "linkify":
            shown = children[i + 1].content if i + 1 < len(children) and children[i + 1].type == "text" else ""
            if not _GFM_AUTOLINK.match(shown):
                continue  # `example.com` alone: linkify's guess, not a link on GitHub
            written = shown if _SCHEME.match(shown) else str(child.attrs.get("href", ""))
            written = written.rstrip("_~*")  # GFM leaves these out of an autolink's end; linkify keeps them
            at = source.find(shown, cursor) if shown else -1
            if at >= 0:
                line = first + bisect.bisect_left(ends, at)
                cursor = at + len(shown)
            found.append((line, written, None))
            continue
        if html:
            url_lines = [(url, inner) for url, inner, _ in _html(child.content, 0)]
            written = child.content
        elif child.type in ("link_open", "image"):
            url = str(child.attrs.get("href" if child.type == "link_open" else "src", ""))
            url_lines, written = [(url, 1)], url
        else:
            continue
        shown = None
        if not written:
            at = -1
        elif html:
            at = source.find(written, cursor)
        else:
            at = _find_whole(source, written, cursor)
            if at < 0:  # a reference link, or written with entities or escapes: look for its text
                shown = _label(child, children[i + 1] if i + 1 < len(children) else None)
                at = source.find(shown, cursor) if shown else -1
                if at >= 0:
                    written = shown = _reference_at(source, at, shown)
        if at >= 0:  # else written differently (entities, escapes): keep the softbreak count
            line = first + bisect.bisect_left(ends, at)
            cursor = at + len(written)
        found += [(line + inner - 1, url, shown if at >= 0 else None) for url, inner in url_lines]
    return found


def _reference_at(source: str, at: int, shown: str) -> str:
    """The whole `[text][ref]`, `[text][]` or `[text]` starting at `at`, so the next link is looked for after it."""
    end = source.find("]", at + len(shown))
    if end < 0:
        return shown
    end += 1
    if source[end:end + 1] == "[":
        close = source.find("]", end)
        end = close + 1 if close >= 0 else end
    return source[at:end]


def _label(child, after) -> str | None:  # type: ignore[no-untyped-def]
    """How a link starts in the source when its URL is not there: `[text` or `![alt`."""
    if child.type == "image":
        return "![" + child.content if child.content else None
    if after is not None and after.type == "text" and after.content:
        return "[" + after.content
    return None


# What may stand around a link's URL in Markdown source: `](url`, `<url>`, `(url "title")`.
_BEFORE_URL = ("", "(", "<", " ", "\n", "\t")
_AFTER_URL = ("", ")", ">", '"', "'", " ", "\n", "\t")


def _find_whole(source: str, written: str, start: int) -> int:
    """Where `written` stands in `source` from `start` as a whole URL, not as the prefix of a longer one."""
    at = source.find(written, start)
    while at >= 0 and (source[at - 1:at] not in _BEFORE_URL or source[at + len(written):at + len(written) + 1] not in _AFTER_URL):
        at = source.find(written, at + 1)
    return at


class LinkParser(HTMLParser):
    def __init__(self, offset: int) -> None:
        super().__init__(convert_charrefs=True)
        self.line_offset = offset
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0] + self.line_offset
        if tag == "link" and _RESOURCE_HINTS & set((dict(attrs).get("rel") or "").lower().split()):
            return
        for name, value in attrs:
            if not value:
                if name in _MUST_NAME:  # `<a href="">`, `<img src>`: a link to this page itself, reported as one
                    self.links.append(("", line))
                continue
            if name == "srcset":
                self.links += [(url, line) for url in _srcset_urls(value)]
            elif name in _URL_ATTRIBUTES:
                self.links.append((value.strip(), line))


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset, parsed as the HTML standard does: a URL runs to whitespace (commas
    inside it stay, as image CDNs write `w_400,h_300`), then descriptors run to the next comma."""
    urls, i, n = [], 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if url.endswith(","):  # no descriptor: the comma ends the candidate
            url = url.rstrip(",")
        else:
            while i < n and value[i] != ",":
                i += 1
        if url:
            urls.append(url)
    return urls


def _html(text: str, offset: int) -> Iterator[tuple[str, int, None]]:
    parser = LinkParser(offset)
    parser.feed(text)
    parser.close()
    for url, line in parser.links:
        yield url, line, None


def _text(text: str) -> Iterator[tuple[str, int, None]]:
    # Lines end at "\n" only, as editors and grep -n count them (splitlines also breaks at \f, U+2028, ...).
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _BARE_URL.finditer(line):
            yield _strip_trailing(match.group()), number, None


def _strip_trailing(url: str) -> str:
    """Drop sentence punctuation after a URL, but keep a ')' that closes a '(' inside it (Wikipedia)."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


# -- a crawled page (`pcheck crawl`): read in the worker that fetched it, so the parent gets links, not bodies --

#: The Content-Type's charset parameter.
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
#: Links a rel="nofollow" applies to: those of these elements (an <img src> has no rel).
_REL_ELEMENTS = frozenset({"a", "area", "link", "form"})


class PageLinks(NamedTuple):
    """What a crawl reads in a page: each link (as written, 1-based line and column, nofollow), whether the
    page forbids following any, its `<base href>` (None: none), and its anchors (the ids and names)."""

    links: tuple[tuple[str, int, int | None, bool], ...]
    nofollow: bool
    base: str | None
    anchors: frozenset[str]


class _PageParser(LinkParser):
    """The document parser's links, and for each whether rel="nofollow" says not to follow it."""

    def __init__(self) -> None:
        super().__init__(0)
        self.unfollowed: set[int] = set()  # indexes in `links`
        self.nofollow = False
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        before = len(self.links)
        super().handle_starttag(tag, attrs)
        named = dict(attrs)
        if tag in _REL_ELEMENTS and "nofollow" in (named.get("rel") or "").lower().split():
            self.unfollowed.update(range(before, len(self.links)))
        elif tag == "meta" and (named.get("name") or "").lower() == "robots":
            self.nofollow = self.nofollow or bool({"nofollow", "none"} & set(
                (named.get("content") or "").lower().replace(",", " ").split()))
        elif tag == "base" and self.base is None and named.get("href"):
            self.base = (named.get("href") or "").strip()


def read_page_links(body: bytes, content_type: str) -> PageLinks:
    """The links of an HTML page's body (as sent, no Content-Encoding) and its anchors."""
    text = _decoded(body, content_type)
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on markup it cannot place: what it read so far stands
        pass
    found = with_columns(text, ((url, line, None) for url, line in parser.links))
    links = tuple((link, line, column, i in parser.unfollowed) for i, (link, line, column) in enumerate(found))
    return PageLinks(links, parser.nofollow, parser.base, frozenset(html_ids(text)))


def _decoded(body: bytes, content_type: str) -> str:
    """The page's text: a byte-order mark, then the Content-Type's charset (a text encoding), then as
    `decode_document` reads an HTML file (its `<meta charset>`, else UTF-8)."""
    declared = _CHARSET.search(content_type)
    if declared is not None and not body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            info = codecs.lookup(declared.group(1))
            if getattr(info, "_is_text_encoding", True) and info.name not in ("idna", "utf-16", "utf-32"):
                return body.decode(info.name, "replace")
        except (LookupError, UnicodeError, ValueError):
            pass
    return decode_document(body, "html") or body.decode("utf-8", "replace")
