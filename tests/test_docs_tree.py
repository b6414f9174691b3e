"""The docs tree (tests/docs_tree/): every form of link a documentation folder holds, and the one record each ends in.

`EVERY_LINK` below is the specification: one row per record of
`pcheck check TREE --include-fragments --root-dir TREE`, as
(file in the tree, line, column, link as written, outcome, error kind). "Link as written" is the
record's `link` (local links) or its `url` (everything else: http links, and the links pcheck does
not check, which keep the form they were written in). Lines and columns are those of the files in
tests/docs_tree/, as a reader sees them there.

The tree is copied to tmp_path with every `http://LAB` replaced by the running local site's base
(so http links go to 127.0.0.1 only), and `dot-gitignore` becomes `.gitignore` (stored under
another name so that git keeps the files it ignores). The other hosts named in the tree
(example.org, example.invalid) are links pcheck does not check, or kept off the network by the
run's `--exclude`: nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import run_pcheck
from pcheck.inputs.documents import extract
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)

TREE = Path(__file__).parent / "docs_tree"
LAB = "http://LAB"
#: Hosts other than the lab: the www form below is a URL to check, kept off the network here.
OFF_NETWORK = ["--exclude", r"example\.(org|invalid)"]

ALIVE, BROKEN, EXCLUDED = "alive", "broken", "excluded"
MISSING_FILE, MISSING_FRAGMENT = "missing_file", "missing_fragment"
#: The error kind of an excluded link pcheck does not check as written (another scheme, #here, //host): "skipped".
UNSUPPORTED = "unsupported"

# (file, line, column, link as written, outcome, error kind): every record of
# `pcheck check TREE --include-fragments --root-dir TREE`, once each.
EVERY_LINK = [
    # -- README.md -------------------------------------------------------------------------------
    # Inline link, image (its title is not part of it), autolink, and a page that is gone.
    ("README.md", 8, 18, "http://LAB/ok", ALIVE, None),
    ("README.md", 8, 55, "http://LAB/ok?img=1", ALIVE, None),
    ("README.md", 9, 14, "http://LAB/ok?auto=1", ALIVE, None),
    ("README.md", 9, 68, "http://LAB/status/404", BROKEN, None),
    # Bare URLs in prose, as GitHub renders them: trailing `.`, `)` and `,` left out ...
    ("README.md", 13, 5, "http://LAB/ok?bare=1", ALIVE, None),
    ("README.md", 13, 31, "http://LAB/ok?bare=2", ALIVE, None),
    ("README.md", 13, 57, "http://LAB/ok?bare=3", ALIVE, None),
    # ... parentheses that balance kept,
    ("README.md", 14, 32, "http://LAB/ok?wiki=Foo_(bar)", ALIVE, None),
    # ... `www.` given its scheme (a URL to check; --exclude keeps it off the network here),
    # and an e-mail address made a mailto: link, which pcheck does not check.
    ("README.md", 15, 14, "http://www.example.org/help", EXCLUDED, None),
    ("README.md", 15, 51, "mailto:docs@example.org", EXCLUDED, UNSUPPORTED),
    # Lines 19-26: URLs in a code span, fenced code and indented code: examples, not links. No record.
    # A reference link, at each place it is used (the column of its `[`), once per use. The
    # definition (line 32) has no record of its own, and the unused one (line 33) is not a link.
    ("README.md", 30, 6, "docs/guide.md", ALIVE, None),
    ("README.md", 30, 40, "docs/guide.md", ALIVE, None),
    # HTML inside Markdown: <a href> (and its fragment), <img src> and both srcset candidates.
    ("README.md", 37, 16, "docs/guide.md#install", ALIVE, None),
    ("README.md", 38, 11, "docs/img/logo.png", ALIVE, None),
    ("README.md", 38, 38, "docs/img/logo.png", ALIVE, None),
    ("README.md", 38, 60, "docs/img/logo@2x.png", ALIVE, None),
    # Local links, checked on disk: a folder, a file with a non-ASCII name (as written and
    # percent-encoded), a file that is not there, and a root-relative link (from --root-dir).
    ("README.md", 42, 18, "docs/api/", ALIVE, None),
    ("README.md", 42, 46, "docs/ünïcode.md", ALIVE, None),
    ("README.md", 42, 84, "docs/%C3%BCn%C3%AFcode.md", ALIVE, None),
    ("README.md", 43, 18, "docs/missing.md", BROKEN, MISSING_FILE),
    ("README.md", 43, 66, "/docs/guide.md", ALIVE, None),
    # Fragments: a heading of this page, one nowhere, a non-ASCII heading of another page,
    # the third of three `## Setup` headings (#setup-2), an id in an HTML file.
    ("README.md", 47, 11, "#links-to-the-local-site", ALIVE, None),
    ("README.md", 47, 48, "#nowhere", BROKEN, MISSING_FRAGMENT),
    ("README.md", 47, 80, "docs/ünïcode.md#über-größe", ALIVE, None),
    ("README.md", 48, 19, "docs/guide.md#setup-2", ALIVE, None),
    ("README.md", 48, 62, "docs/api/index.html#endpoints", ALIVE, None),
    # -- docs/guide.md ---------------------------------------------------------------------------
    ("docs/guide.md", 5, 22, "../README.md", ALIVE, None),
    ("docs/guide.md", 5, 55, "api/index.html", ALIVE, None),
    # Duplicate headings are #setup, #setup-1, #setup-2 (there is no fourth).
    ("docs/guide.md", 25, 15, "#setup", ALIVE, None),
    ("docs/guide.md", 25, 33, "#setup-1", ALIVE, None),
    ("docs/guide.md", 25, 52, "#setup-2", ALIVE, None),
    ("docs/guide.md", 25, 74, "#setup-3", BROKEN, MISSING_FRAGMENT),
    # An <a name=...>, a <span id=...>, and a text fragment (#:~:text=, not judged).
    ("docs/guide.md", 26, 11, "#legacy-setup", ALIVE, None),
    ("docs/guide.md", 26, 35, "#old-notes", ALIVE, None),
    ("docs/guide.md", 26, 66, "#:~:text=On%20macOS", ALIVE, None),
    # Fragments of other local files: Markdown heading slugs (written as is and percent-encoded), HTML id and name.
    ("docs/guide.md", 30, 9, "ünïcode.md#über-größe", ALIVE, None),
    ("docs/guide.md", 30, 43, "%C3%BCn%C3%AFcode.md#%C3%BCber-gr%C3%B6%C3%9Fe", ALIVE, None),
    ("docs/guide.md", 30, 102, "ünïcode.md#unter", BROKEN, MISSING_FRAGMENT),
    ("docs/guide.md", 31, 13, "api/index.html#endpoints", ALIVE, None),
    ("docs/guide.md", 31, 50, "api/index.html#v1", ALIVE, None),
    ("docs/guide.md", 31, 82, "api/index.html#v2", BROKEN, MISSING_FRAGMENT),
    # Fragments of an http page (its ids: intro, usage), looked up in the page fetched once.
    ("docs/guide.md", 35, 9, "http://LAB/page/intro,usage#usage", ALIVE, None),
    ("docs/guide.md", 35, 55, "http://LAB/page/intro,usage#nowhere", BROKEN, MISSING_FRAGMENT),
    ("docs/guide.md", 36, 19, "http://LAB/page/intro,usage#:~:text=x", ALIVE, None),
    # Links pcheck does not check: excluded, saying why.
    ("docs/guide.md", 40, 8, "mailto:docs@example.invalid", EXCLUDED, UNSUPPORTED),
    ("docs/guide.md", 40, 46, "tel:+1-555-0100", EXCLUDED, UNSUPPORTED),
    ("docs/guide.md", 40, 70, "ftp://ftp.example.invalid/pub/", EXCLUDED, UNSUPPORTED),
    ("docs/guide.md", 41, 10, "javascript:alert(1)", EXCLUDED, UNSUPPORTED),
    ("docs/guide.md", 41, 41, "data:image/gif;base64,R0lGODlhAQABAAAAACw=", EXCLUDED, UNSUPPORTED),
    ("docs/guide.md", 42, 13, "//cdn.example.invalid/lib.js", EXCLUDED, UNSUPPORTED),
    # -- docs/ünïcode.md -------------------------------------------------------------------------
    ("docs/ünïcode.md", 5, 49, "#über-größe", ALIVE, None),
    ("docs/ünïcode.md", 5, 81, "#%C3%BCber-gr%C3%B6%C3%9Fe", ALIVE, None),
    ("docs/ünïcode.md", 9, 12, "#日本語の見出し", ALIVE, None),
    ("docs/ünïcode.md", 9, 49, "guide.md#install", ALIVE, None),
    # -- docs/api/index.html ---------------------------------------------------------------------
    # <link rel="preconnect"> (line 6) names a host, not a page: no record. <link rel="stylesheet"> is a link.
    ("docs/api/index.html", 7, 30, "style.css", ALIVE, None),
    ("docs/api/index.html", 13, 17, "#endpoints", ALIVE, None),
    ("docs/api/index.html", 13, 53, "#v1", ALIVE, None),
    ("docs/api/index.html", 13, 78, "#v3", BROKEN, MISSING_FRAGMENT),
    ("docs/api/index.html", 14, 25, "../guide.md#setup-1", ALIVE, None),
    ("docs/api/index.html", 14, 79, "../../README.md", ALIVE, None),
    # Line 15: a URL in the text of an HTML page is not a link.
    ("docs/api/index.html", 16, 13, "http://LAB/page/intro,usage#intro", ALIVE, None),
    ("docs/api/index.html", 17, 11, "../img/logo.png", ALIVE, None),
]

#: Read only when asked: the hidden file with --hidden, the ignored ones with --no-ignore.
HIDDEN = [
    (".draft.md", 3, 49, "docs/guide.md#setup", ALIVE, None),
]
IGNORED = [
    ("scratch.md", 3, 53, "http://LAB/ok?scratch=1", ALIVE, None),  # ignored by name
    ("notes/todo.md", 3, 79, "../docs/later.md", BROKEN, MISSING_FILE),  # in an ignored folder
]


def without_root_dir(row: tuple) -> tuple:
    """Without --root-dir a root-relative link is excluded (the record says how to resolve it)."""
    file, line, column, link, outcome, error = row
    if link.startswith("/") and not link.startswith("//"):
        return file, line, column, link, EXCLUDED, UNSUPPORTED
    return row


def without_fragments(row: tuple) -> tuple:
    """Without --include-fragments a `#link` is excluded (the record says which flag checks it), and a
    link to a file or a page is judged on the file or page alone: its fragment is not looked up."""
    file, line, column, link, outcome, error = row
    if link.startswith("#"):
        return file, line, column, link, EXCLUDED, UNSUPPORTED
    if error == MISSING_FRAGMENT:
        return file, line, column, link, ALIVE, None
    return row


# -- running pcheck over a copy of the tree -----------------------------------------------------------

def copy_tree(lab, tmp_path: Path) -> tuple[Path, str]:
    """The docs tree under tmp_path, its http://LAB links pointing at `lab`; and the lab's base."""
    base = lab.url("").rstrip("/")
    root = tmp_path / "tree"
    for path in sorted(TREE.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(TREE)
        target = root / rel.with_name(".gitignore" if rel.name == "dot-gitignore" else rel.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes().replace(LAB.encode(), base.encode()))
    return root, base


def check(root: Path, base: str, *flags: str, code: int | None = 1) -> list[tuple]:
    """The records of `pcheck check ROOT FLAGS --format jsonl` as rows of the table."""
    proc = run_pcheck("check", str(root), "--format", "jsonl", *OFF_NETWORK, *FAST, *flags)
    if code is not None:
        assert proc.returncode == code, proc.stderr
    return [as_row(json.loads(line), root, base) for line in proc.stdout.splitlines()]


def as_row(record: dict, root: Path, base: str) -> tuple:
    """A record as a row: paths relative to the tree, http://LAB for the lab, columns as in tests/docs_tree/."""
    file = Path(record["source"]).relative_to(root).as_posix()
    line, column = record["line"], record["column"]
    if column is not None:  # the lab's base is longer than "http://LAB": count back what it added before the link
        before = (root / file).read_text(encoding="utf-8").split("\n")[line - 1][: column - 1]
        column -= before.count(base) * (len(base) - len(LAB))
    link = (record["link"] or record["url"]).replace(base, LAB)
    return file, line, column, link, record["outcome"], record["error"]


def assert_same_records(got: list[tuple], expected: list[tuple]) -> None:
    """The same rows, each as many times: a link dropped, doubled or judged otherwise is named."""
    missing = Counter(expected) - Counter(got)
    extra = Counter(got) - Counter(expected)
    assert not missing and not extra, (
        "expected but not reported:\n" + "\n".join(f"  {row}" for row in sorted(missing.elements(), key=repr))
        + "\nreported but not expected:\n" + "\n".join(f"  {row}" for row in sorted(extra.elements(), key=repr)))


# -- the specification --------------------------------------------------------------------------------

def test_every_link_in_the_docs_tree_ends_in_exactly_one_record(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    got = check(root, base, "--include-fragments", "--root-dir", str(root))
    assert_same_records(got, EVERY_LINK)


def test_the_summary_counts_every_record_by_outcome_and_broken_links_fail_the_run(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    proc = run_pcheck("check", str(root), "--format", "json", "--include-fragments", "--root-dir", str(root),
                      *OFF_NETWORK, *FAST)
    assert proc.returncode == 1, proc.stderr  # broken links: exit 1
    summary = json.loads(proc.stdout)["summary"]
    by_outcome = Counter(row[4] for row in EVERY_LINK)
    assert (len(EVERY_LINK), by_outcome[ALIVE], by_outcome[BROKEN], by_outcome[EXCLUDED]) == (62, 46, 8, 8)
    assert summary["total"] == len(EVERY_LINK)
    assert {k: summary[k] for k in ("alive", "broken", "blocked", "excluded", "invalid", "unchecked")} == {
        "alive": 46, "broken": 8, "blocked": 0, "excluded": 8, "invalid": 0, "unchecked": 0}


def test_an_http_page_is_fetched_once_with_get_whatever_the_number_of_its_fragments(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    check(root, base, "--include-fragments", "--root-dir", str(root))
    page = [(r.method, r.target) for r in lab.log if r.target.startswith("/page/intro,usage")]
    assert page == [("GET", "/page/intro,usage")]  # four links, four fragments, one fetch
    # Code, unused reference definitions and text in HTML are not links: never requested.
    assert not [r.target for r in lab.log if "/status/500" in r.target]
    assert {r.address for r in lab.log} == {"127.0.0.1"}


def test_every_excluded_record_says_why(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    proc = run_pcheck("check", str(root), "--format", "jsonl", *OFF_NETWORK, *FAST)  # no --root-dir, no fragments
    details = {as_row(r, root, base)[3]: r["detail"] for r in map(json.loads, proc.stdout.splitlines())
               if r["outcome"] == EXCLUDED}
    for scheme in ("mailto:", "tel:", "ftp:", "javascript:", "data:"):
        [detail] = [d for link, d in details.items() if link.startswith(scheme) and "example.org" not in link]
        assert scheme in detail and "http and https" in detail, detail
    assert "--base-url" in details["//cdn.example.invalid/lib.js"]
    assert "--root-dir" in details["/docs/guide.md"]
    assert "--include-fragments" in details["#nowhere"]
    assert "--exclude" in details["http://www.example.org/help"]
    assert all(details.values())


def test_without_root_dir_a_root_relative_link_is_excluded_and_the_rest_is_unchanged(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    got = check(root, base, "--include-fragments")
    assert_same_records(got, [without_root_dir(row) for row in EVERY_LINK])


def test_without_include_fragments_hash_links_are_excluded_and_files_and_pages_judged_whole(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    got = check(root, base, "--root-dir", str(root))
    assert_same_records(got, [without_fragments(row) for row in EVERY_LINK])


def test_dump_lists_the_links_to_check_local_ones_too_in_document_order_and_sends_no_request(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    proc = run_pcheck("check", str(root), "--dump", "--format", "jsonl", "--include-fragments", "--root-dir", str(root),
                      *OFF_NETWORK, "--no-progress")
    # the tree's broken local links and fragments are problems --dump lists on stderr, failing as a check would
    assert proc.returncode == 1 and "README.md:43:18: broken: " in proc.stderr, proc.stderr
    dumped = [(r["source"], r["line"], r["column"], r["url"]) for r in map(json.loads, proc.stdout.splitlines())]
    rows = [as_row({"link": None, **r, "outcome": None, "error": None}, root, base)[:4]
            for r in map(json.loads, proc.stdout.splitlines())]
    # the http(s) links, and the local ones checked on disk (a #place in the same document is not a link to list)
    expected = [row[:4] for row in EVERY_LINK if row[3].startswith(LAB)
                or (row[4] != EXCLUDED and not row[3].startswith("#") and not re.match(r"[a-z]+:", row[3]))]
    assert sorted(rows) == sorted(expected)
    by_file: dict[str, list] = {}
    for source, line, column, _ in dumped:
        by_file.setdefault(source, []).append((line, column))
    assert all(places == sorted(places) for places in by_file.values())  # each file's links in order
    assert list(lab.log) == []


def test_no_ignore_reads_what_gitignore_leaves_out_by_name_and_by_folder(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    got = check(root, base, "--include-fragments", "--root-dir", str(root), "--no-ignore")
    assert_same_records(got, EVERY_LINK + IGNORED)


def test_hidden_reads_hidden_files(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    got = check(root, base, "--include-fragments", "--root-dir", str(root), "--hidden")
    assert_same_records(got, EVERY_LINK + HIDDEN)


def test_hidden_and_ignored_files_named_on_the_command_line_are_read_and_a_clean_run_exits_0(lab, tmp_path):
    root, base = copy_tree(lab, tmp_path)
    named = [str(root / name) for name in (".draft.md", "scratch.md", "docs/ünïcode.md")]
    proc = run_pcheck("check", *named, "--format", "jsonl", "--include-fragments", *OFF_NETWORK, *FAST)
    assert proc.returncode == 0, proc.stderr
    got = [as_row(json.loads(line), root, base) for line in proc.stdout.splitlines()]
    expected = HIDDEN + IGNORED[:1] + [row for row in EVERY_LINK if row[0] == "docs/ünïcode.md"]
    assert_same_records(got, expected)


def test_the_fixture_is_a_docs_tree_not_a_test_module():
    assert not list(TREE.rglob("*.py"))
    # Stored as dot-gitignore, so that git keeps the files it names; the tests copy it to .gitignore
    # (the tree is always copied: checked in place, the repository's own ignore files would apply too).
    assert (TREE / "dot-gitignore").is_file() and not (TREE / ".gitignore").exists()


# -- GitHub autolinks bare `www.` and e-mail links whatever the top-level domain -------------------------

@pytest.mark.parametrize("written, link", [("www.web.dev/learn", "http://www.web.dev/learn"),
                                           ("team@example.dev", "mailto:team@example.dev")])
def test_bare_www_and_email_links_need_no_known_top_level_domain_as_on_github(written, link):
    assert [url for url, _, _ in extract(f"see {written} now\n", "markdown")] == [link]
