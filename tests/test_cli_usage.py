"""How the command is used, with the habits users bring from other tools: lychee's --accept ranges,
`pcheck FILE` without a command, help that names what each value is, -o "$GITHUB_STEP_SUMMARY"
appending, a demo that names no vanished path."""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_pcheck, write_list
from pcheck._version import __version__
from pcheck.config import Config, parse_accept
from pcheck.errors import ConfigError
from support.fast import FAST

pytestmark = pytest.mark.timeout(90)


# -- --accept: pcheck's forms and lychee's ranges ---------------------------------------------------


@pytest.mark.parametrize("spec, ranges", [
    ("403", ((403, 403),)),
    ("200-299", ((200, 299),)),
    ("200-299,403", ((200, 299), (403, 403))),
    (" 200 - 299 , 403 ,", ((200, 299), (403, 403))),
    ("200..=299", ((200, 299),)),
    ("400..404", ((400, 403),)),
    ("400..401", ((400, 400),)),
    ("..=299", ((100, 299),)),
    ("..300", ((100, 299),)),
    ("200..", ((200, 999),)),
    ("..", ((100, 999),)),
    ("100..=999", ((100, 999),)),
    ("200..=299,429,500..", ((200, 299), (429, 429), (500, 999))),
])
def test_accept_reads_pcheck_and_lychee_forms(spec, ranges):
    assert parse_accept(spec) == ranges


def test_a_lychee_range_400_to_404_excludes_404():
    accept = parse_accept("400..404")
    config = Config(processes=1, accept=accept)
    assert [s for s in range(398, 407) if config.accepts(s)] == [400, 401, 402, 403]


@pytest.mark.parametrize("spec, named", [
    ("abc", "'abc'"),
    ("200-299,abc", "'abc'"),
    ("200...300", "'200...300'"),
    ("200-", "'200-'"),
    ("4O4", "'4O4'"),
    ("-1", "'-1'"),
    ("99", "99 is not an HTTP status"),
    ("1000", "1000 is not an HTTP status"),
    ("..=99", "99 is not an HTTP status"),
    ("200..=1000", "1000 is not an HTTP status"),
    ("300-200", "'300-200' runs backwards"),
    ("200..=100", "'200..=100' runs backwards"),
    ("200..100", "'200..100' runs backwards"),
    ("400..400", "'400..400' holds no status"),
    ("..100", "'..100' holds no status"),
    ("200..=", "'200..=' has no end"),
    ("..=", "'..=' has no end"),
    ("", "at least one status"),
    (" , ", "at least one status"),
])
def test_a_malformed_accept_part_is_a_config_error_naming_it(spec, named):
    with pytest.raises(ConfigError) as caught:
        parse_accept(spec)
    assert named in str(caught.value) and "--accept" in str(caught.value)


statuses = st.integers(100, 999)


@given(statuses, statuses)
def test_an_inclusive_lychee_range_is_the_dash_range(a, b):
    lo, hi = min(a, b), max(a, b)
    assert parse_accept(f"{lo}..={hi}") == parse_accept(f"{lo}-{hi}") == ((lo, hi),)


@given(statuses, statuses)
def test_an_exclusive_lychee_range_leaves_its_end_out(a, b):
    lo, end = min(a, b), max(a, b)
    if lo == end:
        with pytest.raises(ConfigError):
            parse_accept(f"{lo}..{end}")
        return
    config = Config(processes=1, accept=parse_accept(f"{lo}..{end}"))
    assert config.accepts(lo) and config.accepts(end - 1) and not config.accepts(end)
    assert not config.accepts(lo - 1)


@given(statuses)
def test_open_lychee_ranges_run_to_100_or_999(n):
    assert parse_accept(f"..={n}") == ((100, n),)
    assert parse_accept(f"{n}..") == ((n, 999),)


parts = st.one_of(
    statuses.map(str),
    st.tuples(statuses, statuses).map(lambda t: f"{min(t)}-{max(t)}"),
    st.tuples(statuses, statuses).map(lambda t: f"{min(t)}..={max(t)}"),
    st.tuples(statuses, statuses).filter(lambda t: t[0] != t[1]).map(lambda t: f"{min(t)}..{max(t)}"),
    statuses.map(lambda n: f"..={n}"),
    statuses.map(lambda n: f"{n}.."),
)


@given(st.lists(parts, min_size=1, max_size=6), st.sampled_from([",", ", ", " ,"]))
def test_a_list_of_parts_reads_as_each_part_in_order(items, comma):
    joined = parse_accept(comma.join(items))
    assert joined == tuple(r for item in items for r in parse_accept(item))
    assert all(100 <= lo <= hi <= 999 for lo, hi in joined)


@given(st.text(alphabet="0123456789.=-, x", max_size=20))
def test_any_accept_text_is_valid_ranges_or_a_config_error(spec):
    try:
        ranges = parse_accept(spec)
    except ConfigError as exc:
        assert str(exc).startswith("--accept")
    else:
        assert ranges and all(100 <= lo <= hi <= 999 for lo, hi in ranges)


