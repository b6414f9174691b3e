"""The CI integrations: the GitHub Action (action.yml and its script action/run.sh) and the pre-commit hook.

The action's run step is run with bash under a fake GitHub environment (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT,
RUNNER_TEMP in a temporary folder, the inputs as the INPUT_* variables action.yml passes), on documents whose
links point at the local site. The hook is run by the real `pre-commit try-repo` in a temporary git repository;
pre-commit builds a virtualenv and pip-installs pcheck into it, which needs the package registry.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "action" / "run.sh"


def _clean_environ() -> dict[str, str]:
    """os.environ without anything a real runner or pre-commit set (a test must not write a real job's summary)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "PRE_COMMIT", "GIT_", "PCHECK_"))}


# -- the action's run step -----------------------------------------------------------------------------

class Step:
    """action/run.sh run as the action's run step: a repository folder, fake runner files, the inputs as env."""

    def __init__(self, tmp_path: Path) -> None:
        self.repo = tmp_path / "repo"
        self.runner = tmp_path / "runner"
        self.repo.mkdir()
        (self.runner / "temp").mkdir(parents=True)
        self.summary = self.runner / "step_summary.md"
        self.summary.write_text("# Earlier step\n\n", encoding="utf-8")  # the step must append, not overwrite
        self.outputs_file = self.runner / "github_output"
        self.outputs_file.write_text("", encoding="utf-8")

    def run(self, **inputs: str) -> subprocess.CompletedProcess:
        env = _clean_environ()
        env.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),  # the venv's python3
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.outputs_file),
            "GITHUB_ACTION_PATH": str(ROOT),
            "RUNNER_TEMP": str(self.runner / "temp"),
            "PCHECK_PROCESSES": "2",
        })
        env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
        return subprocess.run(["bash", str(SCRIPT)], cwd=self.repo, env=env, capture_output=True, text=True,
                              timeout=60)

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.outputs_file.read_text(encoding="utf-8").splitlines())

    def summary_text(self) -> str:
        text = self.summary.read_text(encoding="utf-8")
        assert text.startswith("# Earlier step\n\n"), "the summary was overwritten, not appended to"
        return text


@pytest.fixture
def step(tmp_path):
    return Step(tmp_path)


