"""The edits of one document, as pure functions of its text: only the characters of a link's target change.

An `Edit` says where a target is written (1-based line and column in characters, lines split at "\\n" as the
extractor counts them) and what stands there; an edit whose old text is not at its place is not made, so a
link written differently (entities, escapes, a bare `www.` URL) is left as it is. Everything outside the
edited targets (line ends, tabs, trailing spaces, code) is the text's own, character for character.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from typing import Iterable, NamedTuple
from urllib.parse import urljoin, urlsplit

from pcheck.urls import changes_origin


class Edit(NamedTuple):
    """Replace `old`, written at `line`:`column`, with `new`."""

    line: int
    column: int
    old: str
    new: str


def offset_of(text: str, line: int, column: int) -> int | None:
    """The index in `text` of a 1-based line and column; None when there is no such place."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    return start + column - 1 if 0 < column <= end - start + 1 else None


def apply_edits(text: str, edits: Iterable[Edit]) -> tuple[str, tuple[Edit, ...]]:
    """`text` with every edit whose old text stands at its place made (the same place twice: once; overlapping
    ones: the first), and the edits made, in document order."""
    placed: dict[int, Edit] = {}
    for edit in edits:
        at = offset_of(text, edit.line, edit.column)
        if at is not None and edit.old != edit.new and text.startswith(edit.old, at):
            placed.setdefault(at, edit)
    pieces, cursor, made = [], 0, []
    for at in sorted(placed):
        edit = placed[at]
        if at < cursor:
            continue
        pieces += [text[cursor:at], edit.new]
        cursor = at + len(edit.old)
        made.append(edit)
    pieces.append(text[cursor:])
    return "".join(pieces), tuple(made)


#: What a URL may not hold as such (WHATWG's URL parser percent-encodes it) and could end a link's target in
#: Markdown or an HTML attribute: a hostile server's Location must not write markup into a document.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")


def safe_target(url: str) -> str:
    """`url` with what could end a link's target percent-encoded (quotes, angle brackets, spaces, controls,
    and parentheses unless balanced, which Markdown allows): the same URL to a server, inert in a document."""
    url = _UNSAFE.sub(lambda found: f"%{ord(found.group()):02X}", url)
    depth = 0
    for char in url:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    return url.replace("(", "%28").replace(")", "%29") if depth else url


def moved_target(written: str, final_url: str) -> str | None:
    """What a link written as `written` becomes when its redirects ended at `final_url`: the final URL with the
    written `#fragment` (unless the final URL has its own); None for a move from https to http, or no change."""
    if urlsplit(written).scheme.lower() == "https" and urlsplit(final_url).scheme.lower() != "https":
        return None
    new = _with_fragment(written, safe_target(final_url))
    return None if new == written else new


def _with_fragment(written: str, target: str) -> str:
    """`target` with the `#fragment` written on the link, unless it has its own."""
    _, hashed, fragment = written.partition("#")
    return f"{target}#{fragment}" if hashed and "#" not in target else target


def relative_target(written: str, base_url: str, final_url: str) -> str | None:
    """`final_url` written the way the relative link `written` is (from the site's root, `/x`, or from
    `base_url`'s folder, `../x`), with its written `#fragment`; None when it is on another site than
    `base_url` (scheme, host, port) or cannot be written so, or nothing changes."""
    base = urlsplit(base_url)
    if written.startswith("//") or changes_origin(base_url, final_url):
        return None
    final = urlsplit(safe_target(final_url))
    query = f"?{final.query}" if final.query else ""
    path = final.path or "/"
    if written.startswith("/"):
        new = path + query
    else:
        new = posixpath.relpath(path, posixpath.dirname(base.path) or "/")
        if path.endswith("/") and not new.endswith("/"):
            new += "/"
        if not new.startswith(".") and ":" in new.split("/", 1)[0]:
            new = "./" + new  # `a:b` would read as a scheme
        new += query
    joined = urlsplit(urljoin(base_url, new))  # on base_url's site: the path and query must come back
    if (joined.path or "/", joined.query) != (final.path or "/", final.query):
        return None
    new = _with_fragment(written, new)
    return None if new == written else new


#: A reference link's use: `[text][label]`, `[text][]` or `[text]` (backslash escapes kept).
_USE = re.compile(r"\[((?:[^\[\]\\]|\\.)*)\](?:\[((?:[^\[\]\\]|\\.)*)\])?")
#: A reference definition, up to its destination (`<` of a bracketed one included): `[label]: URL`.
_DEFINITION = re.compile(r"^ {0,3}\[((?:[^\[\]\\]|\\.)+)\]:[ \t]*(?:\r?\n[ \t]*)?<?", re.MULTILINE)


def normal_label(label: str) -> str:
    """A reference label as CommonMark matches it: case folded, inner whitespace one space."""
    return " ".join(label.split()).casefold()


def reference_label(text: str, at: int) -> str | None:
    """The label of the reference link used at index `at` of `text`; None if none is written there."""
    found = _USE.match(text, at)
    if found is None:
        return None
    label = found.group(2) or found.group(1)
    return normal_label(label) or None


def definition_of(text: str, label: str, url: str, code_lines: set[int]) -> tuple[int, int] | None:
    """Where the destination of `label`'s definition is written (line, column), when it is `url`: the first
    definition outside code (`code_lines`, 1-based) wins, as in CommonMark; None otherwise."""
    for found in _DEFINITION.finditer(text):
        if normal_label(found.group(1)) != label:
            continue
        at = found.end()
        line = text.count("\n", 0, at) + 1
        if text.count("\n", 0, found.start()) + 1 in code_lines:
            continue
        if not text.startswith(url, at):
            return None
        return line, at - (text.rfind("\n", 0, at) + 1) + 1
    return None


def _lines(text: str) -> list[str]:
    """The lines of `text` split at "\\n" only, each keeping its end ("\\r\\n" stays whole)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def unified_diff(name: str, old: str, new: str) -> str:
    """The unified diff of a document's text, `a/NAME` to `b/NAME`, as `git diff` writes one."""
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), f"a/{name}", f"b/{name}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
