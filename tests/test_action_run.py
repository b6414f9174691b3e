"""The Action's run step (action/run.sh) on a pull request, run locally with the variables GitHub sets
(GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_EVENT_PATH with a pull_request event,
GITHUB_BASE_REF) in a git repository with broken links: one check writes jsonl records, and the job
summary and the annotations are both rendered from them (`pcheck check --render-from`).

The annotations are `--format github`'s lines; while this pcheck has no such format, the step says so
in a notice and writes the summary alone, and the tests of the annotations themselves are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from support.gitrepo import changed_repo, git

from pcheck.config import FORMATS

pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]
SCRIPT = ROOT / "action" / "run.sh"
NO_GITHUB_FORMAT = "pcheck has no --format github yet (issue 26, item 1): the annotations cannot be rendered"


class PullRequest:
    """A runner's files and variables for a pull_request event whose base is the repository's tag `base`."""

    def __init__(self, tmp_path: Path, lab) -> None:
        self.repo = changed_repo(tmp_path / "workspace", lab.url("status/404"), lab.url("ok"))
        self.runner = tmp_path / "runner"
        (self.runner / "temp").mkdir(parents=True)
        self.summary = self.runner / "summary.md"
        self.summary.write_text("# Earlier step\n", encoding="utf-8")
        self.outputs = self.runner / "output"
        self.outputs.write_text("", encoding="utf-8")
        self.event = self.runner / "event.json"
        base = git(self.repo, "rev-parse", "base").strip()
        self.event.write_text(json.dumps({"pull_request": {"number": 7, "base": {"ref": "main", "sha": base}}}),
                              encoding="utf-8")

    def run(self, runner: dict[str, str] | None = None, **inputs: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "PRE_COMMIT", "GIT_", "PCHECK_"))}
        env.update({"PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                    "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.repo),
                    "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_OUTPUT": str(self.outputs),
                    "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(self.event),
                    "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature", "GITHUB_ACTION_PATH": str(ROOT),
                    "RUNNER_TEMP": str(self.runner / "temp"), "PCHECK_PROCESSES": "1", "PYTHONPATH": str(ROOT)})
        env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
        env.update(runner or {})
        return subprocess.run(["bash", str(SCRIPT)], cwd=self.repo, env=env, capture_output=True, text=True,
                              timeout=80)

    def output(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.outputs.read_text(encoding="utf-8").splitlines())


@pytest.fixture
def pr(tmp_path, lab):
    return PullRequest(tmp_path, lab)


def _annotations(stdout: str) -> list[str]:
    """The workflow commands a runner would act on: those outside the stop-commands span."""
    token = re.search(r"^::stop-commands::(\w+)$", stdout, re.M)
    acted = stdout if token is None else stdout.replace(stdout[token.start():stdout.index(f"::{token.group(1)}::")], "")
    return [line for line in acted.splitlines() if line.startswith(("::error ", "::warning "))
            and not line.startswith(("::error title=pcheck::", "::warning title=pcheck::"))]  # the step's own


def test_a_pull_request_checks_its_changed_files_once_and_renders_the_summary(pr, lab):
    proc = pr.run(ARGS="--retries 0 --recheck-after 0 .", CHANGED_ONLY="true", ANNOTATIONS="true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = pr.summary.read_text(encoding="utf-8")
    assert summary.startswith("# Earlier step\n\n## pcheck: 3 links, failed")  # committed.md: 2, a,b:c.md: 1
    assert "?committed" in summary and "?untracked" in summary and "?unchanged" not in summary
    output = pr.output()
    assert output["exit_code"] == "1"
    assert Path(output["report"]).read_text(encoding="utf-8") in summary
    records = [json.loads(line) for line in Path(output["records"]).read_text(encoding="utf-8").splitlines()]
    assert {r["url"].rsplit("?", 1)[-1] for r in records if r["outcome"] == "broken"} == {"committed", "untracked"}
    # One check: each broken link was asked for once (HEAD, then a GET to confirm), not once per rendering.
    assert len([r for r in lab.log if r.method == "GET" and r.target.endswith("?committed")]) == 1
    assert "--changed-since" in proc.stdout and "--render-from" in proc.stdout
    if "github" not in FORMATS:
        assert "::notice title=pcheck action::" in proc.stdout and _annotations(proc.stdout) == []


@pytest.mark.skipif("github" not in FORMATS, reason=NO_GITHUB_FORMAT)
def test_the_annotations_are_printed_as_workflow_commands(pr):
    proc = pr.run(ARGS="--retries 0 --recheck-after 0 .", CHANGED_ONLY="true")  # annotations: on by default
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in _annotations(proc.stdout) if line.startswith("::error file=")]
    assert len(errors) == 2, proc.stdout
    assert any("file=committed.md,line=4," in line for line in errors)
    assert any("file=a%2Cb%3Ac.md,line=1," in line for line in errors)


@pytest.mark.skipif("github" not in FORMATS, reason=NO_GITHUB_FORMAT)
def test_the_summary_says_when_github_shows_only_some_annotations(pr, lab):
    (pr.repo / "many.md").write_text("".join(f"[x]({lab.url('status/404')}?n={n})\n" for n in range(12)),
                                     encoding="utf-8")
    proc = pr.run(ARGS="--retries 0 --recheck-after 0 many.md")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(_annotations(proc.stdout)) == 12
    assert "at most 10 error and 10 warning annotations per step: this step made 12 errors" in pr.summary.read_text(
        encoding="utf-8")


def test_annotations_off_renders_no_annotations_and_everything_is_checked_without_changed_only(pr):
    proc = pr.run(ARGS="--retries 0 --recheck-after 0 .", ANNOTATIONS="false")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = pr.summary.read_text(encoding="utf-8")
    assert "?unchanged" in summary and "?committed" in summary
    assert "--format github" not in proc.stdout and "::notice" not in proc.stdout


def test_changed_only_outside_a_pull_request_checks_everything_and_says_so(pr):
    push = {"GITHUB_EVENT_NAME": "push", "GITHUB_BASE_REF": ""}
    pr.event.write_text(json.dumps({"ref": "refs/heads/main"}), encoding="utf-8")
    proc = pr.run(push, ARGS="--retries 0 --recheck-after 0 .", CHANGED_ONLY="true", ANNOTATIONS="false")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "::warning title=pcheck action::" in proc.stdout and "not a pull request" in proc.stdout
    assert "?unchanged" in pr.summary.read_text(encoding="utf-8")


def test_bad_inputs_and_a_base_git_does_not_know_are_usage_errors(pr):
    proc = pr.run(ARGS=".", CHANGED_ONLY="maybe")
    assert proc.returncode == 2 and "'changed-only' must be true or false" in proc.stdout
    proc = pr.run(ARGS=".", ANNOTATIONS="yes")
    assert proc.returncode == 2 and "'annotations' must be true or false" in proc.stdout
    proc = pr.run(ARGS=". --changed-since HEAD", CHANGED_ONLY="true")
    assert proc.returncode == 2 and "changed-only" in proc.stdout
    pr.event.write_text(json.dumps({"pull_request": {"base": {"ref": "gone", "sha": "1" * 40}}}), encoding="utf-8")
    proc = pr.run(ARGS=".", CHANGED_ONLY="true", ANNOTATIONS="false")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "1111111111" in proc.stderr and "exit code 2" in pr.summary.read_text(encoding="utf-8")
