"""Read URL lists as a stream of targets; every bad line becomes an `invalid` result.

Lines are read as bytes with a length cap, so a 50 MB line or a file of a
million URLs is never held in memory whole, and undecodable or hostile bytes
are reported, never "cleaned" into some other URL.

A file that cannot be read is a usage error before anything is checked,
whether it was named, found by a directory walk or matched by a glob (and so
is a folder the walk cannot list). A file that fails only once the run has
started (removed, replaced or failing mid-read) becomes one `unchecked`
result for that file instead: records already written are kept, and
--resume tries it again. Pipes (a FIFO, /dev/stdin, process substitution's
/dev/fd/N) are read like files; devices are refused.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import stat
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from pcheck.config import (
    DEFAULT_EXTENSIONS,
    INPUT_FORMATS,
    MAX_DOCUMENT_BYTES,
    MAX_URL_LENGTH,
)
from pcheck.errors import InputError
from pcheck.inputs.decoding import decode_document
from pcheck.inputs.links import LinkBase, link_item
from pcheck.inputs.targets import SHOWN_LINK, invalid_result, parse_url
from pcheck.models import (
    ARGS_SOURCE,
    STDIN,
    CheckResult,
    Outcome,
    Target,
    Verdict,
)

if TYPE_CHECKING:
    from pcheck.inputs.sitemaps import Fetch

log = logging.getLogger("pcheck")

# pcheck.inputs.walk (pathspec) and pcheck.inputs.sitemaps (defusedxml, xml.sax) are imported where a
# directory or a sitemap is met: a run of URL arguments never pays for them (issue 18's start-up).

#: Local files read as sitemaps by --input-format auto, and the URL arguments that are (with "sitemap" in the name).
_SITEMAP_ENDINGS = (".xml", ".xml.gz")
_FORMAT_BY_EXTENSION = {"md": "markdown", "markdown": "markdown", "mdx": "markdown",
                        "html": "html", "htm": "html", "xhtml": "html", "txt": "text"}


@dataclass(frozen=True)
class Source:
    """One input: a URL list (a file or stdin), a document, a URL given on the command line, or a sitemap's URL."""

    name: str
    kind: str  # "file", "stdin", "url", "document" or "sitemap" (a URL: fetched)
    fmt: str = "list"  # for documents: "markdown", "html", "text" or "sitemap" (a local sitemap file)
    #: Where a list file is read from, when its name in reports is a label (the demo's list); else `name`.
    path: str | None = None


def open_sources(inputs: Iterable[str], input_format: str = "auto",
                 extensions: Iterable[str] = DEFAULT_EXTENSIONS, *,
                 ignore_files: bool = True, hidden: bool = False, exclude_paths: Iterable[str] = ()) -> list[Source]:
    """Classify and validate every INPUT up front, so nothing is checked if one is unreadable.

    Files named directly are URL lists unless their extension says Markdown or
    HTML; directories are searched recursively for files with `extensions`,
    skipping what .gitignore and .ignore files ignore (unless not `ignore_files`)
    and hidden entries (unless `hidden`), see `pcheck.inputs.walk`; a file named
    here is read even if ignored or hidden. A pattern with * ? or [ is expanded
    as a glob. Files ending .xml or .xml.gz are sitemaps, and so is a URL whose
    last path segment holds "sitemap" and ends so (sitemap.xml, sitemap-2.xml.gz):
    it is fetched and read, where any other URL is checked. `input_format`
    overrides the guess. A file or folder a walk or a glob finds is left out when
    one of `exclude_paths` (--exclude-path) matches its path as reports name it
    (a folder's ending in "/"); a file named here is read all the same, with a warning.
    """
    if input_format not in INPUT_FORMATS:
        raise InputError(f"--input-format must be one of {', '.join(INPUT_FORMATS)}")
    skip = _path_filter(exclude_paths)
    wanted = {e.lower().lstrip(".") for e in extensions}
    sources = []
    for item in inputs:
        if item == STDIN:
            fmt = "list" if input_format == "auto" else input_format
            sources.append(Source(STDIN, "stdin" if fmt == "list" else "document", fmt))
        elif "://" in item:
            sitemap = input_format == "sitemap" or (input_format == "auto" and _names_a_sitemap(item))
            sources.append(Source(item, "sitemap", "sitemap") if sitemap else Source(item, "url"))
        elif os.path.isdir(item):
            from pcheck.inputs.walk import walk

            found = sorted(walk(item, wanted, ignore_files=ignore_files, hidden=hidden, skip=skip))
            if not found:
                raise InputError(f"{item}: a directory with no documents ({', '.join(sorted(wanted))})")
            for path in found:  # found, not named: checked all the same, before anything is checked
                _check_readable(path)
            sources += [_file_source(path, input_format, directory=True) for path in found]
        elif not os.path.exists(item) and any(c in item for c in "*?["):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p) and not (skip and skip(p)))
            if not found:
                raise InputError(f"{item}: no file matches")
            for path in found:
                _check_readable(path)
            sources += [_file_source(path, input_format) for path in found]
        else:
            _check_readable(item)
            if skip and skip(item):
                log.warning("warning: %s: read although --exclude-path matches it: it is named on the command line"
                            " (or by --files-from)", item)
            sources.append(_file_source(item, input_format))
    return sources


