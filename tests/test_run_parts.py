"""The parts the re-layout (issue 17) gave one home: the host scheduler both distributors share, the key and
host computed once and carried, the one mapping to exit codes, typed options under the config file."""

from __future__ import annotations

import dataclasses
import errno
import io
import pickle
import sys
from types import SimpleNamespace

import pytest

from pcheck import check_urls
from pcheck.cli.exits import ExitCode, ending_code, exit_code_for
from pcheck.cli.options import Options
from pcheck.config import FORMATS, Config
from pcheck.errors import CacheError, ConfigError, InputError, ReportError, ResumeError
from pcheck.inputs.sources import Source, parse_url
from pcheck.models import ARGS_SOURCE, VERDICT_ONLY, Answered, CheckResult, ErrorKind, Order, Outcome, PageAnchors, Summary, Verdict
from pcheck.output.reports import make_reporter
from pcheck.run.hosts import HostScheduler
from pcheck.run.pool import CheckRun
from pcheck.run.ray import RayRun, check_shard
from pcheck.run.signals import Interruptible
from pcheck.run.session import Ending, Plan, Session
from pcheck.urls import normalise


def drain(hosts: HostScheduler) -> list[tuple[int, str]]:
    started = []
    while (item := hosts.next()) is not None:
        started.append(item)
    return started


def test_the_host_scheduler_takes_hosts_in_turn_and_never_past_their_cap():
    hosts = HostScheduler(lambda host: {"a": 2, "b": 1}[host])
    for i in range(4):
        hosts.add(i, "a")
    hosts.add(10, "b")
    hosts.add(11, "b")
    assert drain(hosts) == [(0, "a"), (10, "b"), (1, "a")]  # a at 2, b at 1: nothing more may start
    assert hosts.waiting == 3 and not hosts.has_ready()
    hosts.finished("b")
    assert drain(hosts) == [(11, "b")]
    hosts.finished("a")
    hosts.finished("a")
    assert drain(hosts) == [(2, "a"), (3, "a")]
    assert hosts.waiting == 0


def test_a_task_started_outside_the_queues_counts_against_its_hosts_cap():
    hosts = HostScheduler(lambda host: 1)
    hosts.start("a")  # a dead worker's task, sent again
    hosts.add(1, "a")
    assert hosts.next() is None and not hosts.has_room("a")
    hosts.finished("a")
    assert hosts.next() == (1, "a")


def test_a_ray_shard_holds_the_per_host_cap_with_the_shared_scheduler(lab):
    """check_shard runs in-process here (no Ray needed): 8 threads, 40 slow URLs on 2 hosts, cap 2."""
    tasks = []
    for i in range(40):
        url = lab.url(f"delay/50?i={i}", i % 2)
        key, host = normalise(url)
        tasks.append(Order(i, key, host))
    done = check_shard(Config(processes=1, threads=8, max_per_host=2, timeout=5.0, retries=0), tasks)
    assert sorted(task_id for task_id, _ in done) == list(range(40))
    assert all(verdict.outcome is Outcome.ALIVE for _, verdict in done)
    for address in ("127.0.0.1", "127.0.0.2"):
        assert lab.snapshot()[address].max_in_flight == 2  # used to the full, never past it


def test_the_records_on_the_pipes_are_named_and_come_back_as_themselves():
    order = Order(7, "https://example.com/", "example.com", anchors=True, method="GET", last=True)
    answered = Answered(7, Verdict(Outcome.ALIVE, status=200, final_url="https://example.com/"))
    for record in (order, answered):
        back = pickle.loads(pickle.dumps([record], pickle.HIGHEST_PROTOCOL))[0]
        assert back == record and type(back) is type(record)
    assert Order(1, "https://a/", "a") == (1, "https://a/", "a", False, None, False)  # the defaults: a first try
    assert order.url == "https://example.com/" and answered.verdict.status == 200


