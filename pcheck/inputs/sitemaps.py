"""Sitemaps (sitemaps.org): each <loc> of a urlset becomes a target; a sitemap index's sitemaps are followed.

A sitemap is input a stranger writes, often fetched from the network, so it is
read as hostile: defusedxml refuses DTDs and entity declarations (billion
laughs, external entities), gzip is inflated in bounded pieces straight into an
incremental parser (a gzip bomb is cut at MAX_SITEMAP_BYTES, never held whole),
and an index is followed breadth-first, with one body in memory at a time, at
most MAX_SITEMAPS sitemaps per input and MAX_SITEMAP_DEPTH indexes deep. Every
<loc> ends in exactly one result, and every limit or fault in one record that
says so: URLs read before a fault stay.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, Iterator
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.expatreader import DefusedExpatParser

from pcheck.config import MAX_SITEMAP_BYTES, MAX_SITEMAP_DEPTH, MAX_SITEMAPS, MAX_URL_LENGTH
from pcheck.models import ARGS_SOURCE, CheckResult, ErrorKind, Outcome, Target, Verdict
from pcheck.inputs.targets import invalid_result, parse_url, shown, unsupported_result

#: Given a sitemap's URL, its body, or the Verdict saying why there is none (pcheck.check.fetch.fetch_body).
Fetch = Callable[[str], "bytes | Verdict"]

#: The root elements of a sitemap, and the element whose <loc> each lists (local names: any namespace or none).
_ENTRY = {"urlset": "url", "sitemapindex": "sitemap"}
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_CHUNK = 64 * 1024
_XML_SPACE = " \t\r\n"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class _Loc:
    """One <loc> as read: its text (stripped of XML white space), where its element starts, and if it was cut."""

    text: str
    line: int | None
    column: int | None
    too_long: bool


@dataclass(frozen=True)
class _Child:
    """A sitemap an index names, waiting to be fetched."""

    url: str  # as written
    key: str  # normalised: what is fetched, and what a loop is recognised by
    index: str  # the sitemap that names it: its records' source
    line: int | None
    column: int | None
    depth: int


def iter_sitemap(name: str, fetch: Fetch | None, stream: BinaryIO | None = None) -> Iterator[Target | CheckResult]:
    """Targets for the URLs of the sitemap `name` (a local path, an http(s) URL, or `-` with `stream`),
    its index followed with `fetch`; a record for each <loc> not followed, and for each fault."""
    walk = _Walk(fetch)
    if stream is None and "://" in name:
        top = parse_url(name, ARGS_SOURCE, None)
        if isinstance(top, CheckResult):
            yield top
            return
        walk.seen.add(top.key)
        walk.waiting.append(_Child(name, top.key, ARGS_SOURCE, None, None, 0))
    else:
        try:
            if stream is not None:
                yield from walk.read(name, _pieces(stream), 0)
            else:
                with open(name, "rb") as f:
                    yield from walk.read(name, _pieces(f), 0)
        except OSError as exc:
            yield _record(name, name, None, Outcome.UNCHECKED, f"cannot read this file ({exc.strerror or exc})")
    while walk.waiting:
        yield from walk.follow(walk.waiting.popleft())


class _Walk:
    """One input's sitemaps: those already seen (loops), how many were taken to be read, those waiting."""

    def __init__(self, fetch: Fetch | None) -> None:
        self.fetch = fetch
        self.seen: set[str] = set()
        self.followed = 1  # the input itself
        self.waiting: collections.deque[_Child] = collections.deque()

    def follow(self, child: _Child) -> Iterator[Target | CheckResult]:
        if self.fetch is None:
            yield CheckResult.of(child.url, child.index, child.line,
                                 Verdict(Outcome.UNCHECKED, detail="a sitemap: it could not be fetched here"),
                                 column=child.column)
            return
        body = self.fetch(child.key)
        if isinstance(body, Verdict):
            why = body.detail or (f"HTTP {body.status}" if body.status is not None else body.outcome.value)
            verdict = dataclasses.replace(body, detail=f"sitemap not read: {why}")
            yield CheckResult.of(child.url, child.index, child.line, verdict, column=child.column)
            return
        yield from self.read(child.url, (body[i:i + _CHUNK] for i in range(0, len(body), _CHUNK)), child.depth)

    def read(self, name: str, raw: Iterable[bytes], depth: int) -> Iterator[Target | CheckResult]:
        """The URLs of one sitemap's bytes (plain or gzip); its children wait in `self.waiting`.

        Raises OSError from `raw` (a local file failing mid-read).
        """
        parser = DefusedExpatParser(forbid_dtd=True)  # entities and external references are refused by default
        sitemap = _Sitemap(parser)
        parser.setFeature(feature_namespaces, True)
        parser.setContentHandler(sitemap)
        inflater = _Inflater()
        size = 0
        try:
            parser.feed(b"")  # started even if no byte comes: an empty file is "no element found", not nothing
            for piece in inflater.pieces(raw):
                room = MAX_SITEMAP_BYTES - size
                size += len(piece)
                parser.feed(piece if len(piece) <= room else piece[:room])
                yield from self._found(sitemap, name, depth)
                if sitemap.root is not None and sitemap.root not in _ENTRY:
                    yield _not_a_sitemap(sitemap, name)
                    return
                if size > MAX_SITEMAP_BYTES:
                    yield _record(name, name, sitemap.line(), Outcome.UNCHECKED,
                                  f"larger than {MAX_SITEMAP_BYTES / 2**20:g} MiB uncompressed (the sitemaps.org "
                                  "limit): read no further")
                    return
            if inflater.truncated:
                yield _record(name, name, sitemap.line(), Outcome.INVALID, "the gzip data ends early (truncated)")
                return
            parser.close()
        except SAXParseException as exc:
            yield from self._found(sitemap, name, depth)
            if sitemap.root is not None and sitemap.root not in _ENTRY:
                yield _not_a_sitemap(sitemap, name)
            else:
                yield _record(name, name, exc.getLineNumber(), Outcome.INVALID,
                              f"not well-formed XML: {exc.getMessage()}", exc.getColumnNumber() + 1)
            return
        except DefusedXmlException as exc:
            yield from self._found(sitemap, name, depth)
            yield _record(name, name, sitemap.line(), Outcome.INVALID, _refused(exc))
            return
        except zlib.error as exc:
            yield from self._found(sitemap, name, depth)
            yield _record(name, name, None, Outcome.INVALID, f"not valid gzip data ({exc})")
            return
        yield from self._found(sitemap, name, depth)

    def _found(self, sitemap: _Sitemap, name: str, depth: int) -> Iterator[Target | CheckResult]:
        found, sitemap.found = sitemap.found, []
        for loc in found:
            if loc.too_long:
                yield invalid_result(shown(loc.text), name, loc.line, f"longer than {MAX_URL_LENGTH} characters",
                                     loc.column)
            elif sitemap.root == "urlset":
                yield parse_url(loc.text, name, loc.line, loc.column)
            else:
                record = self._offer(loc, name, depth + 1)
                if record is not None:
                    yield record

    def _offer(self, loc: _Loc, index: str, depth: int) -> CheckResult | None:
        """Queue a sitemap an index names; the record saying why instead, when it is not followed."""
        scheme = _SCHEME.match(loc.text)
        if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
            return unsupported_result(loc.text, index, loc.line, loc.column,
                                      f"a {scheme.group(1).lower()}: sitemap; pcheck follows http and https sitemaps only")
        target = parse_url(loc.text, index, loc.line, loc.column)
        if isinstance(target, CheckResult):
            return target
        why = None
        if target.key in self.seen:
            outcome, why = Outcome.EXCLUDED, "a sitemap read already in this input (an index loop or repeat)"
        elif depth > MAX_SITEMAP_DEPTH:
            outcome, why = Outcome.UNCHECKED, f"not followed: sitemap indexes nested over {MAX_SITEMAP_DEPTH} deep"
        elif self.followed >= MAX_SITEMAPS:
            outcome, why = Outcome.UNCHECKED, f"not followed: {MAX_SITEMAPS} sitemaps read from this input already"
        if why is not None:
            return _record(loc.text, index, loc.line, outcome, why, loc.column)
        self.seen.add(target.key)
        self.followed += 1
        self.waiting.append(_Child(loc.text, target.key, index, loc.line, loc.column, depth))
        return None


