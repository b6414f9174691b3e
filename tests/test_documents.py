"""Links in documents (issue 6): what is extracted, with which line, from which files, and what is not.

Extraction tables run in-process on strings (example.test hosts, never resolved);
everything that checks a URL talks to the loopback lab only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_pcheck, write_list
from pcheck.run.session import targets
from pcheck.config import Config
from pcheck.inputs.documents import anchors, extract, github_slug
from pcheck.errors import InputError
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.sources import iter_document, open_sources, parse_url, Source
from pcheck.inputs.links import LinkBase, link_item
from pcheck.models import CheckResult, Outcome, Target

pytestmark = pytest.mark.timeout(60)

FAST = ["--timeout", "5", "--retries", "0", "-p", "1", "--no-progress", "--recheck-after", "0"]  # the late re-check has tests of its own (test_rechecks.py)
README = Path(__file__).parent.parent / "README.md"


def links(text: str, fmt: str) -> list[tuple[str, int]]:
    return [(link, line) for link, line, _ in extract(text, fmt)]


# -- Markdown ------------------------------------------------------------------------------------------

MARKDOWN_FOUND = [
    ("inline link", "intro\n\nsee [the docs](http://a.test/docs) now\n", [("http://a.test/docs", 3)]),
    ("image", "![logo](https://a.test/logo.png \"title\")\n", [("https://a.test/logo.png", 1)]),
    ("autolink", "first\n<https://a.test/auto>\n", [("https://a.test/auto", 2)]),
    ("an unused reference definition is not a link", "text\n\n[ref]: http://a.test/ref\n", []),
    ("a reference link counts where it is used, each time", "[a][ref] and\n[ref] and [b][]\n\n[ref]: http://a.test/ref\n"
     "[b]: http://a.test/b\n", [("http://a.test/ref", 1), ("http://a.test/ref", 2), ("http://a.test/b", 2)]),
    ("inline html", "para <a href=\"http://a.test/inline\">x</a>\n", [("http://a.test/inline", 1)]),
    ("html block with srcset", "para\n\n<div>\n<a href=\"http://a.test/hb\">x</a>\n"
     "<img srcset=\"http://a.test/1.png 1x, http://a.test/2.png 2x\">\n</div>\n",
     [("http://a.test/hb", 4), ("http://a.test/1.png", 5), ("http://a.test/2.png", 5)]),
    ("soft breaks count lines", "one\ntwo\nthree [x](http://a.test/3)\n", [("http://a.test/3", 3)]),
    ("hard breaks count lines", "a  \nb\\\n[c](http://a.test/hard)\n", [("http://a.test/hard", 3)]),
    ("list and blockquote", "- item\n- [a](http://a.test/li)\n\n> quote\n> [q](http://a.test/bq)\n",
     [("http://a.test/li", 2), ("http://a.test/bq", 5)]),
    ("table cells", "| a | b |\n|---|---|\n| [x](http://a.test/t1) | y |\n| z | [w](http://a.test/t2) |\n",
     [("http://a.test/t1", 3), ("http://a.test/t2", 4)]),
    ("heading", "# Title [h](http://a.test/h)\n", [("http://a.test/h", 1)]),
    ("entities decoded", "[a](http://a.test/?a=1&amp;b=2)\n", [("http://a.test/?a=1&b=2", 1)]),
    ("upper-case scheme", "<HTTP://a.test/UP>\n", [("HTTP://a.test/UP", 1)]),
    ("several on one line, in order", "[a](http://a.test/1) and <http://a.test/2> ![i](http://a.test/3)\n",
     [("http://a.test/1", 1), ("http://a.test/2", 1), ("http://a.test/3", 1)]),
    ("CRLF line ends", "a\r\nb\r\n[c](http://a.test/crlf)\r\n", [("http://a.test/crlf", 3)]),
]

MARKDOWN_NOT_FOUND = [
    ("code span", "use `http://a.test/span` here\n"),
    ("code span holding a link", "`[x](http://a.test/span-link)`\n"),
    ("fenced code, backticks", "```\n[a](http://a.test/fenced) <http://a.test/f2>\n```\n"),
    ("fenced code, tildes", "~~~sh\ncurl https://a.test/tilde\n~~~\n"),
    ("fenced code with html", "```html\n<a href=\"http://a.test/fenced-html\">x</a>\n```\n"),
    ("indented code", "para\n\n    [a](http://a.test/indented) <http://a.test/i2>\n"),
    ("html comment", "<!-- [a](http://a.test/commented) <a href=\"http://a.test/c2\"> -->\n"),
    ("bare URL in a code span", "run `curl https://a.test/in-span` now\n"),
    ("bare URL in fenced code", "```\ncurl https://a.test/in-fence\n```\n"),
    ("a bare domain is not a link on GitHub", "see example.com or a.test/path\n"),
]

# Every link a reader can click, whatever it points at: the caller gives the unchecked ones a record.
MARKDOWN_LINKS_OF_EVERY_KIND = [
    ("relative link", "[a](docs/guide.md) [b](/abs/path) [c](../up.html)\n",
     [("docs/guide.md", 1), ("/abs/path", 1), ("../up.html", 1)]),
    ("fragment only", "[a](#section)\n", [("#section", 1)]),
    ("scheme-relative", "[a](//a.test/x)\n", [("//a.test/x", 1)]),
    ("other schemes", "[m](mailto:a@a.test) [f](ftp://a.test/f) [j](javascript:alert(1)) <file:///etc/passwd>\n",
     [("mailto:a@a.test", 1), ("ftp://a.test/f", 1), ("javascript:alert(1)", 1), ("file:///etc/passwd", 1)]),
    ("relative html", "<a href=\"relative.html\">x</a>\n", [("relative.html", 1)]),
]

# Bare URLs in prose, as GitHub renders them (GFM's autolink extension).
MARKDOWN_BARE_URLS = [
    ("in a list item", "- https://a.test/gone\n", [("https://a.test/gone", 1)]),
    ("trailing punctuation left out", "See https://a.test/a, or https://a.test/b.\n",
     [("https://a.test/a", 1), ("https://a.test/b", 1)]),
    ("balanced parentheses kept", "(https://a.test/wiki/Foo_(bar))\n", [("https://a.test/wiki/Foo_(bar)", 1)]),
    ("www. without a scheme", "second\nwww.example.org/help\n", [("http://www.example.org/help", 2)]),
    ("e-mail address", "write to me@example.org today\n", [("mailto:me@example.org", 1)]),
    ("line within a paragraph", "one\ntwo https://a.test/two\nthree https://a.test/three\n",
     [("https://a.test/two", 2), ("https://a.test/three", 3)]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in MARKDOWN_FOUND], ids=[c[0] for c in MARKDOWN_FOUND])
def test_markdown_links_are_extracted_with_their_line(text, expected):
    assert links(text, "markdown") == expected


@pytest.mark.parametrize("text", [c[1] for c in MARKDOWN_NOT_FOUND], ids=[c[0] for c in MARKDOWN_NOT_FOUND])
def test_markdown_code_and_comments_are_not_links(text):
    assert links(text + "\n[real](http://a.test/real)\n", "markdown") == [("http://a.test/real", text.count("\n") + 2)]


@pytest.mark.parametrize("text, expected", [c[1:] for c in MARKDOWN_LINKS_OF_EVERY_KIND],
                         ids=[c[0] for c in MARKDOWN_LINKS_OF_EVERY_KIND])
def test_markdown_links_of_every_kind_are_extracted_as_written(text, expected):
    assert links(text, "markdown") == expected


@pytest.mark.parametrize("text, expected", [c[1:] for c in MARKDOWN_BARE_URLS], ids=[c[0] for c in MARKDOWN_BARE_URLS])
def test_markdown_bare_urls_in_prose_are_links_as_github_renders_them(text, expected):
    assert links(text, "markdown") == expected


def test_markdown_reference_is_reported_where_used_not_where_defined():
    assert links("use [x][r] here\n\n[r]: http://a.test/ref\n", "markdown") == [("http://a.test/ref", 1)]


LINE_AFTER_MULTILINE_INLINE = [
    ("code span over two lines", "text `code\nmore` [x](http://a.test/after-span)\n"),
    ("inline html over two lines", "a <span\nclass=\"x\">t</span> [l](http://a.test/after-html)\n"),
    ("link title over two lines", "[a](http://a.test/t \"title\ncontinued\") [b](http://a.test/after-title)\n"),
]


@pytest.mark.parametrize("text", [c[1] for c in LINE_AFTER_MULTILINE_INLINE],
                         ids=[c[0] for c in LINE_AFTER_MULTILINE_INLINE])
def test_markdown_line_after_a_multiline_inline_element(text):
    assert links(text, "markdown")[-1][1] == 2


def test_markdown_urls_are_reported_as_written():
    text = "[a](http://a.test/café) [b](http://bücher.test/)\n"
    assert [url for url, _ in links(text, "markdown")] == ["http://a.test/café", "http://bücher.test/"]


# -- HTML ----------------------------------------------------------------------------------------------

HTML_DOC = """<!doctype html>
<html><head>
<link rel="stylesheet" href="https://a.test/style.css">
<script src="https://a.test/app.js">var inScript = "http://a.test/in-script";</script>
</head><body>
<!-- <a href="http://a.test/commented-out">old</a> -->
<a HREF=" http://a.test/spaced ">spaced</a> <a href="/relative">r</a> <a href="page.html">p</a>
<a href="#top">t</a> <a href="mailto:a@a.test">m</a> <a href="javascript:void(0)">j</a>
<img src="http://a.test/img.png" srcset="http://a.test/a.png 1x,
     http://a.test/b.png 2x, small.png 3x">