def test_accept_400_to_404_on_the_command_line_keeps_404_broken(lab):
    urls = [lab.url("status/403"), lab.url("status/404")]
    proc = run_pcheck("check", *urls, "--accept", "200..=299,400..404", "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    outcomes = {json.loads(line)["url"]: json.loads(line)["outcome"] for line in proc.stdout.splitlines()}
    assert outcomes == {urls[0]: "alive", urls[1]: "broken"}


def test_a_malformed_accept_on_the_command_line_exits_2_naming_the_part():
    proc = run_pcheck("check", "http://127.0.0.1:1/", "--accept", "200..=299,4o4", "--no-progress")
    assert proc.returncode == 2
    assert "'4o4'" in proc.stderr and proc.stdout == ""


# -- no command: `check` ----------------------------------------------------------------------------


def test_a_file_without_a_command_is_checked(lab, tmp_path):
    path = write_list(tmp_path / "urls.txt", [lab.url("ok"), lab.url("status/404")])
    proc = run_pcheck(str(path), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert sorted(json.loads(line)["outcome"] for line in proc.stdout.splitlines()) == ["alive", "broken"]  # completion order


def test_an_option_first_without_a_command_is_checked(lab):
    proc = run_pcheck("--format", "jsonl", lab.url("ok"), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "alive"


def test_a_file_named_like_a_command_is_checked_with_the_command_spelled_out(lab, tmp_path):
    write_list(tmp_path / "check", [lab.url("ok")])
    for args in (["check", "check"], ["./check"]):
        proc = run_pcheck(*args, "--format", "jsonl", *FAST, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert json.loads(proc.stdout)["source"] in ("check", "./check")


def test_pcheck_alone_still_prints_help():
    proc = run_pcheck()
    assert "Usage: pcheck [OPTIONS] COMMAND [ARGS]..." in proc.stdout + proc.stderr
    assert "no INPUT" not in proc.stderr


def test_a_command_first_is_left_alone(lab):
    proc = run_pcheck("watch", lab.url("ok"), "--rounds", "1", "--every", "1s", "-p", "1")
    assert proc.returncode == 0, proc.stderr


# -- help ---------------------------------------------------------------------------------------------


def test_help_lists_every_command_with_its_whole_one_line_help():
    from pcheck.cli.app import app

    proc = run_pcheck("--help")
    assert proc.returncode == 0
    lines = [line.strip() for line in proc.stdout.splitlines()]
    for command in app.registered_commands:
        assert command.short_help and not command.short_help.endswith("...")
        assert any(re.fullmatch(rf"{command.name}\s+{re.escape(command.short_help)}", line) for line in lines), \
            (command.name, proc.stdout)
    assert "..." not in proc.stdout.split("Commands:")[1]


@pytest.mark.parametrize("command, shown", [
    ("check", ["[INPUT]...", "-p, --processes N", "-t, --threads N", "--timeout SECONDS", "--retries N",
               "--accept CODES", "-o, --output FILE", "--include REGEX", "--exclude REGEX", "--header HEADER",
               "--max-cache-age DURATION", "--config FILE", "--format FORMAT"]),
    ("watch", ["[INPUT]...", "--every DURATION", "--rounds N", "--timeout SECONDS", "--format FORMAT"]),
    ("demo", ["-p, --processes N", "--format FORMAT"]),
])
def test_a_commands_help_names_what_each_value_is(command, shown):
    proc = run_pcheck(command, "--help")
    assert proc.returncode == 0
    assert "<list[str]>" not in proc.stdout and "TEXT" not in proc.stdout and "INTEGER" not in proc.stdout
    for text in shown:
        assert text in proc.stdout, (text, proc.stdout)
    assert "An INPUT is" in proc.stdout or command == "demo"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_dash_v_and_version_print_the_version(flag):
    proc = run_pcheck(flag)
    assert proc.returncode == 0
    assert proc.stdout == f"pcheck {__version__}\n"


# -- -o "$GITHUB_STEP_SUMMARY" appends -----------------------------------------------------------------


def test_output_to_the_step_summary_keeps_what_earlier_steps_wrote(lab, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("## Earlier step\n\nall good\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("status/404"), "--format", "markdown", "-o", str(summary), *FAST,
                      env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 1, proc.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Earlier step\n\nall good\n## pcheck")  # the old content, then the report
    assert lab.url("status/404") in text


def test_the_step_summary_is_recognised_by_another_spelling_and_its_report_starts_a_line(lab, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("no line end", encoding="utf-8")
    (tmp_path / "link.md").symlink_to(summary)
    proc = run_pcheck("check", lab.url("ok"), "--format", "markdown", "-o", "link.md", *FAST,
                      env={"GITHUB_STEP_SUMMARY": str(summary)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary.read_text(encoding="utf-8").startswith("no line end\n## pcheck")


def test_output_elsewhere_still_replaces_its_file(lab, tmp_path):
    summary, report = tmp_path / "summary.md", tmp_path / "report.md"
    summary.write_text("summary of earlier steps\n", encoding="utf-8")
    report.write_text("an old report\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), "--format", "markdown", "-o", str(report), *FAST,
                      env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    assert "an old report" not in report.read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8") == "summary of earlier steps\n"


def test_without_the_step_summary_variable_output_replaces_its_file(lab, tmp_path):
    report = tmp_path / "step_summary.md"
    report.write_text("## Earlier step\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), "--format", "markdown", "-o", str(report), *FAST,
                      env={"GITHUB_STEP_SUMMARY": ""})
    assert proc.returncode == 0, proc.stderr
    text = report.read_text(encoding="utf-8")
    assert "Earlier step" not in text and text.startswith("## pcheck")


# -- the demo names no vanished path -----------------------------------------------------------------


def test_the_demo_names_no_path_that_is_gone_after_it_ends():
    cwd = os.getcwd()
    proc = run_pcheck("demo", "--format", "jsonl", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert os.getcwd() == cwd
    sources = {json.loads(line)["source"] for line in proc.stdout.splitlines()}
    assert sources == {"<demo-urls>"}
    shown = proc.stdout + proc.stderr
    assert "pcheck-demo-" not in shown and tempfile.gettempdir() + os.sep not in shown
    # every absolute path shown (not a URL's path) exists
    for path in re.findall(r"(?<![\w:/.\]])/[\w.\-]+(?:/[\w.\-]+)*", shown):
        assert os.path.exists(path), path
