"""Links in documents: Markdown (markdown-it-py), HTML (html.parser) and plain text, with line numbers.

Only absolute http(s) links are taken: a relative link has no base to resolve
against in a file on disk. In Markdown, code spans and fenced or
indented code are skipped: a URL in code is an example, not a link. In HTML,
every href, src and srcset counts, as a browser would follow them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Iterator

from markdown_it import MarkdownIt

DOCUMENT_FORMATS = ("markdown", "html", "text")
_ABSOLUTE = re.compile(r"^https?://", re.IGNORECASE)
# Plain text has no markup to parse, so a pattern it is: a URL ends at whitespace,
# quotes or angle brackets, and trailing sentence punctuation is not part of it.
_BARE_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_URL_ATTRIBUTES = {"href", "src", "cite", "action", "poster", "data"}


def extract(text: str, fmt: str) -> Iterator[tuple[str, int]]:
    """(url, 1-based line) for every absolute http(s) link in a document, in document order."""
    if fmt == "markdown":
        yield from _markdown(text)
    elif fmt == "html":
        yield from _html(text, 0)
    elif fmt == "text":
        yield from _text(text)
    else:
        raise ValueError(f"unknown document format {fmt!r}")


def _markdown(text: str) -> Iterator[tuple[str, int]]:
    env: dict = {}
    tokens = MarkdownIt("commonmark").parse(text, env)
    found: list[tuple[int, str]] = []
    for token in tokens:
        if token.type == "html_block" and token.map:
            found += [(line, url) for url, line in _html(token.content, token.map[0])]
        if token.type != "inline" or not token.map:
            continue
        line = token.map[0] + 1
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                found.append((line, str(child.attrs.get("href", ""))))
            elif child.type == "image":
                found.append((line, str(child.attrs.get("src", ""))))
            elif child.type == "html_inline":
                found += [(line + inner - 1, url) for url, inner in _html(child.content, 0)]
    for reference in env.get("references", {}).values():
        if reference.get("map"):
            found.append((reference["map"][0] + 1, reference["href"]))
    for line, url in sorted(found, key=lambda item: item[0]):
        if _ABSOLUTE.match(url):
            yield url, line


class _LinkParser(HTMLParser):
    def __init__(self, offset: int) -> None:
        super().__init__(convert_charrefs=True)
        self.line_offset = offset
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0] + self.line_offset
        for name, value in attrs:
            if not value:
                continue
            if name == "srcset":
                for candidate in value.split(","):
                    url = candidate.strip().split(" ")[0]
                    if url:
                        self.links.append((url, line))
            elif name in _URL_ATTRIBUTES:
                self.links.append((value.strip(), line))


def _html(text: str, offset: int) -> Iterator[tuple[str, int]]:
    parser = _LinkParser(offset)
    parser.feed(text)
    parser.close()
    for url, line in parser.links:
        if _ABSOLUTE.match(url):
            yield url, line


def _text(text: str) -> Iterator[tuple[str, int]]:
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _BARE_URL.finditer(line):
            yield match.group().rstrip(_TRAILING), number
