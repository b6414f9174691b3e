"""Ignore files and --exclude-path (issue 27, item 2).

`.pcheckignore` (one regular expression a line, `#` comments) in the working directory and at the top of
the repository the inputs live in excludes the URLs it matches, as --exclude does, each record naming the
file and line; `.lycheeignore` is read where there is no `.pcheckignore`. `--exclude-path` leaves input
files and folders out of walks and globs; a file named on the command line is read all the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_pcheck
from support.fast import FAST


def repository(root: Path) -> Path:
    """A folder that is a repository's top as pcheck finds it (the nearest folder holding `.git`)."""
    (root / ".git").mkdir(parents=True)
    return root


def by_url(proc) -> dict[str, tuple[str, str | None]]:
    return {r["url"]: (r["outcome"], r["detail"]) for r in map(json.loads, proc.stdout.splitlines())}


def test_links_ignored_every_way_are_excluded_and_never_requested_and_a_404_beside_them_is_broken(lab, tmp_path):
    repo = repository(tmp_path / "repo")
    (repo / ".pcheckignore").write_text("# staging is down on Sundays\n\nstatus/404\\?listed\n", encoding="utf-8")
    (repo / "docs").mkdir()
    doc = repo / "docs" / "a.md"
    url = {k: lab.url(f"status/404?{k}") for k in ("next", "line", "block", "listed", "gone")}
    doc.write_text(f"<!-- pcheck-disable-next-line -->\n[a]({url['next']})\n\n"
                   f"[b]({url['line']}) <!-- markdown-link-check-disable-line -->\n\n"
                   f"<!-- markdown-link-check-disable -->\n[c]({url['block']})\n<!-- markdown-link-check-enable -->\n\n"
                   f"[d]({url['listed']}) [gone]({url['gone']})\n", encoding="utf-8")
    proc = run_pcheck("check", str(doc), "--format", "jsonl", *FAST, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    got = by_url(proc)
    assert got == {url["next"]: ("excluded", "ignored by the comment on line 1"),
                   url["line"]: ("excluded", "ignored by the comment on line 4"),
                   url["block"]: ("excluded", "ignored by the comment on line 6"),
                   url["listed"]: ("excluded", f"matches {os.path.join('repo', '.pcheckignore')}:3"),
                   url["gone"]: ("broken", got[url["gone"]][1])}
    assert {r.target for r in lab.log} == {"/status/404?gone"}


def test_the_working_directory_ignore_file_applies_to_url_arguments(lab, tmp_path):
    (tmp_path / ".pcheckignore").write_text("\\?skip$\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok?skip"), lab.url("ok?keep"), "--format", "jsonl", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert by_url(proc) == {lab.url("ok?skip"): ("excluded", "matches .pcheckignore:1"),
                            lab.url("ok?keep"): ("alive", by_url(proc)[lab.url("ok?keep")][1])}
    assert {r.target for r in lab.log} == {"/ok?keep"}


def test_lycheeignore_is_read_only_where_there_is_no_pcheckignore(lab, tmp_path):
    (tmp_path / ".lycheeignore").write_text("# lychee's\n\\?lychee$\n", encoding="utf-8")
    args = (lab.url("ok?lychee"), lab.url("ok?pcheck"), "--format", "jsonl", *FAST)
    assert by_url(run_pcheck("check", *args, cwd=tmp_path))[lab.url("ok?lychee")] == ("excluded", "matches .lycheeignore:2")
    (tmp_path / ".pcheckignore").write_text("\\?pcheck$\n", encoding="utf-8")
    got = by_url(run_pcheck("check", *args, cwd=tmp_path))
    assert got[lab.url("ok?pcheck")] == ("excluded", "matches .pcheckignore:1") and got[lab.url("ok?lychee")][0] == "alive"


def test_the_repository_file_and_the_working_directory_file_both_apply(lab, tmp_path):
    repo = repository(tmp_path / "repo")
    (repo / ".pcheckignore").write_text("\\?repo$\n", encoding="utf-8")
    (tmp_path / ".pcheckignore").write_text("\\?here$\n", encoding="utf-8")
    doc = repo / "a.md"
    doc.write_text(f"{lab.url('ok?repo')} {lab.url('ok?here')} {lab.url('ok?both')}\n", encoding="utf-8")
    got = by_url(run_pcheck("check", str(doc), "--format", "jsonl", *FAST, cwd=tmp_path))
    assert [got[lab.url(f"ok?{k}")][0] for k in ("repo", "here", "both")] == ["excluded", "excluded", "alive"]


def test_a_bad_pattern_is_a_usage_error_naming_file_and_line(lab, tmp_path):
    (tmp_path / ".pcheckignore").write_text("# fine\nok\n(unclosed\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), *FAST, cwd=tmp_path)
    assert proc.returncode == 2 and ".pcheckignore:3" in proc.stderr and "(unclosed" in proc.stderr, proc.stderr
    assert list(lab.log) == []


def test_an_ignore_file_that_is_not_a_regular_file_is_not_read_and_does_not_hang(lab, tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / ".pcheckignore")
    proc = run_pcheck("check", lab.url("ok"), *FAST, cwd=tmp_path, timeout=20)
    assert proc.returncode == 0 and "not a regular file" in proc.stderr, proc.stderr


def test_an_oversized_ignore_file_is_refused(tmp_path, monkeypatch):
    import pcheck.inputs.ignorefiles as ignorefiles

    monkeypatch.setattr(ignorefiles, "MAX_IGNORE_FILE_BYTES", 10)
    (tmp_path / ".pcheckignore").write_text("x" * 20 + "\n", encoding="utf-8")
    proc = run_pcheck("check", "https://a.test/", "--dump", cwd=tmp_path)
    assert proc.returncode == 2 and ".pcheckignore" in proc.stderr, proc.stderr


def docs_tree(root: Path, lab) -> Path:
    (root / "docs" / "archive").mkdir(parents=True)
    (root / "docs" / "a.md").write_text(f"[a]({lab.url('ok?a')})\n", encoding="utf-8")
    (root / "docs" / "archive" / "old.md").write_text(f"[old]({lab.url('ok?old')})\n", encoding="utf-8")
    (root / "docs" / "draft.md").write_text(f"[draft]({lab.url('ok?draft')})\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("given", ["docs", "docs/**/*.md"])
def test_exclude_path_leaves_files_and_folders_out_of_walks_and_globs(lab, tmp_path, given):
    docs_tree(tmp_path, lab)
    proc = run_pcheck("check", given, "--exclude-path", "archive/", "--exclude-path", r"draft\.md$", "--dump",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [lab.url("ok?a")]


def test_a_file_named_on_the_command_line_is_read_though_exclude_path_matches_it(lab, tmp_path):
    docs_tree(tmp_path, lab)
    proc = run_pcheck("check", "docs/archive/old.md", "--exclude-path", "archive", "--dump", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.splitlines() == [lab.url("ok?old")], proc.stderr
    assert "named on the command line" in proc.stderr


def test_exclude_path_is_a_config_file_key_and_a_bad_one_is_a_usage_error(lab, tmp_path):
    docs_tree(tmp_path, lab)
    (tmp_path / "pcheck.toml").write_text('exclude_path = ["archive", "draft"]\n', encoding="utf-8")
    proc = run_pcheck("check", "docs", "--dump", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.splitlines() == [lab.url("ok?a")], proc.stderr
    proc = run_pcheck("check", "docs", "--dump", "--exclude-path", "(bad", cwd=tmp_path)
    assert proc.returncode == 2 and "--exclude-path" in proc.stderr and "(bad" in proc.stderr, proc.stderr


def test_o_naming_the_pcheckignore_read_is_refused_and_the_file_kept(tmp_path, monkeypatch):
    from conftest import run_pcheck

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pcheckignore").write_text("^https://ignored\\.example/\n")
    proc = run_pcheck("http://127.0.0.1:1/", "--no-progress", "-o", ".pcheckignore")
    assert proc.returncode == 2 and "is also an input" in proc.stderr, proc.stderr
    assert (tmp_path / ".pcheckignore").read_text() == "^https://ignored\\.example/\n"
