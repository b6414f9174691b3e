"""The places a link into a document may name (its `#fragments`): heading slugs as GitHub makes them
(Markdown, with the `{#id}` other renderers add), and every `id` and `name` attribute (HTML, and HTML
inside Markdown)."""

from __future__ import annotations

import functools
import re
import unicodedata

from markdown_it import MarkdownIt

from pcheck.anchors import html_ids


@functools.cache
def _headings() -> MarkdownIt:
    """CommonMark without linkify (which keeps state between calls): one parser serves every thread."""
    return MarkdownIt("commonmark")

def anchors(text: str, fmt: str) -> set[str]:
    """The fragments a link into this document may name: heading slugs as GitHub makes them (Markdown),
    and every `id` and `name` attribute (HTML, and HTML inside Markdown)."""
    found: set[str] = set()
    if fmt == "markdown":
        seen: dict[str, int] = {}
        tokens = _headings().parse(text)
        for i, token in enumerate(tokens):
            if token.type == "heading_open" and i + 1 < len(tokens):
                slug = github_slug(_plain(tokens[i + 1]))
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                found.add(slug if count == 0 else f"{slug}-{count}")
                custom = _HEADING_ID.search(tokens[i + 1].content)
                if custom:  # `## Title {#id}`: the id MkDocs, Pandoc, Hugo and Jekyll give the heading
                    found.add(custom.group(1))
            elif token.type == "html_block":
                found |= html_ids(token.content)
            elif token.type == "inline":
                for child in token.children or []:
                    if child.type == "html_inline":
                        found |= html_ids(child.content)
    elif fmt == "html":
        found |= html_ids(text)
    return found


#: A heading's attribute list, as Python-Markdown's attr_list, Pandoc and kramdown write it: `{#id .class}`, `{: #id }`.
_HEADING_ID = re.compile(r"\{:?[^}#]*#([^\s}]+)[^}]*\}\s*$")


def github_slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, letters, marks, digits, `_` and `-` kept
    (Unicode ones too), spaces become `-`, everything else dropped."""
    kept = []
    for char in heading.strip().lower():
        if char == " ":
            kept.append("-")
        elif char == "-" or unicodedata.category(char)[0] in "LMN" or unicodedata.category(char) == "Pc":
            kept.append(char)
    return "".join(kept)


def _plain(inline) -> str:  # type: ignore[no-untyped-def]
    """The text a heading shows: its text and code spans, without markup."""
    return "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
