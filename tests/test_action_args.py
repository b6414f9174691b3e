"""The GitHub Action's `args` are read by pcheck's own parser: an option that would move the report, or
check nothing, is refused however it is spelled (short-option clusters, `=`), before pcheck runs.

These used to get past a word-by-word match in action/run.sh: the report went elsewhere, the job
summary stayed empty, and the step passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from pcheck.cli.argcheck import given_options

pytestmark = pytest.mark.timeout(60)
SCRIPT = ROOT / "action" / "run.sh"


def step(tmp_path: Path, args: str, lab) -> tuple[subprocess.CompletedProcess, Path, Path]:
    repo, runner = tmp_path / "repo", tmp_path / "runner"
    repo.mkdir(exist_ok=True)
    (runner / "temp").mkdir(parents=True, exist_ok=True)
    (repo / "doc.md").write_text(f"[a]({lab.url('status/404')})\n", encoding="utf-8")
    summary, outputs = runner / "summary.md", runner / "output"
    summary.write_text("", encoding="utf-8")
    outputs.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "PRE_COMMIT", "GIT_", "PCHECK_"))}
    env.update({"PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
                "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(runner / "temp"), "PCHECK_PROCESSES": "1",
                "INPUT_ARGS": args, "PYTHONPATH": str(ROOT)})
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=repo, env=env, capture_output=True, text=True, timeout=50)
    return proc, summary, outputs


@pytest.mark.parametrize("args", ["doc.md -qo elsewhere.md", "doc.md -vo/tmp/elsewhere.md", "-qvo x.md doc.md",
                                  "doc.md --output=x.md", "doc.md -o=x.md", "doc.md -ox.md", "-qo x.md doc.md",
                                  "doc.md --format=json", "doc.md --dump", "doc.md -qh", "doc.md --help"])
def test_an_option_that_moves_the_report_or_checks_nothing_is_refused_however_spelled(tmp_path, lab, args):
    proc, summary, outputs = step(tmp_path, args, lab)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "::error title=pcheck action::" in proc.stdout
    assert outputs.read_text() == ""  # refused before pcheck ran
    assert not list((tmp_path / "repo").glob("*x.md")) and not list((tmp_path / "repo").glob("elsewhere*"))


@pytest.mark.parametrize("args", ["doc.md -q", "-- -o", "doc.md --timeout 3"])
def test_other_args_run_and_the_report_reaches_the_summary(tmp_path, lab, args):
    if args == "-- -o":  # after --, -o is an input (a file named -o)
        (tmp_path / "repo").mkdir()
        (tmp_path / "repo" / "-o").write_text(f"{lab.url('status/404')}\n", encoding="utf-8")
    proc, summary, _ = step(tmp_path, args, lab)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the 404 is found, and fails the step
    assert "404" in summary.read_text()


@pytest.mark.parametrize("args,names", [
    (["-qo", "F", "doc.md"], ["quiet", "output"]), (["-vo/p"], ["verbose", "output"]), (["-o=x"], ["output"]),
    (["--output=x"], ["output"]), (["doc.md", "--", "-o", "x"], []), (["-qh"], ["quiet", "help"]),
    (["--nonesuch", "-o", "x"], []), (["--timeout", "-o"], ["timeout"]),
])
def test_pcheck_reads_the_options_as_its_parser_does(args, names):
    assert given_options(args) == names
