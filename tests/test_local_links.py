"""Local links in documents (issue 14): relative and root-relative links checked on disk, --base-url, the
fragments of local files (--include-fragments), and what a careless user or a failing disk does to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl as records

from pcheck.inputs.documents import extract
from pcheck.inputs.headings import anchors, github_slug
from pcheck.inputs.links import LinkBase, link_item
from pcheck.inputs.sources import iter_document
from pcheck.models import Outcome

pytestmark = pytest.mark.timeout(60)


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
    assert [(link, line) for link, line, _ in extract(text, "markdown")] == [
        ("", 1), ("", 1), ("https://a.test/ok", 1), ("", 3), ("", 3)]
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
