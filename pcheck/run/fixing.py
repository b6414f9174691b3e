"""`pcheck fix`'s run: check the documents' links, and the edits that make each moved or dead link point
where it should.

  results of a check (run/session.check_sources, redirects warn: permanence said)
     --> links that moved for good (fix/moves), and with --archive dead ones' archived copies (run/archiving)
     --> per document: its bytes, decoded --> fix.edits --> encoded as it was --> a `Rewrite`

A link rewritten is written as before, absolute or relative (fix/moves says when it can be); a reference
link's target is in its definition. A link that moved or died but is left as written is a `Kept`, with why:
nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from pcheck.fix.archive import is_dead
from pcheck.fix.edits import Edit, apply_edits, definition_of, moved_target, offset_of, reference_label, unified_diff
from pcheck.fix.moves import move_of
from pcheck.inputs.decoding import document_encoding
from pcheck.inputs.sources import Source
from pcheck.models import STDIN, CheckResult
from pcheck.run.archiving import Archivist, copies_of, wants_copy


@dataclass(frozen=True)
class Kept:
    """A link `pcheck fix` leaves as written, where it is, and why."""

    source: str
    line: int | None
    column: int | None
    link: str
    why: str

    @classmethod
    def of(cls, result: CheckResult, why: str) -> Kept:
        return cls(result.source or "?", result.line, result.column, result.link or result.url, why)


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
    kept: list[Kept] = field(default_factory=list)
    #: Links given an archived copy (--archive), of those rewritten.
    archived: int = 0


def find_rewrites(results: Iterable[CheckResult], sources: list[Source], temporary: bool = False,
                  base_url: str | None = None, archivist: Archivist | None = None) -> Found:
    """Each document's rewrite for the `results` of a check of `sources` made with `--redirects warn` (so that a
    redirected link's detail says whether it moved for good), with `archivist` dead links' archived copies;
    none is written here."""
    documents = {s.name: s.fmt for s in sources if s.kind == "document" and s.name != STDIN}
    fixes: dict[str, list[tuple[CheckResult, str]]] = {}
    kept: list[Kept] = []
    dead: list[CheckResult] = []
    checked = 0
    for result in results:
        checked += 1
        if result.line is None or result.column is None or result.source not in documents:
            continue
        move = move_of(result, base_url, temporary)
        if move is not None and move.new is not None:
            fixes.setdefault(result.source, []).append((result, move.new))
        elif move is not None:
            kept.append(Kept.of(result, move.why))
        elif archivist is not None and is_dead(result):
            if wants_copy(result):
                dead.append(result)
            else:
                kept.append(Kept.of(result, "dead, and written relative: a page of this site, to fix on the site"))
    archived = 0
    if dead and archivist is not None:
        for result, copy in zip(dead, copies_of(archivist, dead)):
            new = moved_target(result.url, copy.snapshot.url) if copy.snapshot is not None else None
            if new is None:
                kept.append(Kept.of(result, f"dead, and no archived copy from before {copy.asked}: {copy.why}"))
            else:
                fixes.setdefault(result.source, []).append((result, new))  # type: ignore[arg-type]
                archived += 1
    rewrites = []
    for name, links in fixes.items():
        rewrite, missed = rewrite_document(name, documents[name], links)
        kept += missed
        if rewrite is not None:
            rewrites.append(rewrite)
    return Found(rewrites, checked, kept, archived)


class Edited(NamedTuple):
    """A document's rewrite (None: nothing changes), and the links it leaves as written, with why."""

    rewrite: Rewrite | None
    missed: list[Kept]


#: Why a link to rewrite is not found where the check read it.
NOT_AS_READ = "not written there as pcheck read it (an entity or escape in the URL, or the file changed)"


def rewrite_document(name: str, fmt: str, links: list[tuple[CheckResult, str]]) -> Edited:
    """The rewrite of document `name` for its `links` (each with its new target), read now."""
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as exc:
        return Edited(None, [Kept.of(r, f"the file cannot be read again ({exc.strerror or exc})") for r, _ in links])
    return rewrite_bytes(name, fmt, data, links)


def rewrite_bytes(name: str, fmt: str, data: bytes, links: list[tuple[CheckResult, str]]) -> Edited:
    """`rewrite_document` on the bytes `data`: decoded as the checker read them, edited, encoded as they were
    (byte-order mark and codec). No rewrite when the bytes do not come back from their text (undecodable
    bytes: writing them would change more than the targets)."""
    found = document_encoding(data, fmt)
    unwritable = Edited(None, [Kept.of(r, "the file's bytes do not decode and encode back as they are") for r, _ in links])
    if found is None:
        return unwritable
    bom, encoding = found
    text = data[len(bom):].decode(encoding, "replace")
    try:
        if bom + text.encode(encoding) != data:
            return unwritable
        placed = list(_edits(text, fmt, links))
        edited, made = apply_edits(text, [edit for _, edit in placed if edit is not None])
        missed = [Kept.of(result, NOT_AS_READ) for result, edit in placed if edit is None or edit not in made]
        if not made:
            return Edited(None, missed)
        after = bom + edited.encode(encoding)
    except UnicodeEncodeError:
        return Edited(None, [Kept.of(r, f"a new target cannot be written in {encoding}") for r, _ in links])
    return Edited(Rewrite(name, data, after, unified_diff(name, text, edited), made), missed)


def _edits(text: str, fmt: str, links: Iterable[tuple[CheckResult, str]]) -> Iterator[tuple[CheckResult, Edit | None]]:
    """Each link and its edit: where its target is written, or, for a reference link, its definition's;
    None when it is not written at its place as it was read."""
    code: list[set[int]] = []
    for result, new in links:
        line, column, written = result.line, result.column, result.link or result.url
        assert line is not None and column is not None
        at = offset_of(text, line, column)
        if at is None:
            yield result, None
            continue
        if text.startswith(written, at):
            yield result, Edit(line, column, written, new)
            continue
        label = reference_label(text, at) if fmt == "markdown" else None
        if label is None:
            yield result, None
            continue
        if not code:
            code.append(_code_lines(text))
        place = definition_of(text, label, written, code[0])
        yield result, (Edit(*place, written, new) if place is not None else None)


def _code_lines(text: str) -> set[int]:
    """The 1-based lines of a Markdown document's code blocks (fenced or indented)."""
    from pcheck.inputs.documents import markdown_tokens

    lines: set[int] = set()
    for token in markdown_tokens(text):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(token.map[0] + 1, token.map[1] + 1))
    return lines
