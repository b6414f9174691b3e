"""Inline ignore comments in Markdown and HTML (issue 27, item 1): pcheck's and markdown-link-check's spellings.

Every link a comment ignores is one `excluded` record naming the comment's line, and is never requested
(a local link is not even looked up); a comment in code is text, not a directive.
"""

from __future__ import annotations

import json

from conftest import run_pcheck
from support.fast import FAST

from pcheck.inputs.sources import iter_document
from pcheck.models import CheckResult, Target


def records(doc, fmt="markdown"):
    """(link, line, outcome or "target", detail) for each item a document gives."""
    got = []
    for item in iter_document(str(doc), fmt):
        if isinstance(item, Target):
            got.append((item.url, item.line, "target", None))
        else:
            assert isinstance(item, CheckResult)
            got.append((item.link or item.url, item.line, item.outcome.value, item.detail))
    return got


def ignored(line):
    return f"ignored by the comment on line {line}"


def test_each_markdown_comment_ignores_what_it_says_and_no_more(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(
        "# Doc\n"                                                          # 1
        "\n"                                                               # 2
        "<!-- pcheck-disable-next-line -->\n"                              # 3
        "[a](https://a.test/a)\n"                                          # 4
        "[b](https://a.test/b) <!-- pcheck-disable-line -->\n"             # 5
        "[c](https://a.test/c)\n"                                          # 6
        "\n"                                                               # 7
        "<!-- markdown-link-check-disable -->\n"                           # 8
        "[d](https://a.test/d) and [local](missing.md)\n"                  # 9
        "<!-- markdown-link-check-enable -->\n"                            # 10
        "[e](https://a.test/e)\n"                                          # 11
        "<!--markdown-link-check-disable-next-line-->\n"                   # 12
        "<https://a.test/f>\n"                                             # 13
        "x <!--  markdown-link-check-disable-line  --> https://a.test/g\n"  # 14
        "<!-- pcheck-disable -->\n"                                        # 15
        "[h](https://a.test/h)\n"                                          # 16
        "\n"                                                               # 17
        "[i](https://a.test/i) (never enabled again: to the end)\n",       # 18
        encoding="utf-8")
    assert records(doc) == [
        ("https://a.test/a", 4, "excluded", ignored(3)),
        ("https://a.test/b", 5, "excluded", ignored(5)),
        ("https://a.test/c", 6, "target", None),
        ("https://a.test/d", 9, "excluded", ignored(8)),
        ("missing.md", 9, "excluded", ignored(8)),  # not looked up on disk: no `broken` record
        ("https://a.test/e", 11, "target", None),
        ("https://a.test/f", 13, "excluded", ignored(12)),
        ("https://a.test/g", 14, "excluded", ignored(14)),
        ("https://a.test/h", 16, "excluded", ignored(15)),
        ("https://a.test/i", 18, "excluded", ignored(15)),
    ]


def test_comments_in_code_are_text_not_directives(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(
        "Write `<!-- pcheck-disable-next-line -->` above a line:\n"  # 1: a code span
        "[a](https://a.test/a)\n"                                    # 2
        "\n"
        "```html\n"                                                  # 4
        "<!-- pcheck-disable -->\n"                                  # 5: fenced code
        "```\n"
        "\n"
        "    <!-- markdown-link-check-disable -->\n"                 # 8: indented code
        "\n"
        "[b](https://a.test/b)\n"                                    # 10
        "<!-- pcheck-disable-next-line -->\n"                        # 11: a comment, after the code
        "[c](https://a.test/c)\n",                                   # 12
        encoding="utf-8")
    assert records(doc) == [("https://a.test/a", 2, "target", None), ("https://a.test/b", 10, "target", None),
                            ("https://a.test/c", 12, "excluded", ignored(11))]


def test_other_comments_and_near_misses_ignore_nothing(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("<!-- pcheck-disabled -->\n\n[a](https://a.test/a) <!-- a pcheck-disable-line note -->\n"
                   "[b](https://a.test/b) <!-- PCHECK-DISABLE-LINE -->\n"
                   "[c](https://a.test/c) <!-- pcheck-disable-line -->\n", encoding="utf-8")
    assert [r[2] for r in records(doc)] == ["target", "target", "excluded"]


def test_a_comment_may_give_its_reason_after_the_directive(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("[a](https://a.test/a) <!-- pcheck-disable-line flaky mirror, see #12 -->\n", encoding="utf-8")
    assert records(doc) == [("https://a.test/a", 1, "excluded", ignored(1))]


def test_a_disabled_block_on_one_line_covers_the_links_between_its_comments(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("[a](https://a.test/a) <!-- pcheck-disable --> [b](https://a.test/b) <!-- pcheck-enable -->"
                   " [c](https://a.test/c)\n", encoding="utf-8")
    assert [r[2] for r in records(doc)] == ["target", "excluded", "target"]


def test_html_documents_and_html_in_markdown_take_the_same_comments(tmp_path):
    page = tmp_path / "a.html"
    page.write_text(
        "<html><body>\n"                                                     # 1
        "<!-- pcheck-disable-next-line -->\n"                                # 2
        '<a href="https://a.test/a">a</a>\n'                                 # 3
        '<img src="https://a.test/b"> <!-- markdown-link-check-disable-line -->\n'  # 4
        "<!-- markdown-link-check-disable -->\n"                             # 5
        '<a href="https://a.test/c">c</a>\n'                                 # 6
        "<!-- pcheck-enable -->\n"                                           # 7
        '<a href="https://a.test/d">d</a>\n'                                 # 8
        "</body></html>\n", encoding="utf-8")
    assert records(page, "html") == [
        ("https://a.test/a", 3, "excluded", ignored(2)), ("https://a.test/b", 4, "excluded", ignored(4)),
        ("https://a.test/c", 6, "excluded", ignored(5)), ("https://a.test/d", 8, "target", None)]
    doc = tmp_path / "b.md"
    doc.write_text('<div>\n<!-- pcheck-disable-next-line -->\n<a href="https://a.test/x">x</a>\n'
                   '<a href="https://a.test/y">y</a>\n</div>\n', encoding="utf-8")
    assert records(doc) == [("https://a.test/x", 3, "excluded", ignored(2)), ("https://a.test/y", 4, "target", None)]


def test_ignored_links_are_excluded_records_and_never_requested(lab, tmp_path):
    gone = lab.url("status/404?gone")
    doc = tmp_path / "a.md"
    doc.write_text(f"<!-- pcheck-disable-next-line -->\n[a]({lab.url('status/404?a')})\n\n"
                   f"[b]({lab.url('status/404?b')}) <!-- markdown-link-check-disable-line -->\n\n"
                   f"[gone]({gone})\n", encoding="utf-8")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    got = {r["url"]: (r["outcome"], r["detail"]) for r in map(json.loads, proc.stdout.splitlines())}
    assert got == {lab.url("status/404?a"): ("excluded", ignored(1)),
                   lab.url("status/404?b"): ("excluded", ignored(4)),
                   gone: ("broken", got[gone][1])}
    assert lab.log and {r.target for r in lab.log} == {"/status/404?gone"}