@pytest.mark.timeout(60)
def test_action_all_alive(step, lab):
    (step.repo / "guide.md").write_text("# Guide\n", encoding="utf-8")
    (step.repo / "README.md").write_text(f"# Hi\n\n[site]({lab.url('/ok')}) and [guide](guide.md)\n",
                                         encoding="utf-8")
    proc = step.run(ARGS=".", FAIL="true", FORMAT="markdown", SUMMARY="true", OUTPUT="out/links.md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = step.summary_text()
    assert re.search(r"^## pcheck: 2 \w", summary, re.M)  # "2 URL(s)" or "2 links", as the header words it
    outputs = step.outputs()
    assert outputs["exit_code"] == "0"
    assert outputs["report"] == "out/links.md"
    assert (step.repo / "out" / "links.md").read_text(encoding="utf-8") in summary
    # The report is in the log too, with workflow commands turned off around everything pcheck printed.
    assert re.search(r"^## pcheck: 2 \w", proc.stdout, re.M)
    token = re.search(r"^::stop-commands::(\w+)$", proc.stdout, re.M)
    assert token and f"\n::{token.group(1)}::\n" in proc.stdout


@pytest.mark.timeout(60)
def test_action_fails_on_a_broken_link_when_asked(step, lab):
    (step.repo / "doc.md").write_text(f"[gone]({lab.url('/status/404')})\n", encoding="utf-8")
    proc = step.run(ARGS="--retries 0 doc.md", FAIL="true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert step.outputs()["exit_code"] == "1"
    assert "404" in step.summary_text()
    assert "::error title=pcheck::" in proc.stdout


@pytest.mark.timeout(60)
def test_action_reports_but_passes_with_fail_false(step, lab):
    (step.repo / "doc.md").write_text(f"[gone]({lab.url('/status/404')})\n", encoding="utf-8")
    proc = step.run(ARGS="--retries 0 doc.md", FAIL="false")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = step.outputs()
    assert outputs["exit_code"] == "1"
    summary = step.summary_text()
    assert "Broken (1)" in summary and lab.url("/status/404") in summary
    assert Path(outputs["report"]).read_text(encoding="utf-8") in summary  # a temporary file kept for later steps
    assert "::warning title=pcheck::" in proc.stdout


@pytest.mark.timeout(60)
def test_action_usage_error_fails_even_with_fail_false(step):
    proc = step.run(ARGS="missing.md", FAIL="false")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert step.outputs()["exit_code"] == "2"
    assert "**pcheck ended with exit code 2**" in step.summary_text()
    assert "missing.md" in proc.stderr  # pcheck's own one-line error, in the log


@pytest.mark.timeout(60)
def test_action_args_are_split_like_a_shell_but_never_run(step, lab):
    spaced = step.repo / "docs dir" / "page one.md"
    spaced.parent.mkdir()
    spaced.write_text(f"[a]({lab.url('/ok?i=1')})\n", encoding="utf-8")
    (step.repo / "$(touch pwned).md").write_text(f"[b]({lab.url('/ok?i=2')})\n", encoding="utf-8")
    # An `eval` of these would create ./pwned (and ./pwned2 through the backticks).
    proc = step.run(ARGS="""--retries 0 'docs dir/page one.md' "$(touch pwned).md" --header "X-Note: `touch pwned2`" """,
                    SUMMARY="true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^## pcheck: 2 \w", step.summary_text(), re.M)
    proc = step.run(ARGS="; touch pwned3 && touch pwned4 | $(touch pwned5)")
    assert proc.returncode == 2  # the words are inputs that do not exist: a usage error
    assert not [p.name for p in step.repo.iterdir() if p.name.startswith("pwned")]
    assert not list(step.runner.rglob("pwned*"))


@pytest.mark.timeout(60)
def test_action_refuses_format_and_output_in_args_and_fences_other_formats(step, lab):
    (step.repo / "doc.md").write_text(f"[a]({lab.url('/ok')})\n", encoding="utf-8")
    for args in ("--format json doc.md", "doc.md -o x.md", "doc.md --output=x.md"):
        proc = step.run(ARGS=args)
        assert proc.returncode == 2 and "::error title=pcheck action::" in proc.stdout, args
    assert not step.outputs()  # refused before pcheck ran
    proc = step.run(ARGS="doc.md", FORMAT="text", FAIL="maybe")
    assert proc.returncode == 2 and "'fail' must be true or false" in proc.stdout
    proc = step.run(ARGS="doc.md", FORMAT="text")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = step.summary_text()
    assert "```text\n" in summary and summary.rstrip().endswith("```")
    proc = step.run(ARGS="doc.md 'unclosed")
    assert proc.returncode == 2 and "cannot be split" in proc.stdout


# -- action.yml ------------------------------------------------------------------------------------------

def _action() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with the test extra: pip install '.[test]'")
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_action_yml_runs_the_script_with_inputs_only_through_env():
    action = _action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for s in steps:
        if "run" in s:
            assert "${{" not in s["run"], f"an expression inside a run: body is a script injection: {s['name']}"
            assert s["shell"] == "bash"
    (run_step,) = [s for s in steps if s.get("id") == "run"]
    assert run_step["run"] == 'bash "$GITHUB_ACTION_PATH/action/run.sh"'
    env = run_step["env"]
    read_by_script = set(re.findall(r"\bINPUT_[A-Z_]+", SCRIPT.read_text(encoding="utf-8")))
    assert read_by_script == {k for k in env if k.startswith("INPUT_")}
    used = " ".join(str(v) for s in steps for v in [*s.get("env", {}).values(), *s.get("with", {}).values(),
                                                      s.get("working-directory", "")])
    for name in action["inputs"]:
        assert f"inputs.{name} }}}}" in used, f"input {name} is not used"
    assert action["inputs"]["fail"]["default"] == "true"
    assert action["inputs"]["format"]["default"] == "markdown"
    assert action["outputs"]["exit_code"]["value"] == "${{ steps.run.outputs.exit_code }}"
    assert action["outputs"]["report"]["value"] == "${{ steps.run.outputs.report }}"


def test_action_yml_pins_setup_python_by_commit():
    (setup,) = [s for s in _action()["runs"]["steps"] if "actions/setup-python" in s.get("uses", "")]
    assert re.fullmatch(r"actions/setup-python@[0-9a-f]{40}", setup["uses"])
    line = next(x for x in (ROOT / "action.yml").read_text(encoding="utf-8").splitlines() if setup["uses"] in x)
    assert re.search(r"# v\d+\.\d+\.\d+$", line), "the pinned commit needs its version as a comment"
    assert setup["with"]["update-environment"] is False  # the job's own Python is left alone


# -- the pre-commit hook ---------------------------------------------------------------------------------

def test_pre_commit_manifest():
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit comes with the test extra")
    (hook,) = clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))  # pre-commit's own schema check
    assert hook["id"] == "pcheck" and hook["entry"] == "pcheck check" and hook["language"] == "python"
    assert set(hook["types_or"]) == {"markdown", "html"}
    assert hook["pass_filenames"] is True and hook["require_serial"] is True


