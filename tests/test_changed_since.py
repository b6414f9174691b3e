"""`--changed-since REF`: only the documents that differ between REF and the working tree are checked
(added, modified, renamed; committed, staged or not; untracked but not ignored), among the inputs given.

Directories are walked as usual and what they hold is kept only if changed; a file named directly is
kept only if changed; URL arguments and stdin are not files of the repository and are kept. Outside a
git repository, or with a REF git does not know, the run is a usage error naming it (exit 2).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.gitrepo import changed_repo, git

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]


def _sources(stdout: str) -> set[str]:
    return {os.path.basename(r["source"]) for r in map(json.loads, stdout.splitlines()) if r["outcome"] == "broken"}


@pytest.fixture
def repo(tmp_path, lab):
    return changed_repo(tmp_path / "repo", lab.url("status/404"), lab.url("ok"))


def test_only_the_changed_documents_of_a_walked_directory_are_checked(repo):
    proc = run_pcheck("check", ".", "--changed-since", "base", "--format", "jsonl", *FAST, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert _sources(proc.stdout) == {"committed.md", "a,b:c.md"}
    everything = run_pcheck("check", ".", "--format", "jsonl", *FAST, cwd=repo)
    assert _sources(everything.stdout) == {"committed.md", "a,b:c.md", "unchanged.md"}


def test_staged_renamed_and_deleted_files(repo, lab):
    git(repo, "mv", "unchanged.md", "renamed.md")  # staged, not committed: renamed.md is new since base
    (repo / "committed.md").unlink()  # deleted: nothing to check
    proc = run_pcheck("check", ".", "--changed-since", "base", "--format", "jsonl", *FAST, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert _sources(proc.stdout) == {"renamed.md", "a,b:c.md"}


def test_a_file_named_directly_is_kept_only_if_changed_and_urls_are_kept(repo, lab):
    proc = run_pcheck("check", "unchanged.md", "committed.md", lab.url("status/410"), "--changed-since", "base",
                      "--format", "jsonl", *FAST, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {os.path.basename(r["source"]) for r in records if r["outcome"] == "broken"} == {"committed.md", "<args>"}
    assert not [r for r in records if "unchanged" in r["url"]]


def test_files_named_from_another_folder_are_compared_by_real_path(repo, tmp_path):
    os.symlink(repo, tmp_path / "link")
    proc = run_pcheck("check", str(tmp_path / "link"), "--changed-since", "base", "--format", "jsonl", *FAST,
                      cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert _sources(proc.stdout) == {"committed.md", "a,b:c.md"}


def test_nothing_changed_checks_nothing_and_passes(repo):
    proc = run_pcheck("check", "unchanged.md", "--changed-since", "base", *FAST, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--changed-since base" in proc.stderr


def test_an_unknown_ref_is_a_usage_error_naming_it(repo):
    proc = run_pcheck("check", ".", "--changed-since", "no-such-ref", *FAST, cwd=repo)
    assert proc.returncode == 2
    assert "no-such-ref" in proc.stderr and proc.stdout == ""
    proc = run_pcheck("check", ".", "--changed-since", "--output=x", *FAST, cwd=repo)
    assert proc.returncode == 2 and not (repo / "x").exists()


def test_outside_a_git_repository_is_a_usage_error_naming_it(tmp_path, lab):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "doc.md").write_text(f"[a]({lab.url('status/404')})\n", encoding="utf-8")
    proc = run_pcheck("check", str(folder), "--changed-since", "base", *FAST, cwd=tmp_path,
                      env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert proc.returncode == 2
    assert "not in a git repository" in proc.stderr and "doc.md" in proc.stderr


def test_git_missing_is_a_usage_error(repo):
    proc = run_pcheck("check", ".", "--changed-since", "base", *FAST, cwd=repo, env={"PATH": "/nonexistent"})
    assert proc.returncode == 2
    assert "git" in proc.stderr
