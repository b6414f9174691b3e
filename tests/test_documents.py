"""Documents as inputs (issues 6, 14): which files are read, every link ending in one record, --dump.

What is extracted from a document is in test_link_extraction.py, local links in test_local_links.py.
Everything that checks a URL talks to the loopback lab only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_pcheck, write_list
from support.fast import FAST
from support.runs import jsonl as records
from pcheck.run.session import targets
from pcheck.config import Config
from pcheck.inputs.documents import extract
from pcheck.errors import InputError
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.sources import iter_document, open_sources, parse_url, Source
from pcheck.models import CheckResult, Outcome, Target

pytestmark = pytest.mark.timeout(60)

README = Path(__file__).parent.parent / "README.md"


def links(text: str, fmt: str) -> list[tuple[str, int]]:
    return [(link, line) for link, line, _ in extract(text, fmt)]


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
    assert proc.returncode == 1 and f"{doc}:4:82: broken: " in proc.stderr  # b.md is missing: a problem, on stderr
    missing = (tmp_path / "b.md").as_uri()  # a local link is listed too (issue 27), as its file:// URL
    assert proc.stdout.splitlines() == [ok, gone, missing]  # after --exclude; unchecked kinds are not links to check
    proc = run_pcheck("check", str(doc), "--dump", "--format", "jsonl", "--no-progress")
    assert proc.returncode == 1, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {"url": ok, "source": str(doc), "line": 3, "column": 3}, {"url": gone, "source": str(doc), "line": 4, "column": 10},
        {"url": missing, "source": str(doc), "line": 4, "column": 82, "link": "b.md"},
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


def test_records_carry_line_and_column_from_lists_and_documents(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", ["# list", "   " + lab.url("ok?col=1"), "\t" + lab.url("ok?col=2")])
    doc = tmp_path / "a.md"
    doc.write_text(f"# A\n\nsee [x]({lab.url('ok?col=3')})\n")
    proc = run_pcheck("check", str(listing), str(doc), lab.url("ok?col=4"), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    got = sorted((r["url"].rpartition("=")[2], r["line"], r["column"]) for r in records(proc))
    assert got == [("1", 2, 4), ("2", 3, 2), ("3", 3, 9), ("4", None, None)]