<p>plain text http://a.test/in-text is not a link in HTML</p>
<iframe src="https://a.test/frame"></iframe><video poster="https://a.test/poster.jpg"></video>
<a href="http://a.test/?q=1&amp;r=2">entity</a>
<pre><code>http://a.test/in-pre</code></pre>
<img src="http://a.test/self-closing.png"/>
</body></html>
"""


def test_html_href_src_srcset_are_extracted_with_their_line():
    assert links(HTML_DOC, "html") == [
        ("https://a.test/style.css", 3),
        ("https://a.test/app.js", 4),
        ("http://a.test/spaced", 7),
        ("/relative", 7),
        ("page.html", 7),
        ("#top", 8),
        ("mailto:a@a.test", 8),
        ("javascript:void(0)", 8),
        ("http://a.test/img.png", 9),
        ("http://a.test/a.png", 9),
        ("http://a.test/b.png", 9),
        ("small.png", 9),
        ("https://a.test/frame", 12),
        ("https://a.test/poster.jpg", 12),
        ("http://a.test/?q=1&r=2", 13),
        ("http://a.test/self-closing.png", 15),
    ]


@pytest.mark.parametrize("needle", ["commented-out", "in-script", "in-text", "in-pre"])
def test_html_comments_scripts_and_text_are_not_links(needle):
    assert not [url for url, _ in links(HTML_DOC, "html") if needle in url]


def test_html_resource_hints_name_hosts_not_pages():
    text = ('<link rel="preconnect" href="https://fonts.a.test">\n<link rel="DNS-Prefetch" href="//cdn.a.test">\n'
            '<link rel="preload stylesheet" href="https://a.test/s.css">\n')
    assert links(text, "html") == [("https://a.test/s.css", 3)]


def test_html_srcset_descriptor_after_tab_or_newline():
    text = '<img srcset="http://a.test/tab.png\t1x, http://a.test/nl.png\n2x">'
    assert links(text, "html") == [("http://a.test/tab.png", 1), ("http://a.test/nl.png", 1)]


# -- plain text ----------------------------------------------------------------------------------------

TEXT_FOUND = [
    ("full stop", "See http://a.test/a.", [("http://a.test/a", 1)]),
    ("comma and semicolon", "http://a.test/b, http://a.test/c; done", [("http://a.test/b", 1), ("http://a.test/c", 1)]),
    ("in parentheses", "(see http://a.test/p)", [("http://a.test/p", 1)]),
    ("quotes", "'http://a.test/q' \"http://a.test/dq\"", [("http://a.test/q", 1), ("http://a.test/dq", 1)]),
    ("angle brackets", "<http://a.test/ang>", [("http://a.test/ang", 1)]),
    ("question and exclamation", "Is it https://a.test/x? Yes https://a.test/y!",
     [("https://a.test/x", 1), ("https://a.test/y", 1)]),
    ("ellipsis", "and http://a.test/more...", [("http://a.test/more", 1)]),
    ("query kept", "at http://a.test/s?x=1&y=2.", [("http://a.test/s?x=1&y=2", 1)]),
    ("markdown syntax in text", "[md](http://a.test/md)", [("http://a.test/md", 1)]),
    ("line numbers", "one\n\nthree http://a.test/3\nfour\nhttp://a.test/5\n", [("http://a.test/3", 3), ("http://a.test/5", 5)]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in TEXT_FOUND], ids=[c[0] for c in TEXT_FOUND])
def test_text_urls_lose_trailing_punctuation(text, expected):
    assert links(text, "text") == expected


@pytest.mark.parametrize("text", ["ftp://a.test/f", "a.test/no-scheme", "www.a.test", "mailto:a@a.test", "http:/one-slash"])
def test_text_without_an_absolute_http_url_yields_nothing(text):
    assert links(text, "text") == []


def test_text_keeps_balanced_parentheses():
    assert links("see http://a.test/wiki/Foo_(bar) and (http://a.test/wiki/Baz_(qux)).", "text") == [
        ("http://a.test/wiki/Foo_(bar)", 1), ("http://a.test/wiki/Baz_(qux)", 1)]


def test_text_line_numbers_count_newlines_only():
    text = "page one\f page two\nhttp://a.test/after-ff\nsep\u2028still line 3\nhttp://a.test/4\n"
    assert links(text, "text") == [("http://a.test/after-ff", 2), ("http://a.test/4", 4)]


# -- documents as inputs: kinds, directories, globs ------------------------------------------------------

def make_tree(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / ".hidden").mkdir()
    (docs / "index.md").write_text("# Index\n\n[a](http://a.test/index)\n")
    (docs / "sub" / "page.html").write_text("<p>\n<a href=\"http://a.test/page\">x</a>\n")
    (docs / "sub" / "deeper" / "old.HTM").write_text("<a href=\"http://a.test/old\">x</a>\n")
    (docs / "sub" / "notes.txt").write_text("text http://a.test/notes.\n")
    (docs / "sub" / "data.json").write_text("{\"u\": \"http://a.test/json\"}\n")
    (docs / ".hidden" / "secret.md").write_text("[s](http://a.test/hidden)\n")
    (docs / "README").write_text("http://a.test/no-extension\n")
    return docs


def found(sources: list[Source]) -> list[tuple[str, int]]:
    items = [i for s in sources for i in iter_document(s.name, s.fmt)]
    assert all(isinstance(i, Target) for i in items)
    return [(i.url, i.line) for i in items]


def test_files_named_directly_are_classified_by_extension(tmp_path):
    names = {"a.md": "markdown", "b.markdown": "markdown", "c.html": "html", "d.htm": "html", "e.txt": "list",
             "f.list": "list", "G.MD": "markdown"}
    for name in names:
        (tmp_path / name).write_text("http://a.test/\n")
    sources = open_sources([str(tmp_path / n) for n in names])
    assert [s.fmt for s in sources] == list(names.values())
    assert [s.kind for s in sources] == ["file" if f == "list" else "document" for f in names.values()]


def test_input_format_overrides_the_extension(tmp_path):
    path = tmp_path / "links.txt"
    path.write_text("prose with http://a.test/one, and http://a.test/two.\n")
    [source] = open_sources([str(path)], input_format="text")
    assert (source.kind, source.fmt) == ("document", "text")
    assert found([source]) == [("http://a.test/one", 1), ("http://a.test/two", 1)]
    [as_markdown] = open_sources([str(path)], input_format="markdown")
    assert as_markdown.fmt == "markdown"
    with pytest.raises(InputError, match="--input-format"):
        open_sources([str(path)], input_format="pdf")


def test_directories_are_searched_recursively_for_default_extensions(tmp_path):
    docs = make_tree(tmp_path)
    sources = open_sources([str(docs)])
    assert sorted(Path(s.name).relative_to(docs).as_posix() for s in sources) == [
        "index.md", "sub/deeper/old.HTM", "sub/page.html"]
    assert sorted(found(sources)) == [("http://a.test/index", 3), ("http://a.test/old", 1), ("http://a.test/page", 2)]


def test_extensions_choose_what_a_directory_yields_and_txt_there_is_text(tmp_path):
    docs = make_tree(tmp_path)
    sources = open_sources([str(docs)], extensions=["txt", ".md"])
    assert sorted(Path(s.name).name for s in sources) == ["index.md", "notes.txt"]
    [notes] = [s for s in sources if s.name.endswith("notes.txt")]
    assert (notes.kind, notes.fmt) == ("document", "text")
    assert sorted(found(sources)) == [("http://a.test/index", 3), ("http://a.test/notes", 1)]


def test_a_directory_without_matching_documents_is_a_usage_error(tmp_path):
    docs = make_tree(tmp_path)
    with pytest.raises(InputError, match="no documents"):
        open_sources([str(docs)], extensions=["rst"])


def test_globs_expand_recursively_and_an_empty_glob_is_an_error(tmp_path):
    docs = make_tree(tmp_path)
    sources = open_sources([str(docs / "**" / "*.html")])
    assert [Path(s.name).name for s in sources] == ["page.html"]
    assert sources[0].fmt == "html"
    assert [Path(s.name).name for s in open_sources([str(docs / "*.md")])] == ["index.md"]
    with pytest.raises(InputError, match="no file matches"):
        open_sources([str(docs / "**" / "*.rst")])


BAD_UTF8 = {
    "text": b"see http://a.test/ok\n\nand http://a.test/\xff\xfe\n",
    "html": b"<a href='http://a.test/ok'>\n\n<a href='http://a.test/\xff\xfe'>\n",
    "markdown": b"[a](http://a.test/ok)\n\n[b](http://a.test/\xff\xfe)\n",
}


@pytest.mark.parametrize("fmt", ["text", "html", "markdown"])
def test_a_document_with_bad_utf8_yields_an_invalid_result_not_another_url(tmp_path, fmt):
    path = tmp_path / f"bad.{fmt}"
    path.write_bytes(BAD_UTF8[fmt])
    first, second = iter_document(str(path), fmt)
    assert isinstance(first, Target) and (first.url, first.line, first.source) == ("http://a.test/ok", 1, str(path))
    assert isinstance(second, CheckResult), second
    assert (second.outcome, second.line, second.url) == (Outcome.INVALID, 3, "http://a.test/\ufffd\ufffd")


def test_library_api_reads_documents_and_applies_excludes(tmp_path):
    docs = make_tree(tmp_path)
    config = Config(processes=1, exclude=("/old$",))
    items = list(targets(config, open_sources([str(docs)])))
    seen = {(i.url, type(i).__name__, getattr(i, "outcome", None)) for i in items}
    assert seen == {("http://a.test/index", "Target", None), ("http://a.test/page", "Target", None),
                    ("http://a.test/old", "CheckResult", Outcome.EXCLUDED)}


# -- end to end on the lab -------------------------------------------------------------------------------

def records(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_cli_checks_a_directory_tree_and_names_file_and_line(lab, tmp_path):
    docs = tmp_path / "docs"
    (docs / "guide").mkdir(parents=True)
    ok, gone = lab.url("ok?doc=1"), lab.url("status/404", 1)
    (docs / "index.md").write_text(f"# Docs\n\nAll [fine]({ok}).\n\n```\n{lab.url('status/500')}\n```\n")
    (docs / "guide" / "intro.html").write_text(f"<html>\n<body>\n<a href=\"{gone}\">gone</a>\n</body>\n")
    (docs / "guide" / "notes.txt").write_text(f"{lab.url('status/410')}\n")
    proc = run_pcheck("check", str(docs), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    got = sorted((r["source"], r["line"], r["url"], r["outcome"]) for r in records(proc))
    assert got == [(str(docs / "guide" / "intro.html"), 3, gone, "broken"), (str(docs / "index.md"), 3, ok, "alive")]

    proc = run_pcheck("check", str(docs), "--extensions", "txt", "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert [(r["source"], r["line"], r["status"]) for r in records(proc)] == [(str(docs / "guide" / "notes.txt"), 1, 410)]


def test_cli_expands_a_glob_it_is_given_unexpanded(lab, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text(f"[x]({lab.url('ok?g=1')})\n")
    (tmp_path / "two.md").write_text(f"[x]({lab.url('ok?g=2')})\n")
    (tmp_path / "skip.html").write_text(f"<a href=\"{lab.url('ok?g=3')}\">x</a>\n")
    proc = run_pcheck("check", str(tmp_path / "**" / "*.md"), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["url"] for r in records(proc)) == [lab.url("ok?g=1"), lab.url("ok?g=2")]


def test_duplicates_across_inputs_are_checked_once_and_reported_at_every_place(lab, tmp_path):
    dup = lab.url("status/404?dup=1")
    md = tmp_path / "a.md"
    md.write_text(f"# A\n\n[one]({dup}) and [again]({dup})\n\n<{dup}>\n")
    html = tmp_path / "b.html"
    html.write_text(f"<p>\n<a href=\"{dup}\">x</a>\n")
    lst = write_list(tmp_path / "urls.txt", ["# list", dup])
    proc = run_pcheck("check", str(md), str(html), str(lst), dup, "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    places = sorted((r["source"], r["line"] or 0) for r in records(proc))
    assert places == sorted([(str(md), 3), (str(md), 3), (str(md), 5), (str(html), 2), (str(lst), 2), ("<args>", 0)])
    assert {r["outcome"] for r in records(proc)} == {"broken"}
    requested = [e.method for e in lab.log if e.target == "/status/404?dup=1"]
    assert requested == ["HEAD", "GET"], requested  # one unique URL: one HEAD and its GET confirmation

    text = run_pcheck("check", str(md), str(html), str(lst), *FAST)
    for source, line in [(md, 3), (md, 5), (html, 2), (lst, 2)]:  # one line per place: file:line:col: URL  (why)
        assert re.search(rf"^  {re.escape(str(source))}:{line}:\d+: {re.escape(dup)}  \(404 Not Found\)$", text.stdout, re.M), \
            (source, line, text.stdout)


# -- this repository's README ------------------------------------------------------------------------------

def test_readme_links_are_all_reported_excluded_with_their_line():
    readme = README.read_text(encoding="utf-8")
    expected = sorted((link, line) for link, line, _ in extract(readme, "markdown"))
    assert len(expected) >= 10, "the README's links are what this test checks"
    # Only loopback may be contacted: every URL not on 127.0.0.0/8 is excluded, so none is fetched.
    proc = run_pcheck("check", str(README), "--format", "jsonl", "--exclude", r"(?i)^(?!https?://127\.)", *FAST)
    assert proc.returncode == 0, proc.stderr  # the README's local links all exist
    local = [r for r in records(proc) if r["url"].startswith("file://")]
    assert local and all(r["outcome"] == "alive" and r["link"] for r in local), local
    got = [r for r in records(proc) if not r["url"].startswith("file://")]
    assert all(r["outcome"] == "excluded" and r["source"] == str(README) for r in got), got
    assert sorted([(r["url"], r["line"]) for r in got] + [(r["link"], r["line"]) for r in local]) == expected
    lines = readme.splitlines()
    for r in got:  # the line named holds the link, or uses a reference defined elsewhere
        defined = re.search(rf"^ {{0,3}}\[[^\]]+\]:\s*<?{re.escape(r['url'])}", readme, re.M)
        assert r["url"] in lines[r["line"] - 1] or (defined and "]" in lines[r["line"] - 1]), r
        if r["column"] is not None:  # and the column names where it starts: the URL, or a reference's `[text`
            assert lines[r["line"] - 1][r["column"] - 1:].startswith((r["url"], "[", "![")), r
    assert sum(r["column"] is not None for r in got) >= len(got) // 2
    # URLs that the README shows only inside code must not be reported.
    code_only = {url for url, _, _ in extract(readme, "text")} - {url for url, _ in expected}
    assert not code_only & {r["url"] for r in got}


def test_markdown_link_whose_url_prefixes_a_later_one_keeps_its_own_line():
    text = "[ref][r] first\nthen [longer](http://a.test/x/more)\n\n[r]: http://a.test/x\n"
    assert links(text, "markdown") == [("http://a.test/x", 1), ("http://a.test/x/more", 2)]


# -- every link a reader can click ends in a record (issue 14) ------------------------------------------

def test_every_link_in_a_document_ends_in_one_record_unchecked_ones_saying_why(lab, tmp_path):
    ok, gone = lab.url("ok?every=1"), lab.url("status/404?every=1", 1)
    image = "data:image/png;base64," + "A" * 5000
    doc = tmp_path / "README.md"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n")
    doc.write_text(
        f"# Project\n\n- {gone}\n- see [the guide](docs/guide.md) and [install](#install)\n"
        f"- [mail](mailto:team@a.test), [call](tel:+100), [files](ftp://a.test/f), [run](javascript:go())\n"
        f"- [cdn](//cdn.a.test/x.js) and {ok}.\n\n<img src=\"{image}\">\n\n`{lab.url('status/500')}` is an example\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr  # the bare 404 in the list fails the run
    got = [(r["line"], r["url"], r["outcome"], r["detail"]) for r in records(proc)]
    by_url = {url: (line, outcome, detail) for line, url, outcome, detail in got}
    assert len(got) == 10  # every clickable link once; the one in a code span is an example, not a link
    assert by_url[gone][:2] == (3, "broken") and by_url[ok][:2] == (6, "alive")
    excluded = {url: detail for _, url, outcome, detail in got if outcome == "excluded"}
    guide = (tmp_path / "docs" / "guide.md").as_uri()
    assert by_url[guide] == (4, "alive", "a local file")  # checked on disk, no request
    assert excluded["#install"] == "a link to a place in this document; --include-fragments checks it"
    assert excluded["mailto:team@a.test"] == "a mailto: link; pcheck checks http and https links"
    assert {"tel:+100", "ftp://a.test/f", "javascript:go()", "//cdn.a.test/x.js"} <= set(excluded)
    shown_image = next(url for url in excluded if url.startswith("data:"))
    assert len(shown_image) == 201 and shown_image.endswith("…")  # a data: image is named, cut short
    # Only the two http(s) links were asked for; the example in the code span was not.
    assert {(r.address, r.target) for r in lab.log} == {("127.0.0.1", "/ok?every=1"), ("127.0.0.2", "/status/404?every=1")}


def test_the_text_report_counts_the_links_it_did_not_check(lab, tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(f"[ok]({lab.url('ok?count=1')}) [mail](mailto:a@a.test) [tel](tel:1) [top](#top)\n")
    proc = run_pcheck("check", str(doc), *FAST)
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout + proc.stderr
    assert re.search(r"\bexcluded\b\D*3\b", summary), summary
    assert re.search(r"\balive\b\D*1\b", summary), summary


# -- --dump, and patterns on the normal form (issue 14) ------------------------------------------------

def test_dump_prints_the_links_a_run_would_check_and_requests_none(lab, tmp_path):
    ok, gone, skipped = lab.url("ok?dump=1"), lab.url("status/404?dump=1"), lab.url("ok?dump=skip")
    doc = tmp_path / "a.md"
    doc.write_text(f"# A\n\n- {ok}\n- [gone]({gone}) [mail](mailto:a@a.test) [rel](b.md)\n- {skipped}\n")
    proc = run_pcheck("check", str(doc), "--dump", "--exclude", "dump=skip", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [ok, gone]  # after --exclude; unchecked kinds are not links to check
    proc = run_pcheck("check", str(doc), "--dump", "--format", "jsonl", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {"url": ok, "source": str(doc), "line": 3, "column": 3}, {"url": gone, "source": str(doc), "line": 4, "column": 10},
        {"url": skipped, "source": str(doc), "line": 5, "column": 3}]
    assert list(lab.log) == []  # not one request


def test_dump_writes_only_formats_that_list_links(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("<https://a.test/x>\n")
    proc = run_pcheck("check", str(doc), "--dump", "--format", "junit")
    assert proc.returncode == 2 and "--dump writes text or jsonl" in proc.stderr and proc.stdout == ""


def test_include_and_exclude_match_the_normal_form_of_a_url_too():
    items = [parse_url(url, "doc.md", 1) for url in ("HTTPS://Example.ORG/a", "https://example.org/b")]
    excluded = list(filter_targets(items, Config(processes=1, exclude=(r"^https://example\.org/a",))))
    assert [(i.url, isinstance(i, CheckResult)) for i in excluded] == [("HTTPS://Example.ORG/a", True),
                                                                        ("https://example.org/b", False)]
    included = list(filter_targets(items, Config(processes=1, include=(r"^https://example\.org/",))))
    assert all(isinstance(i, Target) for i in included)


def test_a_srcset_url_may_hold_commas_as_image_cdns_write_them():
    text = '<img srcset="https://cdn.a.test/w_400,h_300/a.png 1x, https://cdn.a.test/b.png, https://cdn.a.test/c.png 3x">'
    assert links(text, "html") == [("https://cdn.a.test/w_400,h_300/a.png", 1), ("https://cdn.a.test/b.png", 1),
                                   ("https://cdn.a.test/c.png", 1)]


def test_a_bare_url_ends_before_trailing_emphasis_marks_as_on_github():
    assert links("see https://a.test/u_ and https://a.test/t~ now\n", "markdown") == [
        ("https://a.test/u", 1), ("https://a.test/t", 1)]


COLUMNS = [
    ("markdown", "# T\n\n- https://a.test/x and [y](https://a.test/y)\n", [("https://a.test/x", 3, 3), ("https://a.test/y", 3, 28)]),
    ("markdown", "a [same](https://a.test/s) b [same](https://a.test/s)\n", [("https://a.test/s", 1, 10), ("https://a.test/s", 1, 37)]),
    ("markdown", "x www.example.org\n", [("http://www.example.org", 1, 3)]),
    ("markdown", "Intro [one][r] and [r], [two][] ![pic][two]\n\n[r]: https://a.test/r\n[two]: https://a.test/2\n",
     [("https://a.test/r", 1, 7), ("https://a.test/r", 1, 20), ("https://a.test/2", 1, 25), ("https://a.test/2", 1, 33)]),
    ("html", '<p>\n  <a href="https://a.test/h?a=1&amp;b=2">x</a>\n', [("https://a.test/h?a=1&b=2", 2, 12)]),
    ("text", "x https://a.test/1 y https://a.test/1\n", [("https://a.test/1", 1, 3), ("https://a.test/1", 1, 22)]),
]


@pytest.mark.parametrize("fmt, text, expected", COLUMNS)
def test_every_link_has_the_column_where_it_starts(fmt, text, expected):
    assert list(extract(text, fmt)) == expected


def test_records_carry_line_and_column_from_lists_and_documents(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", ["# list", "   " + lab.url("ok?col=1"), "\t" + lab.url("ok?col=2")])
    doc = tmp_path / "a.md"
    doc.write_text(f"# A\n\nsee [x]({lab.url('ok?col=3')})\n")
    proc = run_pcheck("check", str(listing), str(doc), lab.url("ok?col=4"), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    got = sorted((r["url"].rpartition("=")[2], r["line"], r["column"]) for r in records(proc))
    assert got == [("1", 2, 4), ("2", 3, 2), ("3", 3, 9), ("4", None, None)]


# -- local links (issue 14) ----------------------------------------------------------------------------

def _docs(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "intro.md").write_text("# Intro\n")
    (root / "guide" / "my page.md").write_text("# Spaces\n")
    (root / "img").mkdir()
    doc = root / "guide" / "index.md"
    doc.write_text("# Index\n\n[intro](intro.md) [dir](../img/) [space](my%20page.md) [q](intro.md?x=1#top)\n"
                   "[gone](missing.md) [root](/guide/intro.md) [root gone](/nope.md)\n")
    return doc


def test_relative_links_are_checked_on_disk_next_to_their_document(tmp_path):
    doc = _docs(tmp_path)
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr  # missing.md
    got = {r["link"] or r["url"]: r for r in records(proc)}
    guide = doc.parent
    for link, path in [("intro.md", guide / "intro.md"), ("../img/", guide.parent / "img"),
                       ("my%20page.md", guide / "my page.md"), ("intro.md?x=1#top", guide / "intro.md")]:
        assert (got[link]["url"], got[link]["outcome"]) == (path.as_uri(), "alive"), got[link]
    assert got["../img/"]["detail"] == "a local directory"
    gone = got["missing.md"]
    assert (gone["url"], gone["outcome"], gone["error"]) == ((guide / "missing.md").as_uri(), "broken", "missing_file")
    assert (gone["line"], gone["column"]) == (4, 8)
    for link in ("/guide/intro.md", "/nope.md"):  # no --root-dir: said, never guessed
        assert got[link]["outcome"] == "excluded" and "--root-dir" in got[link]["detail"], got[link]


def test_root_relative_links_start_from_root_dir(tmp_path):
    doc = _docs(tmp_path)
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--root-dir", str(doc.parent.parent), *FAST)
    got = {r["link"] or r["url"]: r for r in records(proc)}
    assert got["/guide/intro.md"]["outcome"] == "alive"
    assert (got["/nope.md"]["outcome"], got["/nope.md"]["error"]) == ("broken", "missing_file")
    assert run_pcheck("check", str(doc), "--root-dir", str(tmp_path / "no-such-dir"), *FAST).returncode == 2
    # A relative --root-dir (`--root-dir .` in a repository) is taken from the current folder.
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--root-dir", "site", *FAST, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    got = {r["link"] or r["url"]: r for r in records(proc)}
    assert (got["/guide/intro.md"]["url"], got["/guide/intro.md"]["outcome"]) == (
        (doc.parent / "intro.md").as_uri(), "alive")


def test_base_url_turns_relative_links_into_urls_checked_over_http(lab, tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("[ok](ok?base=1) [gone](status/404?base=1) [top](#top) [proto](//127.0.0.1:1/x)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--base-url", lab.url(""), *FAST)
    assert proc.returncode == 1, proc.stderr
    got = {r["link"] or r["url"]: r for r in records(proc)}
    assert (got["ok?base=1"]["url"], got["ok?base=1"]["outcome"]) == (lab.url("ok?base=1"), "alive")
    assert got["status/404?base=1"]["status"] == 404
    assert got["#top"]["outcome"] == "excluded"
    assert got["//127.0.0.1:1/x"]["url"] == "http://127.0.0.1:1/x"  # the base gives it its scheme
    assert run_pcheck("check", str(doc), "--base-url", "ftp://x/", *FAST).returncode == 2


def test_relative_links_read_from_stdin_say_how_to_resolve_them():
    proc = run_pcheck("check", "-", "--input-format", "markdown", "--format", "jsonl", *FAST,
                      stdin="[a](guide.md) [b](mailto:x@a.test)\n")
    assert proc.returncode == 0, proc.stderr
    details = sorted(r["detail"] for r in records(proc))
    assert details[0].startswith("a mailto: link") and "--base-url" in details[1]


def test_a_local_link_holding_a_nul_is_invalid_not_a_crash(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("[x](a%00b.md)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert proc.returncode == 1 and [r["outcome"] for r in records(proc)] == ["invalid"], proc.stderr


def test_a_directory_walk_skips_what_git_ignores_and_hidden_files_unless_asked(tmp_path):
    root = tmp_path / "repo"
    (root / "build").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / ".gitignore").write_text("build/\na\\\n")  # `a\` ends in a lone escape: git matches nothing with it
    (root / "index.md").write_text("<https://a.test/kept>\n")
    (root / "build" / "out.md").write_text("<https://a.test/built>\n")
    (root / ".hidden" / "notes.md").write_text("<https://a.test/hidden>\n")

    def dumped(*flags: str, cwd: Path | None = None) -> list[str]:
        proc = run_pcheck("check", str(root), "--dump", *flags, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        return sorted(proc.stdout.split())

    assert dumped() == ["https://a.test/kept"]
    assert dumped("--no-ignore") == ["https://a.test/built", "https://a.test/kept"]
    assert dumped("--hidden") == ["https://a.test/hidden", "https://a.test/kept"]
    (tmp_path / "pcheck.toml").write_text("no_ignore = true\nhidden = true\n")
    assert dumped(cwd=tmp_path) == ["https://a.test/built", "https://a.test/hidden", "https://a.test/kept"]
    proc = run_pcheck("check", str(root), "--dump")
    assert f"{root / '.gitignore'}:2:" in proc.stderr  # the bad line is named, and skipped


# -- fragments of local links (--include-fragments) ---------------------------------------------------

SLUGS = [
    ("Install", "install"),
    ("Über uns!", "über-uns"),
    ("Hello, World! 2024 — 日本語 foo_bar", "hello-world-2024--日本語-foo_bar"),
    ("`code` and *emphasis*", "code-and-emphasis"),
    ("  Trailing spaces  ", "trailing-spaces"),
    ("C++ & Rust: a/b", "c--rust-ab"),
]


@pytest.mark.parametrize("heading, slug", SLUGS)
def test_heading_anchors_are_github_slugs(heading, slug):
    assert anchors(f"# {heading}\n", "markdown") == {slug}
    assert github_slug(heading.replace("`", "").replace("*", "")) == slug


def test_anchors_of_a_markdown_file_count_duplicates_and_inline_html():
    text = ("# Install\n\n## Install\n\n## Install\n\n<a name=\"legacy\"></a>\n\n<h2 id=\"custom\">x</h2>\n\n"
            "Setext heading\n==============\n")
    assert anchors(text, "markdown") == {"install", "install-1", "install-2", "legacy", "custom", "setext-heading"}
    assert anchors('<p id="a">x</p><a name="b"></a><div id="">', "html") == {"a", "b"}


def test_include_fragments_checks_fragments_of_local_links_and_of_this_document(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\n\n## Über uns\n\n## Setup\n\n## Setup\n")
    (docs / "page.html").write_text('<h1 id="top">T</h1>\n')
    doc = docs / "index.md"
    doc.write_text("# Index\n\n## Usage\n\n"
                   "[a](guide.md#%C3%BCber-uns) [b](guide.md#setup-1) [c](guide.md#nope) [d](page.html#top)\n"
                   "[e](#usage) [f](#missing) [g](guide.md#:~:text=Setup) [h](page.html#gone)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--include-fragments", *FAST)
    assert proc.returncode == 1, proc.stderr
    got = {r["link"] or r["url"]: (r["outcome"], r["error"]) for r in records(proc)}
    alive, missing = ("alive", None), ("broken", "missing_fragment")
    assert got == {"guide.md#%C3%BCber-uns": alive, "guide.md#setup-1": alive, "guide.md#nope": missing,
                   "page.html#top": alive, "#usage": alive, "#missing": missing,
                   "guide.md#:~:text=Setup": alive, "page.html#gone": missing}
    # Without the flag the files are checked, their fragments are not, and #links say how to check them.
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    outcomes = {r["link"] or r["url"]: (r["outcome"], r["detail"]) for r in records(proc)}
    assert outcomes["guide.md#nope"][0] == "alive"
    assert outcomes["#missing"] == ("excluded", "a link to a place in this document; --include-fragments checks it")


def test_a_heading_s_attribute_list_id_is_an_anchor_as_mkdocs_and_pandoc_make_it():
    text = "## Codeschnipsel { #code-snippets }\n\n## A {: #b .wide }\n\n# T {#x}\n\n## Not {an id} here\n"
    found = anchors(text, "markdown")
    assert {"code-snippets", "b", "x", "not-an-id-here"} <= found
    assert "an" not in found and "codeschnipsel" not in found  # only what a renderer would make


def test_a_fragment_of_a_folder_link_is_looked_up_in_its_index_page(tmp_path):
    (tmp_path / "tutorial").mkdir()
    (tmp_path / "tutorial" / "index.md").write_text("# Tutorial\n\n## Install FastAPI { #install-fastapi }\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "README.md").write_text("# API\n\n## Client\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    doc = tmp_path / "index.md"
    doc.write_text("[a](tutorial/#install-fastapi) [b](tutorial/#nope) [c](api#client) [d](empty/#x) [e](code.py#L1)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--include-fragments", *FAST)
    got = {r["link"]: (r["outcome"], r["error"], r["detail"]) for r in records(proc)}
    assert got["tutorial/#install-fastapi"][:2] == ("alive", None)
    assert got["tutorial/#nope"][:2] == ("broken", "missing_fragment") and "index.md" in got["tutorial/#nope"][2]
    assert got["api#client"][:2] == ("alive", None)
    # Where a fragment cannot be judged, the record says so: never a silent "alive".
    assert got["empty/#x"][0] == "alive" and "#x not checked: no index.md or README.md or index.html" in got["empty/#x"][2]
    assert got["code.py#L1"][0] == "alive" and "#L1 not checked: not a Markdown or HTML file" in got["code.py#L1"][2]


def test_an_empty_link_is_reported_as_one_never_dropped():
    text = "a [x]() b ![i]() [ok](https://a.test/ok)\n\n<a href=\"\">e</a> <form action=\"\"></form> <img src>\n"
    assert links(text, "markdown") == [("", 1), ("", 1), ("https://a.test/ok", 1), ("", 3), ("", 3)]
    item = link_item("", "doc.md", 1, None, LinkBase())
    assert item.outcome is Outcome.EXCLUDED and item.detail == "an empty link: it points at this page itself"


# -- what a careless user or a failing disk does to documents ------------------------------------------

def test_dump_never_writes_its_list_over_an_input(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("<https://a.test/x>\n")
    proc = run_pcheck("check", str(doc), "--dump", "-o", str(doc))
    assert proc.returncode == 2 and "is also an input" in proc.stderr
    assert doc.read_text() == "<https://a.test/x>\n"


def test_a_local_link_into_a_symlink_loop_is_broken_not_a_crash(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    doc = tmp_path / "doc.md"
    doc.write_text("[loop](a/x.md)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    [record] = records(proc)
    assert (record["outcome"], record["error"]) == ("broken", "missing_file"), record


def test_a_disk_that_will_not_answer_leaves_a_local_link_unchecked_never_broken(tmp_path, monkeypatch):
    import errno
    import os

    doc = tmp_path / "doc.md"
    doc.write_text("[x](guide.md) [y](gone.md)\n")
    real_stat = os.stat

    def failing(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("guide.md"):
            raise OSError(errno.EIO, "Input/output error")
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", failing)
    results = {r.link: r for r in iter_document(str(doc), "markdown")}
    assert (results["guide.md"].outcome, results["guide.md"].error) == (Outcome.UNCHECKED, None)
    assert "Input/output error" in results["guide.md"].detail
    assert (results["gone.md"].outcome, results["gone.md"].error.value) == (Outcome.BROKEN, "missing_file")


@pytest.mark.timeout(20)
def test_a_fragment_into_a_fifo_is_not_read_and_does_not_hang(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.md")
    doc = tmp_path / "doc.md"
    doc.write_text("[p](pipe.md#top)\n")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", "--include-fragments", *FAST, timeout=15)
    [record] = records(proc)
    assert record["outcome"] == "unchecked" and "not a regular file" in record["detail"], record


def test_a_file_whose_anchors_cannot_be_read_leaves_the_fragment_unchecked(tmp_path, monkeypatch):
    import builtins
    import errno

    from pcheck.inputs.links import LinkBase

    (tmp_path / "guide.md").write_text("# Setup\n")
    doc = tmp_path / "doc.md"
    doc.write_text("[s](guide.md#setup)\n")
    real_open = builtins.open

    def failing(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("guide.md"):
            raise OSError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing)
    [result] = list(iter_document(str(doc), "markdown", base=LinkBase(fragments=True)))
    assert result.outcome is Outcome.UNCHECKED and "Permission denied" in result.detail  # not "no #setup"
