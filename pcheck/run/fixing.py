"""`pcheck fix`'s run: check the documents' links, and the edits that make each moved link point where it went.

  results of a check (run/session.check_sources, redirects warn: permanence said) --> links that moved for good
          --> per document: its bytes, decoded --> fix.edits --> encoded as it was --> a `Rewrite`

A link is rewritten when it answered alive through redirects that were all permanent (301/308; any
redirect with `temporary`), it is written as an absolute http(s) URL (a local file link never moved),
and its new target does not go from https to http. A reference link's target is in its definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from pcheck.fix.edits import Edit, apply_edits, definition_of, offset_of, reference_label, unified_diff
from pcheck.fix.moves import moved_url
from pcheck.inputs.decoding import document_encoding
from pcheck.inputs.sources import Source
from pcheck.models import STDIN, CheckResult

@dataclass(frozen=True)
class Rewrite:
    """One document's fix: the bytes read and those to write, the diff between their texts, the edits made."""

    name: str
    before: bytes
    after: bytes
    diff: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Found:
    """What a fix run found: the documents to rewrite, and the links checked."""

    rewrites: list[Rewrite]
    checked: int


def find_rewrites(results: Iterable[CheckResult], sources: list[Source], temporary: bool = False) -> Found:
    """Each document's rewrite for the `results` of a check of `sources` made with `--redirects warn` (so that a
    redirected link's detail says whether it moved for good); none is written here."""
    documents = {s.name: s.fmt for s in sources if s.kind == "document" and s.name != STDIN}
    moved: dict[str, list[tuple[CheckResult, str]]] = {}
    checked = 0
    for result in results:
        checked += 1
        new = new_target(result, temporary)
        if new is not None and result.source in documents:
            moved.setdefault(result.source, []).append((result, new))
    rewrites = []
    for name, links in moved.items():
        rewrite = rewrite_document(name, documents[name], links)
        if rewrite is not None:
            rewrites.append(rewrite)
    return Found(rewrites, checked)


def new_target(result: CheckResult, temporary: bool = False) -> str | None:
    """The target a checked link should have instead of its own; None when it stays as written (or it has
    no place in a document to be written at)."""
    if result.line is None or result.column is None:
        return None
    return moved_url(result, temporary)


def rewrite_document(name: str, fmt: str, links: Iterable[tuple[CheckResult, str]]) -> Rewrite | None:
    """The rewrite of document `name` for its moved `links` (each with its new target), read now; None when
    nothing changes, or the document cannot be written back as it was read."""
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return rewrite_bytes(name, fmt, data, links)


def rewrite_bytes(name: str, fmt: str, data: bytes, links: Iterable[tuple[CheckResult, str]]) -> Rewrite | None:
    """`rewrite_document` on the bytes `data`: decoded as the checker read them, edited, encoded as they were
    (byte-order mark and codec). None when nothing changes, or the bytes do not come back from their text
    (undecodable bytes: writing them would change more than the targets)."""
    found = document_encoding(data, fmt)
    if found is None:
        return None
    bom, encoding = found
    text = data[len(bom):].decode(encoding, "replace")
    try:
        if bom + text.encode(encoding) != data:
            return None
        edited, made = apply_edits(text, _edits(text, fmt, links))
        if not made:
            return None
        after = bom + edited.encode(encoding)
    except UnicodeEncodeError:
        return None
    return Rewrite(name, data, after, unified_diff(name, text, edited), made)


def _edits(text: str, fmt: str, links: Iterable[tuple[CheckResult, str]]) -> Iterator[Edit]:
    """An edit per moved link: where its URL is written, or, for a reference link, its definition's."""
    code: list[set[int]] = []
    for result, new in links:
        line, column, url = result.line, result.column, result.url
        assert line is not None and column is not None
        at = offset_of(text, line, column)
        if at is None:
            continue
        if text.startswith(url, at):
            yield Edit(line, column, url, new)
            continue
        label = reference_label(text, at) if fmt == "markdown" else None
        if label is None:
            continue
        if not code:
            code.append(_code_lines(text))
        place = definition_of(text, label, url, code[0])
        if place is not None:
            yield Edit(*place, url, new)


def _code_lines(text: str) -> set[int]:
    """The 1-based lines of a Markdown document's code blocks (fenced or indented)."""
    from pcheck.inputs.documents import markdown_tokens

    lines: set[int] = set()
    for token in markdown_tokens(text):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(token.map[0] + 1, token.map[1] + 1))
    return lines