#: pip failing to reach the package registry (the only reason to skip the try-repo test).
_NO_REGISTRY = re.compile(r"Failed to establish a new connection|Temporary failure in name resolution|"
                          r"Network is unreachable|NewConnectionError|ConnectTimeout|No matching distribution found")


def _git(*args: str, cwd: Path, env: dict) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=30)


@pytest.mark.timeout(240)
def test_pre_commit_hook_with_try_repo(tmp_path, lab):
    pytest.importorskip("pre_commit", reason="pre-commit comes with the test extra: pip install '.[test]'")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _clean_environ()
    env.update({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "PCHECK_PROCESSES": "2"})
    # The hook repository: this working tree as it is now (committed or not), in a git repository of its own.
    source = tmp_path / "pcheck-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "pcheck", source / "pcheck", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _git("init", "-q", cwd=source, env=env)
    _git("add", "-A", cwd=source, env=env)
    _git("commit", "-qm", "pcheck", cwd=source, env=env)
    # A user's repository with one live link from the local site and one broken relative link.
    user = tmp_path / "user"
    user.mkdir()
    _git("init", "-q", cwd=user, env=env)
    doc = user / "doc.md"
    doc.write_text(f"# Doc\n\n[site]({lab.url('/ok')}) and [guide](guide.md)\n", encoding="utf-8")
    _git("add", "doc.md", cwd=user, env=env)
    _git("commit", "-qm", "doc", cwd=user, env=env)

    def try_repo() -> subprocess.CompletedProcess:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(source), "pcheck", "--all-files",
                               "--color", "never"], cwd=user, env=env, capture_output=True, text=True, timeout=110)
        print(f"pre-commit try-repo: exit {proc.returncode} in {time.monotonic() - started:.1f} s")
        out = proc.stdout + proc.stderr
        no_registry = _NO_REGISTRY.search(out)
        if proc.returncode not in (0, 1) and no_registry:
            line = out[out.rfind("\n", 0, no_registry.start()) + 1:].split("\n", 1)[0].strip()
            pytest.skip(f"pre-commit could not pip-install pcheck, no network to the package registry? {line}")
        return proc

    proc = try_repo()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "- hook id: pcheck" in out, out
    assert "guide.md" in out and "Failed" in out
    # Fixed: the guide exists. The hook passes.
    (user / "guide.md").write_text("# Guide\n", encoding="utf-8")
    _git("add", "guide.md", cwd=user, env=env)
    _git("commit", "-qm", "guide", cwd=user, env=env)
    proc = try_repo()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Passed" in out, out
