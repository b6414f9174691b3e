"""No line pcheck writes to stdout can be read as a GitHub Actions workflow command (`::error::...`):
run in a step, a file named `::warning::x.md` or an input line `::error::x` must not raise one."""

from __future__ import annotations

import pytest
from conftest import run_pcheck
from support.fast import FAST_ANY_PROCESSES as FAST

FORMATS = ["text", "jsonl", "json", "csv", "markdown", "junit"]


def _commands(stdout: str) -> list[str]:
    """The lines a runner would take for workflow commands (it trims leading blanks)."""
    return [line for line in stdout.splitlines() if line.lstrip(" \t").startswith("::")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_document_named_like_a_workflow_command_raises_none(lab, tmp_path, monkeypatch, fmt):
    (tmp_path / "::warning::x.md").write_text(f"[gone]({lab.url('status/404')})\n[here](::error::y.md)\n")
    monkeypatch.chdir(tmp_path)
    named = "::warning::x.md"  # named as the input, not found by a walk (which would say ./::warning::x.md)
    proc = run_pcheck(named, "--format", fmt, "-v", *FAST) if fmt == "text" else run_pcheck(named, "--format", fmt, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "warning::x.md" in proc.stdout and _commands(proc.stdout) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_url_list_lines_shaped_like_workflow_commands_raise_none(lab, tmp_path, fmt):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"::error::pwned\n  ::add-mask::x\n{lab.url('ok')}\n")
    proc = run_pcheck(str(listing), "--format", fmt, *FAST)
    assert proc.returncode == 1, proc.stderr  # two invalid lines
    assert "pwned" in proc.stdout and _commands(proc.stdout) == []


def test_the_text_report_names_such_a_file_by_a_path_that_still_opens_it(lab, tmp_path, monkeypatch):
    (tmp_path / "::warning::x.md").write_text(f"[gone]({lab.url('status/404')})\n")
    monkeypatch.chdir(tmp_path)
    proc = run_pcheck("::warning::x.md", *FAST)
    assert "  ./::warning::x.md:1:" in proc.stdout
