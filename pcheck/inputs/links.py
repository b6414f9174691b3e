"""What a link found in a document becomes: a URL to check, a local file checked on disk, or a record saying why not.

  https://x/...         -> a Target, checked over HTTP
  guide/intro.md        -> the file next to the document, checked on disk (a file or a directory)
  /guide/intro.md       -> the same under --root-dir; without it, a record saying how to resolve it
  any relative link     -> with --base-url, the URL it makes there, checked over HTTP
  #anchor               -> with --include-fragments, looked up in this document's anchors
  file.md#anchor        -> with --include-fragments, the file's anchors too (GitHub's heading slugs, ids)
  mailto:, ...          -> `excluded`, with the reason

Every link a reader can click ends in exactly one record. A local file is
checked here, as the document is read (no request, no worker); its record's
`url` is the `file://` URL checked and `link` the link as written; a path in its detail is
relative to the working directory when it is below it (urls.shown_path), as reports name it.
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urljoin, urlsplit

from pcheck.anchors import MAX_PAGE_BYTES, fragment_of, has_anchor
from pcheck.config import Config
from pcheck.inputs.decoding import decode_document
from pcheck.inputs.targets import invalid_result, parse_url, unsupported_result
from pcheck.models import STDIN, CheckResult, ErrorKind, Outcome, Target, Verdict
from pcheck.urls import shown_path

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class LinkBase:
    """Where links that are not absolute URLs point: --root-dir for `/x`, --base-url for any relative link."""

    root_dir: str | None = None
    base_url: str | None = None
    #: Check `#fragments` of local links against the anchors of the file they name.
    fragments: bool = False

    @classmethod
    def of(cls, config: Config) -> LinkBase:
        return cls(config.root_dir, config.base_url, config.include_fragments)


def link_item(link: str, document: str, line: int | None, column: int | None, base: LinkBase,
              here: Callable[[], set[str]] | None = None) -> Target | CheckResult:
    """The Target or the record for one link of `document`, as written there; `here` gives the
    document's own anchors (asked only for a `#fragment` link under --include-fragments)."""
    if not link.strip():  # Sphinx writes `<a href="">` for "this page" in every breadcrumb: not a mistake there
        return unsupported_result(link, document, line, column, "an empty link: it points at this page itself")
    scheme = _SCHEME.match(link)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return parse_url(link, document, line, column, None)
        return unsupported_result(link, document, line, column, f"a {name}: link; pcheck checks http and https links")
    if link.startswith("#"):
        if not base.fragments or here is None:
            return unsupported_result(link, document, line, column,
                             "a link to a place in this document; --include-fragments checks it")
        fragment = fragment_of(link)
        if fragment is None or has_anchor(here(), fragment):
            return CheckResult.of(link, document, line, Verdict(Outcome.ALIVE, detail="a place in this document"),
                                  column=column)
        verdict = Verdict(Outcome.BROKEN, error=ErrorKind.MISSING_FRAGMENT, detail=f"no #{fragment} in this document")
        return CheckResult.of(link, document, line, verdict, column=column)
    if base.base_url:
        return parse_url(urljoin(base.base_url, link), document, line, column, link)
    if link.startswith("//"):
        return unsupported_result(link, document, line, column,
                         "a protocol-relative link: pass --base-url URL to give it a scheme")
    path = unquote(urlsplit(link).path)
    if path.startswith("/"):
        if not base.root_dir:
            return unsupported_result(link, document, line, column,
                             "a root-relative link: pass --root-dir DIR (the folder it starts from) or --base-url URL")
        return _local(_under_root(base.root_dir, path), link, document, line, column, base)
    if document == STDIN:
        return unsupported_result(link, document, line, column,
                         "a relative link in standard input: no folder to resolve it against; pass --base-url URL")
    folder = os.path.dirname(os.path.abspath(document))
    if base.root_dir and (inside := _below(folder, os.path.abspath(base.root_dir))) is not None:
        # The published site's view: `..` stops at its root, as a browser resolves it.
        return _local(_under_root(base.root_dir, posixpath.join("/", inside, path)), link, document, line, column, base)
    return _local(os.path.join(folder, path), link, document, line, column, base)


def _under_root(root_dir: str, path: str) -> str:
    """The file a root-relative URL path names under `root_dir`: its dot segments removed as RFC 3986
    says (`/../../etc/x` is `/etc/x`), so no link climbs out of the root, as none can on the site."""
    return os.path.join(root_dir, posixpath.normpath(path).lstrip("/"))


