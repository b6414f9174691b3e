"""What a link found in a document becomes: a URL to check, a local file checked on disk, or a record saying why not.

  https://x/...         -> a Target, checked over HTTP
  guide/intro.md        -> the file next to the document, checked on disk (a file or a directory)
  /guide/intro.md       -> the same under --root-dir; without it, a record saying how to resolve it
  any relative link     -> with --base-url, the URL it makes there, checked over HTTP
  #anchor, mailto:, ... -> `excluded`, with the reason

Every link a reader can click ends in exactly one record. A local file is
checked here, as the document is read (no request, no worker); its record's
`url` is the `file://` URL checked and `link` the link as written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from pcheck.config import Config
from pcheck.models import STDIN, CheckResult, ErrorKind, Outcome, Target, Verdict
from pcheck.urls import normalise

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
#: Characters of an excluded link shown in its record (a data: image can be megabytes).
SHOWN_LINK = 200


@dataclass(frozen=True)
class LinkBase:
    """Where links that are not absolute URLs point: --root-dir for `/x`, --base-url for any relative link."""

    root_dir: str | None = None
    base_url: str | None = None

    @classmethod
    def of(cls, config: Config) -> LinkBase:
        return cls(config.root_dir, config.base_url)


def link_item(link: str, document: str, line: int | None, column: int | None,
              base: LinkBase) -> Target | CheckResult:
    """The Target or the record for one link of `document`, as written there."""
    scheme = _SCHEME.match(link)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return _target(link, document, line, column, None)
        return _excluded(link, document, line, column, f"a {name}: link; pcheck checks http and https links")
    if link.startswith("#"):
        return _excluded(link, document, line, column, "a link to a place in this document")
    if base.base_url:
        return _target(urljoin(base.base_url, link), document, line, column, link)
    if link.startswith("//"):
        return _excluded(link, document, line, column,
                         "a protocol-relative link: pass --base-url URL to give it a scheme")
    path = unquote(urlsplit(link).path)
    if path.startswith("/"):
        if not base.root_dir:
            return _excluded(link, document, line, column,
                             "a root-relative link: pass --root-dir DIR (the folder it starts from) or --base-url URL")
        return _local(os.path.join(base.root_dir, path.lstrip("/")), link, document, line, column)
    if document == STDIN:
        return _excluded(link, document, line, column,
                         "a relative link in standard input: no folder to resolve it against; pass --base-url URL")
    return _local(os.path.join(os.path.dirname(os.path.abspath(document)), path), link, document, line, column)


def _target(url: str, document: str, line: int | None, column: int | None, link: str | None) -> Target | CheckResult:
    try:
        key, host = normalise(url)
    except ValueError as exc:
        verdict = Verdict(Outcome.INVALID, error=ErrorKind.INVALID_URL, detail=str(exc))
        return CheckResult.of(url, document, line, verdict, column=column, link=link)
    return Target(url, key, host, document, line, column, link)


def _local(path: str, link: str, document: str, line: int | None, column: int | None) -> CheckResult:
    """A local file or directory, checked on disk now."""
    path = os.path.abspath(path)  # a relative --root-dir too: a file:// URL names an absolute path
    if "\x00" in path:  # no file can be named so (os.path.exists would just say False)
        verdict = Verdict(Outcome.INVALID, error=ErrorKind.INVALID_URL, detail="holds a NUL character")
        return CheckResult.of(link, document, line, verdict, column=column)
    found = os.path.exists(path)
    url = Path(path).as_uri()
    if found:
        kind = "a local directory" if os.path.isdir(path) else "a local file"
        return CheckResult.of(url, document, line, Verdict(Outcome.ALIVE, final_url=url, detail=kind),
                              column=column, link=link)
    verdict = Verdict(Outcome.BROKEN, error=ErrorKind.MISSING_FILE, detail=f"no such file or directory: {path}")
    return CheckResult.of(url, document, line, verdict, column=column, link=link)


def _excluded(link: str, document: str, line: int | None, column: int | None, reason: str) -> CheckResult:
    shown = link if len(link) <= SHOWN_LINK else link[:SHOWN_LINK] + "…"
    return CheckResult.of(shown, document, line, Verdict(Outcome.EXCLUDED, detail=reason), column=column)
