"""pcheck.toml / [tool.pcheck] (issue 6): discovery, precedence, per-host tables, errors; shell completion.

Every run uses cwd=tmp_path (or below it) so this repository's own
pyproject.toml, which has no [tool.pcheck], never takes part.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import run_pcheck, write_list
from pcheck.cli.configfile import find_config
from support.fast import FAST_ANY_PROCESSES

pytestmark = pytest.mark.timeout(60)


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def is_jsonl(proc) -> bool:
    try:
        return bool(jsonl(proc)) and all(isinstance(r, dict) for r in jsonl(proc))
    except ValueError:
        return False


# -- discovery -------------------------------------------------------------------------------------------

def test_find_config_walks_up_from_a_subdirectory(tmp_path):
    (tmp_path / "pcheck.toml").write_text('format = "jsonl"\n')
    deep = tmp_path / "docs" / "guide" / "deeper"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / "pcheck.toml"
    assert find_config(tmp_path / "docs") == tmp_path / "pcheck.toml"


def test_pcheck_toml_found_from_a_subdirectory_is_applied(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text('format = "jsonl"\n')
    deep = tmp_path / "docs" / "guide"
    deep.mkdir(parents=True)
    proc = run_pcheck("check", lab.url("ok"), "-p", "1", *FAST_ANY_PROCESSES, cwd=deep)
    assert proc.returncode == 0, proc.stderr
    assert is_jsonl(proc) and [r["outcome"] for r in jsonl(proc)] == ["alive"], proc.stdout


def test_no_config_file_means_defaults(lab, tmp_path):
    assert find_config(tmp_path) is None
    proc = run_pcheck("check", lab.url("ok"), "-p", "1", *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 0 and not is_jsonl(proc) and "alive" in proc.stdout


def test_tool_pcheck_in_pyproject_is_read(lab, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.pcheck]\nformat = "csv"\n')
    sub = tmp_path / "src"
    sub.mkdir()
    assert find_config(sub) == tmp_path / "pyproject.toml"
    proc = run_pcheck("check", lab.url("ok"), "-p", "1", *FAST_ANY_PROCESSES, cwd=sub)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r.get("url"), r.get("outcome")) for r in rows] == [(lab.url("ok"), "alive")], proc.stdout


def test_a_pyproject_without_tool_pcheck_does_not_stop_the_search(tmp_path):
    (tmp_path / "pcheck.toml").write_text('format = "jsonl"\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "pkg"\n\n[tool.other]\nx = 1\n')
    assert find_config(sub) == tmp_path / "pcheck.toml"
    (sub / "pyproject.toml").write_text('[tool.pcheck]\nformat = "csv"\n')
    assert find_config(sub) == sub / "pyproject.toml"  # the nearest one wins
    (sub / "pcheck.toml").write_text('format = "json"\n')
    assert find_config(sub) == sub / "pcheck.toml"  # pcheck.toml before pyproject.toml in one folder


def test_config_names_a_file_and_only_that_file_is_read(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text('format = "csv"\n')
    named = tmp_path / "ci" / "links.toml"
    named.parent.mkdir()
    named.write_text('format = "jsonl"\n')
    proc = run_pcheck("check", lab.url("ok"), "--config", str(named), "-p", "1", *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert is_jsonl(proc), proc.stdout
    pyproject = tmp_path / "ci" / "pyproject.toml"
    pyproject.write_text('[tool.pcheck]\nformat = "json"\n')
    proc = run_pcheck("check", lab.url("ok"), "--config", str(pyproject), "-p", "1", *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert json.loads(proc.stdout)["summary"]["alive"] == 1


def test_config_naming_a_missing_file_exits_2(lab, tmp_path):
    missing = run_pcheck("check", lab.url("ok"), "--config", str(tmp_path / "nope.toml"), *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr and missing.stdout == ""
    assert len(lab.log) == 0


@pytest.mark.parametrize("line, option", [("threads = 0", "threads"), ('format = "xml"', "format")])
def test_a_bad_value_in_the_file_names_the_file_and_the_key(lab, tmp_path, line, option):
    (tmp_path / "pcheck.toml").write_text(line + "\n")
    proc = run_pcheck("check", lab.url("ok"), *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(tmp_path / "pcheck.toml") in proc.stderr and option in proc.stderr
    assert len(lab.log) == 0


# -- precedence ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, check", [
    (["--format", "csv"], lambda out: out.startswith("url,outcome,")),
    (["--format", "text"], lambda out: out.startswith("pcheck: 1 link in ")),  # equal to the default: still wins
])
def test_a_command_line_format_wins_over_the_file(lab, tmp_path, flag, check):
    (tmp_path / "pcheck.toml").write_text('format = "jsonl"\n')
    proc = run_pcheck("check", lab.url("ok"), *flag, "-p", "1", *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert check(proc.stdout), proc.stdout


def concurrency_run(lab, tmp_path, config: str, *flags: str, per_host: int = 5) -> dict:
    """Peak requests in flight per host; `per_host` URLs each, more than any cap checked here (4)."""
    (tmp_path / "pcheck.toml").write_text(config)
    urls = [lab.url(f"delay/300?i={i}", host) for host in (0, 1) for i in range(per_host)]
    path = write_list(tmp_path / "urls.txt", urls)
    lab.reset_stats()
    proc = run_pcheck("check", str(path), "-p", "2", "-t", "16", "--format", "jsonl", *flags, *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(urls)
    return {address: stats.max_in_flight for address, stats in lab.snapshot().items()}


def test_a_max_per_host_flag_wins_over_the_file(lab, tmp_path):
    peaks = concurrency_run(lab, tmp_path, "max_per_host = 1\n", "--max-per-host", "3")
    assert 2 <= peaks["127.0.0.1"] <= 3 and 2 <= peaks["127.0.0.2"] <= 3, peaks


def test_max_per_host_from_the_file_is_honoured(lab, tmp_path):
    peaks = concurrency_run(lab, tmp_path, "max_per_host = 1\n")
    assert peaks["127.0.0.1"] == 1 and peaks["127.0.0.2"] == 1, peaks


def test_a_host_table_sets_max_per_host_for_that_host_only(lab, tmp_path):
    config = '[hosts."127.0.0.2"]\nmax_per_host = 1\n'
    peaks = concurrency_run(lab, tmp_path, config, "--max-per-host", "4")
    assert peaks["127.0.0.2"] == 1, peaks
    assert 2 <= peaks["127.0.0.1"] <= 4, peaks


def test_a_host_table_sets_accept_and_headers_for_that_host_only(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text(
        '[hosts."127.0.0.2"]\naccept = "200-299,404"\nheaders = { X-Token = "for-host-2" }\n')
    urls = [lab.url("status/404?h=1", 0), lab.url("status/404?h=2", 1), lab.url("status/500?h=2", 1)]
    proc = run_pcheck("check", *urls, "-p", "1", "--format", "jsonl", *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    outcomes = {r["url"]: (r["outcome"], r["status"]) for r in jsonl(proc)}
    assert outcomes == {urls[0]: ("broken", 404), urls[1]: ("alive", 404), urls[2]: ("broken", 500)}
    tokens = {(e.address, dict(e.headers).get("X-Token")) for e in lab.log}
    assert ("127.0.0.2", "for-host-2") in tokens
    assert not [t for a, t in tokens if a == "127.0.0.1" and t is not None]


# -- errors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, key", [
    ("pcheck.toml", "max_per_hots = 3\n", "max_per_hots"),
    ("pcheck.toml", "max-per-host = 3\n", "max-per-host"),
    ("pcheck.toml", '[hosts."127.0.0.2"]\nmax_connections = 1\n', "hosts.127.0.0.2.max_connections"),
    ("pyproject.toml", "[tool.pcheck]\nthreds = 4\n", "threds"),
])
def test_an_unknown_key_exits_2_naming_the_file_and_the_key(lab, tmp_path, name, text, key):
    (tmp_path / name).write_text(text)
    proc = run_pcheck("check", lab.url("ok"), *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert str(tmp_path / name) in proc.stderr and f"'{key}'" in proc.stderr, proc.stderr
    assert proc.stdout == "" and len(lab.log) == 0  # nothing was checked


@pytest.mark.parametrize("text, key", [
    ('threads = "many"\n', "threads"),
    ('exclude = "^https://x"\n', "exclude"),
    ("max_per_host = true\n", "max_per_host"),
    ("insecure = 1\n", "insecure"),
    ('timeout = "5s"\n', "timeout"),
    ('[hosts."127.0.0.2"]\nmax_per_host = "1"\n', "hosts.127.0.0.2.max_per_host"),
    ('[hosts."127.0.0.2"]\naccept = 404\n', "hosts.127.0.0.2.accept"),
    ("hosts = 3\n", "hosts"),
])
def test_a_wrong_type_exits_2_naming_the_file_and_the_key(lab, tmp_path, text, key):
    path = tmp_path / "pcheck.toml"
    path.write_text(text)
    proc = run_pcheck("check", lab.url("ok"), *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert str(path) in proc.stderr and f"'{key}'" in proc.stderr, proc.stderr
    assert len(lab.log) == 0


def test_a_file_that_is_not_toml_exits_2_naming_it(lab, tmp_path):
    path = tmp_path / "pcheck.toml"
    path.write_text("threads = \n")
    proc = run_pcheck("check", lab.url("ok"), *FAST_ANY_PROCESSES, cwd=tmp_path)
    assert proc.returncode == 2 and str(path) in proc.stderr and "TOML" in proc.stderr, proc.stderr


# -- shell completion ----------------------------------------------------------------------------------------

def test_help_offers_completion():
    proc = run_pcheck("--help")
    assert proc.returncode == 0
    assert "--install-completion" in proc.stdout and "--show-completion" in proc.stdout


#: typer's switch that makes `--show-completion SHELL` take the shell named instead of guessing it from
#: the parent processes (shellingham): the guess depends on what started pytest (a shell, CI, xdist).
NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def completion(env: dict, *args: str) -> subprocess.CompletedProcess:
    """The app under its installed name, as the `pcheck` script runs it; no shell file is touched."""
    code = "import sys; from pcheck.cli.app import app; sys.argv[0] = 'pcheck'; app(prog_name='pcheck')"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **env})


def test_bash_completion_script_and_answers(tmp_path):
    script = completion(NAMED_SHELL, "--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "complete -o default -F _pcheck_completion pcheck" in script.stdout
    assert "_PCHECK_COMPLETE=complete_bash" in script.stdout
    commands = completion({"_PCHECK_COMPLETE": "complete_bash", "COMP_WORDS": "pcheck ch", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["check"]
    options = completion({"_PCHECK_COMPLETE": "complete_bash", "COMP_WORDS": "pcheck check --host", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["--host-interval", "--host-stats"]


def test_show_completion_via_python_m_names_pcheck():
    proc = run_pcheck("--show-completion", "bash", subprocess=True, env=NAMED_SHELL)  # the name `python -m` gives
    assert proc.returncode == 0
    assert "complete -o default -F _pcheck_completion pcheck" in proc.stdout