class _Sitemap(ContentHandler):
    """Collects the <loc>s of a urlset's <url>s or an index's <sitemap>s as the parser meets them."""

    def __init__(self, parser: DefusedExpatParser) -> None:
        super().__init__()
        self.parser = parser  # the locator (feed() never hands one to the handler, as parse() does)
        self.root: str | None = None
        self.root_line: int | None = None
        self.path: list[str] = []  # local names of the open elements
        self.found: list[_Loc] = []
        self.text: list[str] | None = None  # the <loc> being read
        self.size = 0
        self.at: tuple[int | None, int | None] = (None, None)

    def line(self) -> int | None:
        return self.parser.getLineNumber()

    def startElementNS(self, name: tuple[str | None, str], qname: str | None, attrs: object) -> None:
        local = name[1]
        if self.root is None:
            self.root, self.root_line = local, self.line()
        self.path.append(local)
        if len(self.path) == 3 and local == "loc" and self.path[1] == _ENTRY.get(self.path[0]):
            self.text, self.size = [], 0
            self.at = (self.line(), self.parser.getColumnNumber() + 1)

    def endElementNS(self, name: tuple[str | None, str], qname: str | None) -> None:
        if self.text is not None and len(self.path) == 3:
            text = "".join(self.text).strip(_XML_SPACE)
            self.found.append(_Loc(text, *self.at, len(text) > MAX_URL_LENGTH or self.size > 2 * MAX_URL_LENGTH))
            self.text = None
        self.path.pop()

    def characters(self, content: str) -> None:
        if self.text is not None and self.size <= 2 * MAX_URL_LENGTH:  # white space around it, then cut
            self.text.append(content)
            self.size += len(content)


