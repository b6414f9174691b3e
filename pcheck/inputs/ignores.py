"""Inline ignore comments: which links of a Markdown or HTML document a comment leaves unchecked.

  <!-- pcheck-disable-next-line -->                    the links on the line after the comment
  <!-- pcheck-disable-line -->                         the links on the comment's own line
  <!-- pcheck-disable --> ... <!-- pcheck-enable -->   the links between the two (to the end when not enabled again)

markdown-link-check's spellings (`markdown-link-check-disable`, `-enable`, `-disable-next-line`,
`-disable-line`) mean the same, so a project can switch without editing its documents. Whitespace around
the directive is free (`<!--pcheck-disable-->`), and words after it and a space are a reason for people
(`<!-- pcheck-disable-line flaky mirror -->`); the directive itself is written in lower case, as
markdown-link-check reads it. Only real comments count: in Markdown, the HTML markdown-it reads as HTML
(HTML blocks and inline HTML), never a code span or a code block, where a comment is an example; in
HTML, every comment outside `<script>` and `<style>`.

Each ignored link is one `excluded` record naming the comment's line; nothing is requested or looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Iterator

from pcheck.inputs.targets import shown
from pcheck.models import CheckResult, Outcome, Verdict

_DIRECTIVE = re.compile(r"(?:pcheck|markdown-link-check)-(disable-next-line|disable-line|disable|enable)(?:\s|\Z)")
#: A document that does not say this has no directive: it is not parsed a second time.
_MENTION = re.compile(r"(?:pcheck|markdown-link-check)-(?:dis|en)able")
_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
#: The column given to a link whose column is not known: after any comment of its line.
_END = 1 << 30


@dataclass
class Ignores:
    """A document's directives, asked link by link (`by`)."""

    #: line -> the line of the comment that ignores every link on it (`-disable-line`, `-disable-next-line`).
    lines: dict[int, int] = field(default_factory=dict)
    #: ((line, column) where a disabled stretch starts, where it ends or None, the comment's line).
    blocks: list[tuple[tuple[int, int], tuple[int, int] | None, int]] = field(default_factory=list)

    def by(self, line: int | None, column: int | None) -> int | None:
        """The line of the comment that ignores a link at `line`/`column`, or None when it is checked."""
        if line is None:
            return None
        if line in self.lines:
            return self.lines[line]
        at = (line, _END if column is None else column)
        for start, end, comment in self.blocks:
            if start < at and (end is None or at < end):
                return comment
        return None


def scan(text: str, fmt: str) -> Ignores | None:
    """The ignore directives of a document, or None when it has none (plain text never has)."""
    if fmt not in ("markdown", "html") or not _MENTION.search(text):
        return None
    found = sorted(_placed(text, _markdown(text) if fmt == "markdown" else _html(text, 0)))
    if not found:
        return None
    ignores, open_at = Ignores(), None
    for line, column, kind in found:
        if kind == "disable-line":
            ignores.lines.setdefault(line, line)
        elif kind == "disable-next-line":
            ignores.lines.setdefault(line + 1, line)
        elif kind == "disable" and open_at is None:
            open_at = (line, column)
        elif kind == "enable" and open_at is not None:
            ignores.blocks.append((open_at, (line, column), open_at[0]))
            open_at = None
    if open_at is not None:
        ignores.blocks.append((open_at, None, open_at[0]))
    return ignores


def ignored_result(link: str, source: str, line: int | None, column: int | None, comment: int) -> CheckResult:
    """The `excluded` record of a link an inline comment leaves unchecked, naming the comment's line."""
    verdict = Verdict(Outcome.EXCLUDED, detail=f"ignored by the comment on line {comment}")
    return CheckResult.of(shown(link), source, line, verdict, column=column)


def _directive(body: str) -> str | None:
    match = _DIRECTIVE.match(body.strip())
    return match.group(1) if match else None


def _placed(text: str, comments: Iterator[tuple[int, str]]) -> Iterator[tuple[int, int, str]]:
    """(line, column, directive) for each comment (its line, as written) that is a directive; the column
    is where the comment stands on its line, found there after the previous one."""
    lines = text.split("\n")  # as extraction counts lines
    after: dict[int, int] = {}
    for line, written in comments:
        kind = _directive(written[4:-3])
        if kind is None:
            continue
        physical = lines[line - 1] if 0 < line <= len(lines) else ""
        at = physical.find(written.split("\n", 1)[0], after.get(line, 0))
        after[line] = at + 1 if at >= 0 else after.get(line, 0)
        yield line, (at + 1 if at >= 0 else 1), kind


def _markdown(text: str) -> Iterator[tuple[int, str]]:
    """The comments of a Markdown document's HTML blocks and inline HTML, with their lines."""
    from pcheck.inputs.documents import markdown_tokens

    for token in markdown_tokens(text):
        if token.type == "html_block" and token.map:
            yield from _html(token.content, token.map[0])
        elif token.type == "inline" and token.map:
            source, cursor = token.content, 0
            for child in token.children or []:
                if child.type not in ("html_inline", "code_inline"):
                    continue
                at = source.find(child.content, cursor)
                if at < 0:
                    continue  # a code span across lines (its newlines read as spaces): nothing to skip past
                cursor = at + len(child.content)
                if child.type == "html_inline" and _COMMENT.fullmatch(child.content):
                    yield token.map[0] + 1 + source.count("\n", 0, at), child.content


class _Comments(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_comment(self, data: str) -> None:
        self.found.append(f"<!--{data}-->")


def _html(text: str, offset: int) -> Iterator[tuple[int, str]]:
    """The comments of HTML, each found again in the text after the previous one for its line (the
    parser's own position is not where a comment starts in every case)."""
    parser = _Comments()
    parser.feed(text)
    parser.close()
    cursor = line = 0
    for written in parser.found:
        at = text.find(written, cursor)
        if at < 0:
            continue
        line += text.count("\n", cursor, at)
        cursor = at + len(written)
        yield offset + line + 1, written
        line += written.count("\n")
