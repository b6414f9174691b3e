"""Issue 26's acceptance, end to end: a pull request's checkout with a broken link in a file committed since
the base, one in an untracked file named with a comma and a colon, and one in a file unchanged since the
base. GitHub annotations, a SARIF log and --changed-since must agree on what they say and where."""

from __future__ import annotations

import json

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.gitrepo import changed_repo
from support.review import commands, sarif_validator

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def checkout(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    return changed_repo(tmp_path / "repo", lab.url("status/404"), lab.url("ok"))


def test_github_format_gives_exactly_the_three_errors_escaped_with_file_line_and_col(checkout):
    proc = run_pcheck("check", ".", "--format", "github", *FAST, cwd=checkout)
    assert proc.returncode == 1, proc.stderr
    errors = [(props["file"], props["line"], props["col"]) for name, props, _ in commands(proc.stdout)
              if name == "error"]
    assert sorted(errors) == [("a,b:c.md", "1", "13"), ("committed.md", "4", "7"), ("unchanged.md", "3", "7")]
    assert "file=a%2Cb%3Ac.md," in proc.stdout  # as the toolkit escapes a property


def test_sarif_validates_with_three_error_results_at_relative_places_with_fingerprints(checkout):
    proc = run_pcheck("check", ".", "--format", "sarif", *FAST, cwd=checkout)
    log = json.loads(proc.stdout)
    assert not list(sarif_validator().iter_errors(log))
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error"] * 3
    places = sorted((r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                     r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results)
    assert places == [("a%2Cb%3Ac.md", 1), ("committed.md", 4), ("unchanged.md", 3)]
    assert len({fp for r in results for fp in r["partialFingerprints"].values()}) == 3


def test_changed_since_the_base_checks_only_the_two_changed_files(lab, checkout):
    proc = run_pcheck("check", ".", "--changed-since", "base", "--format", "github", *FAST, cwd=checkout)
    assert proc.returncode == 1, proc.stderr
    files = sorted(props["file"] for name, props, _ in commands(proc.stdout) if name == "error")
    assert files == ["a,b:c.md", "committed.md"]
    assert not any("unchanged" in r.target for r in lab.log)  # never requested