def _path_filter(patterns: Iterable[str]) -> Callable[[str], bool] | None:
    """Whether --exclude-path leaves a path out (searched in it, with forward slashes); None without patterns."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise InputError(f"--exclude-path {pattern!r}: not a regular expression ({exc})") from None
    if not compiled:
        return None
    return lambda path: any(p.search(path.replace(os.sep, "/")) for p in compiled)


def _check_readable(item: str) -> None:
    """An input must be a readable file or a pipe; say plainly what else it is."""
    try:
        mode = os.stat(item).st_mode
    except FileNotFoundError:
        raise InputError(f"{item}: no such file") from None
    except OSError as exc:
        raise InputError(f"{item}: {exc.strerror or exc}") from None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise InputError(f"{item}: a device, not a file of URLs (use - to read stdin)")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise InputError(f"{item}: not a regular file or a pipe")
    if not os.access(item, os.R_OK):
        raise InputError(f"{item}: permission denied")


def _file_source(path: str, input_format: str, directory: bool = False) -> Source:
    if input_format != "auto":
        fmt = input_format
    elif path.lower().endswith(_SITEMAP_ENDINGS):
        fmt = "sitemap"
    else:
        fmt = _FORMAT_BY_EXTENSION.get(path.rsplit(".", 1)[-1].lower(), "list")
        if fmt == "text" and not directory:
            fmt = "list"  # a .txt named on the command line is a URL list
    return Source(path, "file" if fmt == "list" else "document", fmt)


def _names_a_sitemap(url: str) -> bool:
    """A URL argument is a sitemap to read when its path's last segment says so: sitemap.xml, sitemap-2.xml.gz."""
    try:
        last = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    except ValueError:
        return False  # it will be an `invalid` result
    return "sitemap" in last and last.endswith(_SITEMAP_ENDINGS)


def count_candidates(sources: Iterable[Source]) -> int | None:
    """Lines that will become a result, for the progress bar's total; None when stdin or a sitemap is involved
    (a sitemap index's size is known only once its sitemaps are fetched)."""
    total = 0
    for source in sources:
        if source.kind in ("stdin", "sitemap") or source.fmt == "sitemap":
            return None
        if source.kind == "url":
            total += 1
            continue
        if _is_pipe(source.path or source.name):
            return None  # a pipe can be read only once: the run's reading it is the count
        if source.kind == "document":
            total += sum(1 for _ in iter_document(source.name, source.fmt))
            continue
        try:
            with open(source.path or source.name, "rb") as stream:
                total += sum(1 for _ in _candidate_lines(stream))
        except OSError:
            total += 1  # it will be one `unchecked` result saying why it could not be read
    return total


