"""A few URL arguments are checked in the calling process, with no worker process (issue 18's start-up).

Starting the fork server and a worker costs about 0.2 s before the first request,
more than `pcheck check URL` takes in all. Config.small_run lets the pool check a
run whose input ends within that many URLs in threads of its own process; the CLI
asks for it unless --processes (or PCHECK_PROCESSES) chose processes. These tests
prove where the checks ran by making worker processes impossible to start.
"""

from __future__ import annotations

import json
import multiprocessing.context
import os
import signal
import subprocess
import sys
import threading

import pytest

from support import faults as fh
from conftest import run_pcheck
from pcheck.config import PROCESSES_ENV, SMALL_RUN, Config, is_small_run, small_run_limit
from pcheck.inputs.sources import parse_url
from pcheck.models import ARGS_SOURCE, Outcome
from pcheck.run.pool import CheckRun
from pcheck.run.library import check_urls
from support.runs import in_flight

pytestmark = pytest.mark.timeout(60)

QUICK = ["--timeout", "3", "--retries", "0", "--no-progress", "--recheck-after", "0", "--host-interval", "0",
         "--format", "jsonl"]


def test_one_rule_decides_a_small_run(monkeypatch):
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    assert (small_run_limit(processes_chosen=False), small_run_limit(processes_chosen=True)) == (SMALL_RUN, 0)
    monkeypatch.setenv(PROCESSES_ENV, "2")  # chosen in the environment: worker processes, as asked
    assert small_run_limit(processes_chosen=False) == 0
    assert is_small_run(SMALL_RUN, SMALL_RUN) and not is_small_run(SMALL_RUN + 1, SMALL_RUN)
    assert is_small_run(0, SMALL_RUN) and not is_small_run(1, 0)  # a limit of 0: never


@pytest.fixture
def no_worker_process(monkeypatch):
    """Every attempt to start a worker process fails as a machine out of processes makes it fail."""
    def refuse(self):  # type: ignore[no-untyped-def]
        raise OSError(11, "Resource temporarily unavailable")

    for name in ("ForkServerProcess", "SpawnProcess"):
        monkeypatch.setattr(getattr(multiprocessing.context, name), "start", refuse)


def records(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def pcheck_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("pcheck-check", "pcheck-send", "pcheck-watchdog",
                                                                    "pcheck-worker"))]


def test_a_few_url_arguments_are_checked_with_no_worker_process(lab, no_worker_process):
    urls = [lab.url("ok"), lab.url("status/404", 1), lab.url("redirect/2", 2), lab.url("ok")]  # one repeated
    proc = run_pcheck("check", *urls, "http://exa mple.com/", *QUICK)
    assert proc.returncode == 1, proc.stderr
    assert "worker process" not in proc.stderr  # none was even tried
    outcomes = sorted((r["url"], r["outcome"]) for r in records(proc))
    assert outcomes == sorted([(urls[0], "alive"), (urls[1], "broken"), (urls[2], "alive"), (urls[0], "alive"),
                               ("http://exa mple.com/", "invalid")])


@pytest.mark.parametrize("why", ["more URLs than a small run", "--processes given", "PCHECK_PROCESSES set"])
def test_a_run_that_is_not_small_or_chose_its_processes_uses_worker_processes(lab, no_worker_process, why):
    urls = [lab.url(f"ok?i={i}") for i in range(SMALL_RUN + 1 if why == "more URLs than a small run" else 2)]
    extra = ["-p", "1"] if why == "--processes given" else []
    env = {"PCHECK_PROCESSES": "1"} if why == "PCHECK_PROCESSES set" else None
    proc = run_pcheck("check", *urls, *QUICK, *extra, env=env)
    found = records(proc)
    assert len(found) == len(urls)
    assert {(r["outcome"], r["error"]) for r in found} == {("unchecked", "local_resources")}, proc.stderr