def test_a_check_result_takes_every_verdict_field_but_the_ones_never_recorded():
    """A field added to Verdict must reach the CheckResult (and its record), or be said never to."""
    verdict_fields = {f.name for f in dataclasses.fields(Verdict)}
    result_fields = {f.name for f in dataclasses.fields(CheckResult)}
    assert VERDICT_ONLY <= verdict_fields
    assert verdict_fields - VERDICT_ONLY <= result_fields, "a Verdict field no CheckResult has: carry it, or VERDICT_ONLY"
    values = {"outcome": Outcome.BROKEN, "status": 418, "error": ErrorKind.TIMEOUT, "final_url": "https://b/",
              "redirects": 3, "method": "GET", "attempts": 4, "elapsed_ms": 12.5, "detail": "why",
              "anchors": PageAnchors(frozenset({"x"})), "retry_after_s": 1.0, "quota_wait_s": 2.0}
    assert set(values) == verdict_fields, "give the new Verdict field a value here"
    result = CheckResult.of("https://a/#x", "README.md", 3, Verdict(**values), "https://a/", "a", 5, "#x")
    for name in verdict_fields - VERDICT_ONLY:
        assert getattr(result, name) == values[name], f"CheckResult.of drops Verdict.{name}"
    assert (result.url, result.source, result.line, result.key, result.host, result.column, result.link) == \
        ("https://a/#x", "README.md", 3, "https://a/", "a", 5, "#x")


@pytest.mark.parametrize("distributor", [CheckRun, RayRun])
def test_both_distributors_count_their_interrupts_as_the_signals_ask(distributor):
    run: Interruptible = distributor(Config(processes=1))
    assert run.interrupts == 0
    run.cancel()  # type: ignore[attr-defined]  # a first Ctrl-C, asked for by a caller
    assert (run.interrupts, run.interrupt(), run.interrupts) == (1, 2, 2)  # the second stops at once


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_reporter_counts_in_the_tally_the_session_gives_it(fmt):
    tally = Summary(fail_after=3)
    tally.counts[Outcome.BROKEN] = 2  # a resumed report's counts
    reporter = make_reporter(fmt, io.StringIO(), summary=tally)
    reporter.write(CheckResult.of("https://a/", "-", 1, Verdict(Outcome.ALIVE, status=200)))
    reporter.finish(0.5, False)
    assert reporter.summary is tally and (tally.counts[Outcome.ALIVE], tally.counts[Outcome.BROKEN]) == (1, 2)
    assert (tally.fail_after, tally.elapsed_s) == (3, 0.5)


class FakeRay:
    """Ray as RayRun uses it, in this process: a shard runs when it is submitted; the first `fail` gets raise."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.done: dict[object, list[Answered]] = {}

    def is_initialized(self) -> bool:
        return True

    def remote(self, **options: object):  # type: ignore[no-untyped-def]
        return lambda shard: SimpleNamespace(remote=lambda config, orders: self._run(shard, config, orders))

    def _run(self, shard, config, orders):  # type: ignore[no-untyped-def]
        assert all(type(order) is Order for order in orders)
        ref = object()
        self.done[ref] = shard(config, orders)
        return ref

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 1}

    def wait(self, refs, num_returns, timeout):  # type: ignore[no-untyped-def]
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):  # type: ignore[no-untyped-def]
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the node went away")
        return self.done.pop(ref)


@pytest.mark.parametrize("failures", [0, 2, 3])
def test_the_ray_loop_gives_every_occurrence_its_shards_answer(lab, monkeypatch, failures):
    """RayRun's loop without a cluster: two hosts, two shards; a failed shard is sent once more, then its
    URLs are `worker_crashed` (3 failures: the first shard twice, the second once)."""
    monkeypatch.setitem(sys.modules, "ray", FakeRay(failures))
    urls = [lab.url(f"ok?i={i}", i % 2) for i in range(6)] + [lab.url("ok?i=0")]  # the last joins a task
    with RayRun(Config(processes=1, threads=4, timeout=5.0, retries=0, shard_size=3)) as run:
        results = list(run.results(parse_url(url, ARGS_SOURCE, None) for url in urls))
    assert sorted(r.url for r in results) == sorted(urls)
    lost = [r.url for r in results if (r.outcome, r.error) == (Outcome.UNCHECKED, ErrorKind.WORKER_CRASHED)]
    assert sorted(lost) == (sorted(u for u in urls if "127.0.0.1" in u) if failures == 3 else [])
    assert all(r.outcome is Outcome.ALIVE for r in results if r.url not in lost)


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
    options, explicit = Options.given(_ctx({"threads"}), inputs=["urls.txt"], threads=5, timeout=10.0, accept="200-299")
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
        Options.given(_ctx(set()), tread=3)


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


def test_an_answer_after_the_scheduler_was_cleared_gives_no_host_extra_room():
    """A cancelled run clears the scheduler, then answers still in flight arrive: no host may go below zero."""
    hosts = HostScheduler(lambda host: 1)
    hosts.add(1, "a")
    assert hosts.next() == (1, "a")
    hosts.clear()
    hosts.finished("a")  # the answer of task 1, after the clear
    hosts.add(2, "a")
    hosts.add(3, "a")
    assert drain(hosts) == [(2, "a")]  # still one at a time