def _is_pipe(path: str) -> bool:
    """True for what can be read only once: a FIFO, /dev/stdin, a process substitution's /dev/fd/N."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # it will be one `unchecked` result
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def iter_targets(sources: Iterable[Source], stdin: BinaryIO | None = None,
                 base: LinkBase = LinkBase(), fetch: Fetch | None = None) -> Iterator[Target | CheckResult]:
    """Yield a Target per URL occurrence, or a CheckResult for an invalid line, in input order.

    `fetch` gets the sitemaps a URL or a sitemap index names; without it each is one `unchecked` result.
    """
    for source in sources:
        if source.kind == "url":
            yield parse_url(source.name, ARGS_SOURCE, None)
        elif source.kind == "sitemap" or source.fmt == "sitemap":
            from pcheck.inputs.sitemaps import iter_sitemap

            yield from iter_sitemap(source.name, fetch,
                                    (stdin if stdin is not None else sys.stdin.buffer) if source.name == STDIN else None)
        elif source.kind == "stdin":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from iter_stream(stream, STDIN)
        elif source.kind == "document":
            yield from iter_document(source.name, source.fmt, stdin, base)
        else:
            try:
                with open(source.path or source.name, "rb") as stream:
                    yield from iter_stream(stream, source.name)
            except OSError as exc:
                yield unreadable_result(source.name, exc)


def iter_stream(stream: BinaryIO, source: str) -> Iterator[Target | CheckResult]:
    """Yield targets from one stream of lines."""
    for lineno, column, text, too_long in _candidate_lines(stream):
        if too_long:
            shown = text.decode("utf-8", "replace")[:SHOWN_LINK] + "…"
            yield invalid_result(shown, source, lineno, f"longer than {MAX_URL_LENGTH} bytes", column)
            continue
        try:
            url = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield invalid_result(text.decode("utf-8", "replace"), source, lineno, f"not valid UTF-8 ({exc.reason})",
                                 column)
            continue
        yield parse_url(url, source, lineno, column)


def iter_document(name: str, fmt: str, stdin: BinaryIO | None = None,
                  base: LinkBase = LinkBase()) -> Iterator[Target | CheckResult]:
    """Targets for the links in a Markdown, HTML or text document (read whole, up to MAX_DOCUMENT_BYTES)."""
    try:
        if name == STDIN:
            data = (stdin if stdin is not None else sys.stdin.buffer).read(MAX_DOCUMENT_BYTES + 1)
        else:
            with open(name, "rb") as f:
                data = f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        yield unreadable_result(name, exc)
        return
    if len(data) > MAX_DOCUMENT_BYTES:
        yield document_result(name, f"larger than the {MAX_DOCUMENT_BYTES >> 20} MiB a document may be; no link read")
        return
    from pcheck.inputs.documents import (
        extract,  # markdown-it is only needed for documents
    )

    text = decode_document(data, fmt)
    if text is None:
        yield document_result(name, "not a text document: it holds NUL bytes and no byte-order mark; no link read")
        return
    own: list[set[str]] = []

    def here() -> set[str]:  # this document's anchors, worked out once, and only if a #link asks
        if not own:
            from pcheck.inputs.headings import anchors

            own.append(anchors(text, fmt))
        return own[0]

    from pcheck.inputs.ignores import ignored_result, scan

    ignores = scan(text, fmt)
    for url, line, column in extract(text, fmt):
        comment = ignores.by(line, column) if ignores is not None else None
        if comment is not None:
            yield ignored_result(url, name, line, column, comment)
        elif "\ufffd" in url:
            yield invalid_result(url, name, line, "not valid UTF-8", column)
        else:
            yield link_item(url, name, line, column, base, here)


def _candidate_lines(stream: BinaryIO) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line, column, text, too long?) for stripped lines that are neither blank nor `#` comments.

    A UTF-8 BOM on line 1 is dropped (and not counted in the column); the
    column counts the ASCII whitespace before the URL, so it is in characters.
    """
    for lineno, raw, too_long in _physical_lines(stream):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        text = raw.strip()
        if lineno == 1 and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:].strip()
        if text and not text.startswith(b"#"):
            yield lineno, len(raw) - len(raw.lstrip()) + 1, text, too_long


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, too long?) per line; the tail of an over-long line is skipped unread."""
    lineno = 0
    while True:
        raw = stream.readline(MAX_URL_LENGTH + 2)
        if not raw:
            return
        lineno += 1
        if len(raw) < MAX_URL_LENGTH + 2 or raw.endswith(b"\n"):
            yield lineno, raw, False
            continue
        while True:  # drain the rest of this line in bounded chunks
            chunk = stream.readline(1 << 16)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield lineno, raw[: SHOWN_LINK * 4], True


def document_result(path: str, why: str) -> CheckResult:
    """The one result for a document whose links could not be read, saying why (`unchecked`, as unreadable)."""
    return CheckResult.of(path, path, None, Verdict(Outcome.UNCHECKED, detail=why))


def unreadable_result(path: str, exc: OSError) -> CheckResult:
    """The one result for a file that failed once the run had started: `unchecked`, so --resume retries it.

    Not `invalid`: nothing is wrong with the links in it, they just were not
    (all) read. The error vocabulary has no kind for this; `detail` says why.
    """
    return document_result(path, f"cannot read this file ({exc.strerror or exc})")
