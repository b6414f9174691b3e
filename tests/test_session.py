"""A run's session and its parts (issue 17 gave them one home): the key and host computed once and carried,
the one mapping to exit codes, typed options under the config file, what a session refuses before it starts.

The host scheduler both distributors share is in test_host_scheduler.py."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest

from pcheck import check_urls
from pcheck.cli.exits import ExitCode, ending_code, exit_code_for
from pcheck.cli.options import Options
from pcheck.config import Config
from pcheck.errors import CacheError, ConfigError, InputError, ReportError, ResumeError
from pcheck.inputs.sources import Source
from pcheck.models import Outcome, Summary
from pcheck.run.session import Ending, Plan, Session
from pcheck.urls import normalise


def test_every_result_carries_the_key_and_host_its_url_was_read_with(lab):
    urls = [lab.url("ok").replace("http://", "HTTP://"), lab.url("status/404", 1), "not a url"]
    results = {r.url: r for r in check_urls(urls, processes=1, threads=2, timeout=5.0, retries=0)}
    assert results[urls[0]].key == lab.url("ok") and results[urls[0]].host == "127.0.0.1"
    assert results[urls[0]].outcome is Outcome.ALIVE
    assert (results[urls[1]].key, results[urls[1]].host) == normalise(urls[1])
    assert (results["not a url"].key, results["not a url"].host) == (None, None)
    assert "key" not in results[urls[0]].to_record()  # carried, never written


@pytest.mark.parametrize("error, code", [
    (ReportError("out.txt", OSError(errno.ENOSPC, "No space left on device")), ExitCode.WRITE_FAILED),
    (ReportError("<stdout>", OSError(errno.EPIPE, "Broken pipe")), ExitCode.BROKEN_PIPE),
    (ConfigError("--threads must be at least 1"), ExitCode.USAGE),
    (InputError("nope.txt: no such file"), ExitCode.USAGE),
    (CacheError("not a pcheck cache"), ExitCode.USAGE),
    (ResumeError("not jsonl"), ExitCode.USAGE),
])
def test_each_error_maps_to_one_exit_code(error, code):
    assert exit_code_for(error) is code


def test_an_ending_maps_signal_first_then_interrupt_then_failures():
    broken = Summary()
    broken.counts[Outcome.BROKEN] = 1
    blocked = Summary()
    blocked.counts[Outcome.BLOCKED] = 1
    assert ending_code(Ending(broken, interrupted=True, signal=15), False) is ExitCode.TERMINATED
    assert ending_code(Ending(broken, interrupted=True, signal=None), False) is ExitCode.INTERRUPTED
    assert ending_code(Ending(broken, interrupted=False, signal=None), False) is ExitCode.FAILED
    assert ending_code(Ending(blocked, interrupted=False, signal=None), False) is ExitCode.OK
    assert ending_code(Ending(blocked, interrupted=False, signal=None), True) is ExitCode.FAILED


def _ctx(explicit: set[str]) -> SimpleNamespace:
    source = SimpleNamespace(name="COMMANDLINE")
    default = SimpleNamespace(name="DEFAULT")
    return SimpleNamespace(get_parameter_source=lambda name: source if name in explicit else default)


def test_the_config_file_fills_only_what_the_command_line_left_at_its_default():
    options, explicit = Options.given(_ctx({"threads"}), {"inputs": ["urls.txt"], "threads": 5, "timeout": 10.0, "accept": "200-299"})
    file_options = {"threads": 99, "timeout": 3, "accept": [200, 403], "exclude": ["^https://internal"], "resume": True}
    merged, used = options.under_file(explicit, file_options, accepted={"threads", "timeout", "accept", "exclude"})
    assert merged.threads == 5  # the flag wins
    assert merged.timeout == 3.0 and isinstance(merged.timeout, float)
    assert merged.accept == "200,403" and merged.exclude == ("^https://internal",)
    assert merged.resume is False  # not an option of this command
    assert sorted(used) == ["accept", "exclude", "timeout"]
    config = merged.to_config()
    assert config.accept == ((200, 200), (403, 403)) and config.threads == 5


def test_an_option_no_command_declares_is_a_programming_error():
    with pytest.raises(TypeError, match="no such option: tread"):
        Options.given(_ctx(set()), {"tread": 3})


def test_a_session_refuses_resume_without_a_jsonl_report_before_opening_anything(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text("http://127.0.0.1:1/\n")
    report = tmp_path / "report.txt"
    with pytest.raises(ConfigError, match="--resume needs --format jsonl"):
        Session(Config(processes=1), Plan((Source(str(listing), "file"),), fmt="text", output=str(report), resume=True))
    assert not report.exists()


def test_a_session_refuses_a_report_over_one_of_its_inputs(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text("http://127.0.0.1:1/\n")
    with pytest.raises(ConfigError, match="is also an input"):
        Session(Config(processes=1), Plan((Source(str(listing), "file"),), output=str(listing)))
    assert listing.read_text() == "http://127.0.0.1:1/\n"


def test_running_the_command_in_process_gives_the_callers_main_module_back(monkeypatch, capsys):
    """The console script names its main module pcheck.__main__ (so workers skip it); a caller running
    the command in-process keeps its own, or its own spawned processes would skip re-importing it."""
    import sys

    import pcheck.__main__ as entry

    caller = sys.modules["__main__"]
    monkeypatch.setattr(caller, "__spec__", None)  # a plain script's main module has none
    with pytest.raises(SystemExit) as ended:
        entry.main(["--version"])
    assert ended.value.code in (0, None) and "pcheck" in capsys.readouterr().out
    assert caller.__spec__ is None