class _Inflater:
    """A sitemap's bytes as XML: gunzipped (known by gzip's magic bytes, not by name) in pieces of _CHUNK."""

    def __init__(self) -> None:
        self.truncated = False

    def pieces(self, raw: Iterable[bytes]) -> Iterator[bytes]:
        stream = iter(raw)
        head = b""
        for piece in stream:
            head += piece
            if len(head) >= len(_GZIP_MAGIC):
                break
        if not head.startswith(_GZIP_MAGIC):
            if head:
                yield head
            yield from stream
            return
        inflater = zlib.decompressobj(_GZIP_WBITS)
        for data in itertools.chain((head,), stream):
            while True:
                if inflater.eof:
                    if not data:
                        break
                    if data[:1] != _GZIP_MAGIC[:1]:
                        return  # bytes after the last member: ignored, as gzip does
                    inflater = zlib.decompressobj(_GZIP_WBITS)  # a gzip of several members
                out = inflater.decompress(data, _CHUNK)  # never more than _CHUNK out of one call
                if out:
                    yield out
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                if not data and len(out) < _CHUNK:
                    break
        self.truncated = not inflater.eof


def _pieces(stream: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: stream.read(_CHUNK), b"")


def _record(url: str, source: str, line: int | None, outcome: Outcome, detail: str,
            column: int | None = None, error: ErrorKind | None = None) -> CheckResult:
    return CheckResult.of(url, source, line, Verdict(outcome, error=error, detail=detail), column=column)


def _not_a_sitemap(sitemap: _Sitemap, name: str) -> CheckResult:
    return _record(name, name, sitemap.root_line, Outcome.INVALID, f"not a sitemap: root element <{sitemap.root}>")


def _refused(exc: DefusedXmlException) -> str:
    if isinstance(exc, DTDForbidden):
        return f"refused: a DTD (<!DOCTYPE {exc.name}>); a sitemap has none, and DTDs carry entity attacks"
    if isinstance(exc, EntitiesForbidden):
        return f"refused: an entity declaration (<!ENTITY {exc.name}>)"
    return f"refused: {exc}"
