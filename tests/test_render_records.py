"""One run, many renderings: `pcheck check --render-from REPORT.jsonl --format FORMAT` writes the report of
an earlier run's jsonl records in any format, checking nothing (the Action renders its job summary and
its annotations from one run's records). The exit code is the one the run had."""

from __future__ import annotations

import re

import pytest
from conftest import run_pcheck
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def doc(tmp_path, lab):
    (tmp_path / "guide.md").write_text("# Guide\n", encoding="utf-8")
    (tmp_path / "doc.md").write_text(
        f"# Doc\n\n[ok]({lab.url('ok')}) [gone]({lab.url('status/404')}) [wall]({lab.url('status/403')})\n"
        "[guide](guide.md) [missing](missing.md) [mail](mailto:x@example.org)\n", encoding="utf-8")
    return tmp_path


def _without_times(text: str) -> str:
    return re.sub(r" in \d+\.\d\d s| \\?\(\d+/s\\?\)", "", text)


def test_jsonl_rendered_as_jsonl_gives_the_records_back(doc):
    run = run_pcheck("check", "doc.md", "--format", "jsonl", "-o", "run.jsonl", *FAST, cwd=doc)
    assert run.returncode == 1, run.stderr
    again = run_pcheck("check", "--render-from", "run.jsonl", "--format", "jsonl", cwd=doc)
    assert again.returncode == 1, again.stderr
    assert again.stdout == (doc / "run.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["markdown", "text", "csv", "junit"])
def test_a_rendering_is_the_report_the_run_would_have_written(doc, fmt):
    run_pcheck("check", "doc.md", "--format", "jsonl", "-o", "run.jsonl", *FAST, cwd=doc)
    live = run_pcheck("check", "doc.md", "--format", fmt, "--color", "never", *FAST, cwd=doc) if fmt == "text" \
        else run_pcheck("check", "doc.md", "--format", fmt, *FAST, cwd=doc)
    rendered = run_pcheck("check", "doc.md", "--render-from", "run.jsonl", "--format", fmt, "--color", "never",
                          cwd=doc) if fmt == "text" else \
        run_pcheck("check", "--render-from", "run.jsonl", "--format", fmt, cwd=doc)
    assert rendered.returncode == live.returncode == 1, rendered.stderr
    if fmt == "csv":  # the elapsed time of each check is the first run's
        assert rendered.stdout.splitlines()[0] == live.stdout.splitlines()[0]
        assert len(rendered.stdout.splitlines()) == len(live.stdout.splitlines())
    elif fmt == "junit":
        assert rendered.stdout.count("<testcase") == live.stdout.count("<testcase")
        assert rendered.stdout.count("<failure") == live.stdout.count("<failure")
    else:
        assert _without_times(rendered.stdout) == _without_times(live.stdout)


def test_the_runs_duration_and_policy_are_given_again(doc, lab):
    (doc / "slow.md").write_text(f"[busy]({lab.url('status/503')})\n", encoding="utf-8")
    run_pcheck("check", "slow.md", "--format", "jsonl", "-o", "run.jsonl", *FAST, cwd=doc)
    rendered = run_pcheck("check", "--render-from", "run.jsonl", "--format", "markdown", "--render-elapsed", "12.5",
                          "--accept-transient", cwd=doc)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr  # forgiven: a transient failure
    assert " in 12.50 s" in rendered.stdout and "do not fail the run" in rendered.stdout


def test_a_file_that_is_not_a_jsonl_report_is_a_usage_error(doc):
    (doc / "bad.jsonl").write_text('{"url": "x"}\nnot json\n', encoding="utf-8")
    proc = run_pcheck("check", "--render-from", "bad.jsonl", "--format", "markdown", cwd=doc)
    assert proc.returncode == 2 and "bad.jsonl:1" in proc.stderr
    proc = run_pcheck("check", "--render-from", "absent.jsonl", cwd=doc)
    assert proc.returncode == 2 and "absent.jsonl" in proc.stderr
    proc = run_pcheck("check", "--render-from", "bad.jsonl", "-o", "bad.jsonl", cwd=doc)
    assert proc.returncode == 2 and (doc / "bad.jsonl").read_text().startswith('{"url"')