def test_a_small_run_from_the_library_leaves_no_thread_and_no_descriptor_behind(lab):
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    list(check_urls([lab.url("ok?warm")], small_run=SMALL_RUN, host_interval=0))  # imports, first-time set-up
    threads, fds = set(pcheck_threads()), open_fds()
    for round_ in range(3):
        results = list(check_urls([lab.url(f"ok?r={round_}"), lab.url("status/500", 1)], small_run=SMALL_RUN,
                                  host_interval=0, retries=0, recheck_after=0))
        assert sorted(r.outcome.value for r in results) == ["alive", "broken"]
    fh.wait_until(lambda: not set(pcheck_threads()) - threads, 5.0, "the in-process worker's threads to end")
    # The lab runs in this process too: its side of each closed connection goes when it reads the end.
    fh.wait_until(lambda: open_fds() <= fds, 5.0, "the descriptors of the runs to be closed")


def test_a_cancelled_small_run_reports_cancelled_and_its_threads_end_after_their_deadline(lab):
    config = Config(small_run=SMALL_RUN, timeout=1.0, retries=0, recheck_after=0, host_interval=0)
    fds = len(os.listdir("/proc/self/fd"))
    run = CheckRun(config)

    def cancel_once_requested() -> None:
        if in_flight(lab) >= 1:
            run.cancel()

    with run:
        results = list(run.results([parse_url(lab.url("hang"), ARGS_SOURCE, 1)], idle=cancel_once_requested))
    assert [(r.outcome, r.error.value if r.error else None) for r in results] == [(Outcome.UNCHECKED, "cancelled")]
    # The hanging request is cut by its own deadline (1 s); nothing is left running after it.
    # The hanging request is cut at its 1 s deadline (the watchdog ticks after it): nothing is left after.
    fh.wait_until(lambda: not [t for t in pcheck_threads() if t.name.startswith("pcheck-check")], 2.5,
                  "the cancelled run's checker threads to end")
    fh.wait_until(lambda: len(os.listdir("/proc/self/fd")) <= fds, 5.0, "the cancelled run's descriptors to close")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_ending_signal_during_a_small_run_writes_its_record_and_exits_128_plus_it(lab, cli_processes, signum,
                                                                                     status):
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", lab.url("delay/20000"), lab.url("ok", 1), *QUICK],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    cli_processes.append(proc)
    fh.wait_until(lambda: proc.poll() is not None or in_flight(lab) >= 1, fh.MAX_WAIT_S, "the check under way")
    assert fh.children(proc.pid) == [], "a small run starts no process"
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == status, err.decode()
    found = {r["url"]: (r["outcome"], r["error"]) for r in map(json.loads, out.decode().splitlines())}
    assert found == {lab.url("delay/20000"): ("unchecked", "cancelled"), lab.url("ok", 1): ("alive", None)}
    assert b"Traceback" not in err


@pytest.mark.parametrize("args, early", [
    (["check", "{file}"], True),
    (["{file}", "--format", "jsonl"], True),
    (["check", "-"], True),
    (["check", "-p", "2", "http://example.test/"], True),
    (["check", "--processes=2", "http://example.test/"], True),
    (["check", "http://example.test/"], False),  # a small run: checked in this process
    (["check", "--timeout", "5", "http://example.test/"], False),  # "5" is an option's value, not an input
    (["check", "{file}", "--dump"], False),  # nothing is checked
    (["check", "-o", "{file}", "http://example.test/"], False),  # a small run writing over an existing report
    (["check", "--insecure", "{file}"], False),  # might be a value: left to the CLI's own start, as before
    (["check", "{file}", "--help"], False),
    (["check", "{file}", "--start-method", "spawn"], False),  # no fork server at all
    ([], False),
])
def test_the_worker_server_starts_before_the_cli_only_when_the_command_line_surely_needs_it(
        monkeypatch, tmp_path, args, early):
    from pcheck import __main__ as entry
    from pcheck.run import procs

    listing = tmp_path / "urls.txt"
    listing.write_text("http://example.test/\n")
    started = []
    monkeypatch.setattr(procs, "prestart", lambda: started.append(True) or True)
    entry._start_workers_early([a.replace("{file}", str(listing)) for a in args])
    assert bool(started) is early
