"""Each option is declared once (pcheck/cli/options.py): the command line, pcheck.toml, Config and the
README's table all follow that one declaration (issue 31)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from pcheck.cli.configfile import HOST_HEADERS, load_config
from pcheck.cli.declare import (
    CHECK,
    DEMO,
    FIX,
    WATCH,
    config_values,
    declared,
    file_types,
    markdown_table,
    option,
    signature,
    with_table,
)
from pcheck.cli.options import FILE_TYPES, HOST_TYPES, Options
from pcheck.config import Config

README = Path(__file__).resolve().parents[1] / "README.md"


def _given(values: dict, explicit: set[str] = frozenset()) -> tuple[Options, frozenset[str]]:
    source = SimpleNamespace(get_parameter_source=lambda name: SimpleNamespace(
        name="COMMANDLINE" if name in explicit else "DEFAULT"))
    return Options.given(source, values)


def test_the_readme_options_table_is_the_one_the_declarations_make():
    readme = README.read_text(encoding="utf-8")
    assert with_table(readme, markdown_table(Options)) == readme, (
        "README.md's options table is stale: run `python -m pcheck.cli.options README.md`")


@pytest.mark.parametrize("command", [CHECK, WATCH, FIX, DEMO])
def test_every_option_declared_for_a_command_is_in_its_help_and_no_other(command, capsys):
    from typer.testing import CliRunner

    from pcheck.cli.app import app

    shown = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
    for d in declared(Options):
        long_flag = [f for f in d.spec.flags if f.startswith("--")][0]
        if d.spec.hidden:
            assert long_flag not in shown
        elif command in d.spec.commands:
            assert long_flag in shown, f"{long_flag} missing from `pcheck {command} --help`"
        elif long_flag != "--format":
            assert f"  {long_flag}" not in shown, f"{long_flag} is not an option of {command}"


def test_every_option_that_sets_config_names_a_config_field_and_converts_its_default():
    fields = {f.name for f in dataclasses.fields(Config)}
    values = config_values(Options(inputs=("urls.txt",)))
    assert set(values) <= fields
    # the defaults written on the options and on Config agree once converted
    config = Config(**values)
    assert {k: getattr(config, k) for k in values if k != "processes"} == {
        k: getattr(Config(), k) for k in values if k != "processes"}


def test_a_duration_may_be_a_number_of_seconds_in_the_file_at_the_top_level_as_in_a_host_table(tmp_path):
    path = tmp_path / "pcheck.toml"
    path.write_text('host_interval = 2\nrecheck_after = 0.5\n[hosts."a.example"]\nhost_interval = 3\n')
    settings = load_config(path, FILE_TYPES, HOST_TYPES)
    options, explicit = _given({"inputs": ["urls.txt"]})
    merged, used = options.under_file(explicit, settings.options, accepted={"host_interval", "recheck_after"})
    config = merged.to_config(settings.hosts)
    assert config.host_interval == 2.0 and config.recheck_after == 0.5
    assert config.host_interval_for("a.example") == 3.0
    assert sorted(used) == ["host_interval", "recheck_after"]


def test_the_file_and_host_tables_take_exactly_the_declared_keys():
    assert set(FILE_TYPES) == {d.name for d in declared(Options) if d.spec.in_file}
    assert set(HOST_TYPES) | set(HOST_HEADERS) == {d.name for d in declared(Options) if d.spec.per_host} | {"headers", "basic_auth"}
    assert "github_token" not in FILE_TYPES  # a token does not belong in a file kept next to the docs


def test_a_new_option_is_one_declaration(tmp_path):
    """What adding an option takes: a field. Its flag, help, file key, Config value and README row follow."""

    @dataclasses.dataclass(frozen=True)
    class WithOneMore(Options):
        keep_going: bool = option(False, "--keep-going", config="accept_transient", commands=frozenset({CHECK}),
                                  help="Transient failures do not fail the run (an alias, for this test).")

    params = signature(WithOneMore, CHECK, []).parameters
    assert "keep_going" in params and "keep_going" not in signature(WithOneMore, WATCH, []).parameters
    assert file_types(WithOneMore)["keep_going"] == (bool,)
    assert config_values(WithOneMore(inputs=("x",), keep_going=True))["accept_transient"] is True
    assert "| `--keep-going` | Transient failures do not fail the run" in markdown_table(WithOneMore)


def test_a_repeatable_option_is_a_list_on_the_command_line_and_a_tuple_in_options():
    params = signature(Options, CHECK, []).parameters
    assert "List" in str(params["exclude"].annotation) and params["exclude"].default == []
    options, _ = _given({"inputs": ["u"], "exclude": ["^a", "^b"]})
    assert options.exclude == ("^a", "^b")


def test_a_parameter_no_option_declares_is_a_programming_error():
    with pytest.raises(TypeError, match="no such option: tread"):
        _given({"tread": 3})


def test_the_commands_typer_sees_take_their_options_by_keyword_only():
    from pcheck.cli.check import check

    params = inspect.signature(check).parameters
    assert list(params)[:2] == ["ctx", "inputs"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "ctx")


def test_max_retry_after_ends_a_longer_wait_at_once_and_says_so(lab):
    """The option added this round with one declaration (--max-retry-after), end to end."""
    import json

    from conftest import run_pcheck

    url = lab.url("headers?code=429&Retry-After=5")
    proc = run_pcheck(url, "--format", "jsonl", "--no-progress", "--recheck-after", "0", "--max-retry-after", "1s")
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["outcome"] == "blocked" and record["detail"] == "Retry-After 5s is over the 1s cap"
    assert sum(s.requests for s in lab.stats.values()) == 1  # not waited for, not asked again


def test_max_retry_after_is_refused_beyond_an_hour():
    from conftest import run_pcheck

    proc = run_pcheck("http://127.0.0.1:1/", "--max-retry-after", "2h")
    assert proc.returncode == 2 and "--max-retry-after must be between 0 and 1h" in proc.stderr