def _below(folder: str, root: str) -> str | None:
    """`folder` relative to `root` ("" for root itself, "a/b" below it); None when it is not inside."""
    rel = os.path.relpath(folder, root)
    return None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else ("" if rel == "." else rel)


def _local(path: str, link: str, document: str, line: int | None, column: int | None, base: LinkBase) -> CheckResult:
    """A local file or directory, checked on disk now: missing is `broken`; a disk that will not say is `unchecked`."""
    path = os.path.abspath(path)  # a relative --root-dir too: a file:// URL names an absolute path
    if "\x00" in path:  # no file can be named so (os.path.exists would just say False)
        return invalid_result(link, document, line, "holds a NUL character", column)
    url = Path(path).as_uri()

    def result(verdict: Verdict) -> CheckResult:
        return CheckResult.of(url, document, line, verdict, column=column, link=link)

    try:
        found = os.stat(path)
    except OSError as exc:
        if exc.errno in _MISSING:
            return result(Verdict(Outcome.BROKEN, error=ErrorKind.MISSING_FILE, detail=f"{exc.strerror}: {shown_path(path)}"))
        # Not "missing": a folder we may not enter, a failing disk. Said, never judged.
        return result(Verdict(Outcome.UNCHECKED, detail=f"cannot look at {shown_path(path)} ({exc.strerror or exc})"))
    kind = "a local directory" if stat.S_ISDIR(found.st_mode) else "a local file"
    fragment = fragment_of(link) if base.fragments else None
    if fragment is None:
        return result(Verdict(Outcome.ALIVE, final_url=url, detail=kind))
    if stat.S_ISDIR(found.st_mode):  # a folder shows its index page (MkDocs, web servers) or README (GitHub)
        index = _index_page(path)
        if index is None:
            return result(Verdict(Outcome.ALIVE, final_url=url,
                                  detail=f"{kind}; #{fragment} not checked: no {' or '.join(_INDEX_PAGES)} in it"))
        path, found = index
    fmt = _ANCHORED.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        return result(Verdict(Outcome.ALIVE, final_url=url,
                              detail=f"{kind}; #{fragment} not checked: not a Markdown or HTML file"))
    if not stat.S_ISREG(found.st_mode):  # a FIFO or a device: reading it for anchors could wait for ever
        return result(Verdict(Outcome.UNCHECKED, final_url=url, detail=f"#{fragment}: not a regular file to read"))
    try:
        anchors = _read_anchors(path, fmt, found.st_mtime_ns, found.st_size)
    except OSError as exc:
        return result(Verdict(Outcome.UNCHECKED, final_url=url,
                              detail=f"#{fragment}: cannot read {shown_path(path)} ({exc.strerror or exc})"))
    if anchors is None:
        return result(Verdict(Outcome.ALIVE, final_url=url, detail=f"{kind}; #{fragment} not checked: over "
                              f"{MAX_PAGE_BYTES >> 20} MiB, or not text, it is not read for its anchors"))
    if not has_anchor(anchors, fragment):
        return result(Verdict(Outcome.BROKEN, error=ErrorKind.MISSING_FRAGMENT, final_url=url,
                              detail=f"no #{fragment} in {shown_path(path)}"))
    return result(Verdict(Outcome.ALIVE, final_url=url, detail=f"{kind}, #{fragment} found"))


#: What stat says when a path names nothing: a local link to it is broken, not unchecked.
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})
#: The files whose anchors a fragment is looked up in, by extension.
_ANCHORED = {".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".html": "html", ".htm": "html"}


#: The page a folder link shows, looked for in this order.
_INDEX_PAGES = ("index.md", "README.md", "index.html")


def _index_page(folder: str) -> tuple[str, os.stat_result] | None:
    for name in _INDEX_PAGES:
        path = os.path.join(folder, name)
        try:
            return path, os.stat(path)
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=4096)
def _read_anchors(path: str, fmt: str, mtime_ns: int, size: int) -> frozenset[str] | None:
    """A file's anchors, read once however many links point into it (again if it changed: `watch`);
    None when they cannot be known: over MAX_PAGE_BYTES (as a page fetched for its anchors) or not text.

    Raises OSError; a failure is not cached.
    """
    from pcheck.inputs.headings import anchors

    with open(path, "rb") as f:
        data = f.read(MAX_PAGE_BYTES + 1)
    if len(data) > MAX_PAGE_BYTES:
        return None
    text = decode_document(data, fmt)
    return None if text is None else frozenset(anchors(text, fmt))
