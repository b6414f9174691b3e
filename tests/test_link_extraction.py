"""Links in documents (issue 6): what is extracted from Markdown, HTML and plain text, with which line and
column, and what is not a link.

Extraction tables run in-process on strings (example.test hosts, never resolved).
"""

from __future__ import annotations

import pytest

from pcheck.inputs.documents import extract

pytestmark = pytest.mark.timeout(60)


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


# -- more of the same, found later ----------------------------------------------------------------------

def test_markdown_link_whose_url_prefixes_a_later_one_keeps_its_own_line():
    text = "[ref][r] first\nthen [longer](http://a.test/x/more)\n\n[r]: http://a.test/x\n"
    assert links(text, "markdown") == [("http://a.test/x", 1), ("http://a.test/x/more", 2)]


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


def test_a_link_column_is_never_inside_a_code_span_holding_the_same_url_on_its_line():
    text = "See `http://h/x` and ``http://h/x`` and [x](http://h/x), \\`http://h/x` too\n"
    columns = [column for _, _, column in extract(text, "markdown")]
    assert columns == [text.index("(http") + 2, text.index("\\`") + 3]
