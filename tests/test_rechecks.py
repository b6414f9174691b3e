"""CI that goes red only for real: transient failures checked once more late, and said apart from definitive ones."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from support import faults as fh
from conftest import run_pcheck, write_list
from pcheck.models import ErrorKind, Outcome, Verdict
from pcheck.run.rechecks import LateRechecks
from support.fast import FAST_KEEPING_RETRIES

pytestmark = pytest.mark.timeout(90)


def records(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_a_short_outage_ends_alive_with_the_default_options(lab, tmp_path):
    """A host answering 503 for its first 6 s (a restart): before, every URL on it failed in under 4 s."""
    urls = [lab.url(f"outage/6/restart?i={i}") for i in range(20)] + [lab.url(f"ok?i={i}", 1) for i in range(20)]
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), "--format", "jsonl", "--no-progress")
    assert proc.returncode == 0, proc.stdout
    assert [r["outcome"] for r in records(proc)] == ["alive"] * 40  # one record each: never a second one


def test_a_late_recheck_replaces_the_first_verdict_and_says_so(lab, tmp_path):
    # --retries 0: no second request inside the check, so only the late re-check can see the host back.
    urls = [lab.url("outage/0.5/blip?i=1"), lab.url("outage/0.5/blip?i=1")]  # the same URL twice: one re-check
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), "--format", "jsonl",
                      "--retries", "0", "--recheck-after", "1s", *FAST_KEEPING_RETRIES)
    assert proc.returncode == 0, proc.stdout
    got = records(proc)
    assert len(got) == 2 and all(r["outcome"] == "alive" for r in got)
    assert all("alive on a re-check 1 s later (first: 503)" in r["detail"] for r in got)
    sent = [e.method for e in lab.log if e.target == "/outage/0.5/blip?i=1"]
    assert sent == ["HEAD", "GET", "GET"]  # the first check (its 503 confirmed), one re-check for both occurrences


def test_a_definitive_failure_costs_no_extra_request_and_a_clean_run_never_waits(lab, tmp_path):
    urls = [lab.url("status/404"), lab.url("ok")]
    started = time.monotonic()
    proc = run_pcheck("check", str(write_list(tmp_path / "urls.txt", urls)), "--format", "jsonl", *FAST_KEEPING_RETRIES)
    took = time.monotonic() - started
    assert proc.returncode == 1
    assert [e.method for e in lab.log if e.target == "/status/404"] == ["HEAD", "GET"]  # the check, no re-check
    assert took < 5, took  # the default 10 s cool-down is only for transient failures
    [gone] = [r for r in records(proc) if r["status"] == 404]
    assert gone["transient"] is False


def test_without_recheck_after_a_transient_failure_stands_and_is_marked_transient(lab, tmp_path):
    proc = run_pcheck("check", lab.url("status/503"), "--format", "jsonl", "--retries", "0", "--recheck-after", "0",
                      *FAST_KEEPING_RETRIES)
    [r] = records(proc)
    assert (r["outcome"], r["status"], r["transient"]) == ("broken", 503, True)
    assert len(lab.log) == 2  # HEAD, and its GET confirmation


def test_accept_transient_lets_transient_failures_pass_the_run_but_reports_them(lab, tmp_path):
    urls = [lab.url("status/503"), lab.url("ok")]
    path = write_list(tmp_path / "urls.txt", urls)
    args = ["--retries", "0", "--recheck-after", "0.2s", *FAST_KEEPING_RETRIES]
    strict = run_pcheck("check", str(path), *args)
    assert strict.returncode == 1
    assert "of them: 1 transient, 0 definitive" in strict.stdout
    lenient = run_pcheck("check", str(path), *args, "--accept-transient")
    assert lenient.returncode == 0, lenient.stdout
    assert "503 Service Unavailable" in lenient.stdout and "transient: not failing the run (--accept-transient)" \
        in lenient.stdout
    gone = run_pcheck("check", lab.url("status/404"), *args, "--accept-transient")
    assert gone.returncode == 1  # a definitive failure still fails


def test_a_junit_report_agrees_with_the_exit_code_about_forgiven_transient_failures(lab, tmp_path):
    """CI reads the JUnit file, the shell reads the exit code: a failure forgiven by --accept-transient is no
    <failure> in the one when it is exit 0 in the other, and the 404 beside it fails in both."""
    from xml.etree import ElementTree

    urls = [lab.url("status/503"), lab.url("ok"), lab.url("status/404")]
    path = write_list(tmp_path / "urls.txt", urls)
    args = ["--retries", "0", "--recheck-after", "0", "--format", "junit", *FAST_KEEPING_RETRIES]
    for accept, code, failing in ((False, 1, {urls[0], urls[2]}), (True, 1, {urls[2]})):
        proc = run_pcheck("check", str(path), *args, *(["--accept-transient"] if accept else []))
        assert proc.returncode == code, proc.stderr
        suite = ElementTree.fromstring(proc.stdout).find("testsuite")
        failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
        assert failed == failing and suite.get("failures") == str(len(failing))
        if accept:
            [forgiven] = [c for c in suite.iter("testcase") if c.get("name") == urls[0]]
            assert "not failing the run (--accept-transient)" in forgiven.find("skipped").get("message")
    lenient = run_pcheck("check", str(write_list(tmp_path / "two.txt", urls[:2])), *args, "--accept-transient")
    assert lenient.returncode == 0 and 'failures="0"' in lenient.stdout


def test_ctrl_c_during_the_cool_down_reports_the_first_verdict_and_says_it_was_not_rechecked(lab, tmp_path):
    report = tmp_path / "report.jsonl"
    listing = write_list(tmp_path / "urls.txt", [lab.url("status/503"), lab.url("ok")])
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o", str(report),
                             "--retries", "0", "--recheck-after", "60s", *FAST_KEEPING_RETRIES],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        fh.wait_until(lambda: sum(1 for e in lab.log if e.target == "/status/503") >= 2 and report.exists()
                      and report.read_text().count("\n") >= 1, fh.MAX_WAIT_S, "the first pass")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    got = {r["url"]: r for r in map(json.loads, report.read_text().splitlines())}
    assert len(got) == 2
    first = got[lab.url("status/503")]
    assert (first["outcome"], first["status"]) == ("broken", 503)
    assert "not re-checked" in first["detail"]


def test_the_held_verdicts_wait_their_turn_and_come_back_combined():
    now = [0.0]
    rechecks = LateRechecks(10.0, clock=lambda: now[0])
    refused = Verdict(Outcome.BROKEN, error=ErrorKind.CONNECTION, attempts=2, detail="ConnectionRefusedError")
    assert rechecks.hold(1, refused) is None and rechecks.waiting == 1
    assert rechecks.hold(2, Verdict(Outcome.BROKEN, status=404)) is not None  # definitive: reported now
    now[0] = 9.9
    assert rechecks.due() == []
    now[0] = 10.0
    assert rechecks.due() == [1]
    final = rechecks.hold(1, Verdict(Outcome.ALIVE, status=200, attempts=1))
    assert final.outcome is Outcome.ALIVE and final.attempts == 3
    assert final.detail == "alive on a re-check 10 s later (first: connection)"
    assert rechecks.waiting == 0


def test_a_429_that_outlasts_its_retries_is_checked_once_more_later(lab, tmp_path):
    """Refused on every try within the check (a host refusing every other request, say), a URL is asked once
    more after --recheck-after, as a 5xx is: rate limiting passes."""
    proc = run_pcheck("check", lab.url("status/429?late=1"), "--format", "jsonl", "--retries", "0",
                      "--recheck-after", "0.5s", *FAST_KEEPING_RETRIES)
    [r] = records(proc)
    sent = [e.method for e in lab.log if e.target == "/status/429?late=1"]
    assert sent == ["HEAD", "GET", "GET"]  # the 429 (confirmed with GET), then the re-check
    assert (r["outcome"], r["status"]) == ("blocked", 429)
    assert "failed again on a re-check 0.5 s later (first: 429)" in r["detail"]
