"""`--files-from FILE` (`-` for stdin): the inputs are read from FILE, one path a line, added to those the
command line names; blank lines and `#` comments are skipped; a path that does not exist is a usage
error naming FILE and its line (exit 2)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run_pcheck
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


def _broken(stdout: str) -> set[str]:
    return {os.path.basename(r["source"]) for r in map(json.loads, stdout.splitlines()) if r["outcome"] == "broken"}


@pytest.fixture
def docs(tmp_path, lab):
    for name in ("one.md", "two.md", "a,b:c.md", "left out.md"):
        (tmp_path / name).write_text(f"[x]({lab.url('status/404')}?{name})\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "three.md").write_text(f"[x]({lab.url('status/404')}?three)\n", encoding="utf-8")
    return tmp_path


def test_the_inputs_are_read_from_the_file_and_added_to_the_command_lines(docs):
    (docs / "list.txt").write_text("# changed files\n\none.md\r\n  a,b:c.md  \nsub\n", encoding="utf-8")
    proc = run_pcheck("check", "two.md", "--files-from", "list.txt", "--format", "jsonl", *FAST, cwd=docs)
    assert proc.returncode == 1, proc.stderr
    assert _broken(proc.stdout) == {"two.md", "one.md", "a,b:c.md", "three.md"}


def test_the_list_from_stdin(docs):
    proc = run_pcheck("check", "--files-from", "-", "--format", "jsonl", *FAST, cwd=docs, stdin="one.md\nleft out.md\n")
    assert proc.returncode == 1, proc.stderr
    assert _broken(proc.stdout) == {"one.md", "left out.md"}


def test_a_missing_path_names_the_file_and_its_line(docs):
    (docs / "list.txt").write_text("one.md\n# fine\nnope.md\n", encoding="utf-8")
    proc = run_pcheck("check", "--files-from", "list.txt", *FAST, cwd=docs)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "list.txt:3" in proc.stderr and "nope.md" in proc.stderr


def test_a_missing_list_is_a_usage_error(docs):
    proc = run_pcheck("check", "--files-from", "absent.txt", *FAST, cwd=docs)
    assert proc.returncode == 2 and "absent.txt" in proc.stderr


def test_an_empty_list_checks_nothing(docs):
    (docs / "list.txt").write_text("# nothing changed\n\n", encoding="utf-8")
    proc = run_pcheck("check", "--files-from", "list.txt", *FAST, cwd=docs)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stdin_cannot_be_both_the_list_and_an_input(docs):
    proc = run_pcheck("check", "-", "--files-from", "-", *FAST, cwd=docs, stdin="one.md\n")
    assert proc.returncode == 2 and "stdin" in proc.stderr
