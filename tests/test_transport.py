"""The real transport (sockets, on the local site): framing of answers, strict parsing, local shortages, deadlines,
bodies never downloaded, connections kept.

Verdicts are the server's, not ours (issue 13). The Checker's rules without sockets are in test_checker.py,
secrets across redirects in test_credentials.py."""

from __future__ import annotations

import errno
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest
import requests
import urllib3.response
import urllib3.util.connection
from hypothesis import given, settings
from hypothesis import strategies as st
from support.faults import wait_until

from pcheck.check.checker import classify
from pcheck.check.transport import prepare
from pcheck.check.waits import parse_retry_after
from pcheck.config import Config
from pcheck.models import ErrorKind, Outcome

pytestmark = pytest.mark.timeout(60)


def headers_of(logged) -> dict[str, str]:
    return {name.lower(): value for name, value in logged.headers}


# -- interim (1xx) answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("interim", ["103", "102", "100,102,103"])
@pytest.mark.parametrize("final, outcome", [(200, Outcome.ALIVE), (404, Outcome.BROKEN)])
def test_interim_responses_are_read_past_and_never_become_the_answer(lab, make_checker, interim, final, outcome):
    verdict = make_checker(method="get").check(lab.url(f"interim/{interim}/{final}"))
    assert (verdict.outcome, verdict.status, verdict.error, verdict.attempts) == (outcome, final, None, 1)


def test_endless_interim_responses_are_no_answer(lab, make_checker):
    codes = ",".join(["103"] * 40)  # beyond any bound a client should keep reading for
    verdict = make_checker(method="get").check(lab.url(f"interim/{codes}/200"))
    assert (verdict.outcome, verdict.status, verdict.error) == (Outcome.BROKEN, None, ErrorKind.PROTOCOL)


def test_early_hints_never_leave_a_kept_alive_connection_out_of_step(lab, make_checker):
    checker = make_checker(pool_maxsize=1)  # one thread, one connection: every answer must be its own
    sequence = [("interim/103/404", Outcome.BROKEN, 404), ("ok", Outcome.ALIVE, 200),
                ("interim/103/200", Outcome.ALIVE, 200), ("status/404", Outcome.BROKEN, 404),
                ("interim/100,102,103/200?i=2", Outcome.ALIVE, 200), ("status/410", Outcome.BROKEN, 410)]
    got = []
    for path, _, _ in sequence:
        verdict = checker.check(lab.url(path))
        got.append((path, verdict.outcome, verdict.status))
    assert got == sequence
    assert lab.snapshot()["127.0.0.1"].connections == 1  # all of it over one kept-alive connection


def test_a_101_answer_is_final_and_its_connection_is_never_reused(lab, make_checker):
    checker = make_checker(pool_maxsize=1, method="get")
    verdict = checker.check(lab.url("status/101"))
    assert (verdict.outcome, verdict.status) == (Outcome.BROKEN, 101)
    assert checker.check(lab.url("ok")).outcome is Outcome.ALIVE
    assert lab.snapshot()["127.0.0.1"].connections == 2  # after 101 the old connection speaks another protocol


# -- a kept-alive connection is never cut under another request ------------------------------------------

def test_a_finished_requests_deadline_never_cuts_the_next_request_on_its_connection(lab, make_checker, monkeypatch):
    import pcheck.check.transport

    monkeypatch.setattr(pcheck.check.transport, "DRAIN_BUDGET_S", 0.05)
    first, second = make_checker(pool_maxsize=1, method="get"), make_checker(method="get")
    second.transport = first.transport  # one pool: the second check gets the first one's connection
    original = urllib3.response.HTTPResponse.release_conn
    verdicts = []

    def release_then_let_the_next_request_run(response):
        original(response)
        if verdicts:
            return
        other = threading.Thread(target=lambda: verdicts.append(second.check(lab.url("delay/400"))))
        verdicts.append(None)
        other.start()
        wait_until(lambda: lab.snapshot()["127.0.0.1"].in_flight, 5.0, "the next request on the server")
        # The first request's drain deadline passes while the next one is in flight on its connection.
        passed = time.monotonic() + 0.05 + 4 * pcheck.check.transport.WATCHDOG_TICK_S
        wait_until(lambda: time.monotonic() > passed, 2.0, "the drain deadline passed")
        other.join(5.0)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "release_conn", release_then_let_the_next_request_run)
    assert first.check(lab.url("ok")).outcome is Outcome.ALIVE
    verdict = verdicts[-1]
    assert (verdict.outcome, verdict.status, verdict.detail) == (Outcome.ALIVE, 200, None)
    assert lab.snapshot()["127.0.0.1"].connections == 1


# -- strict parsing of what the server controls ----------------------------------------------------------

@pytest.mark.parametrize("token", ["+200", "2_00", "0200"])
def test_a_status_code_is_three_ascii_digits_or_no_answer(lab, make_checker, token):
    verdict = make_checker(method="get").check(lab.url("status-line/" + quote(token, safe="")))
    assert (verdict.outcome, verdict.status, verdict.error) == (Outcome.BROKEN, None, ErrorKind.PROTOCOL)


@pytest.mark.parametrize("value", ["١٢", "²", "１２", "12\u00a0", "Wed, ١٢ Oct 2015 07:28:00 GMT"])
def test_retry_after_with_anything_but_ascii_digits_or_a_date_is_ignored(value):
    assert parse_retry_after(value) is None


def test_retry_after_of_a_superscript_digit_is_ignored_not_a_crash(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(retries=1).check(lab.url("retry-after/%C2%B2/sup"))  # Retry-After: ² (latin-1)
    assert (verdict.outcome, verdict.status, verdict.error) == (Outcome.ALIVE, 200, None)
    assert time.monotonic() - started < 1.5  # the backoff's wait, not two seconds the server never asked for


# -- running out of descriptors, memory or ports is the checker's problem ---------------------------------

def _fail_connects(monkeypatch, code: int, times: float):
    """The next `times` new connections fail with `code`, as socket() or connect() would."""
    real = urllib3.util.connection.create_connection
    failures = []

    def create_connection(*args, **kwargs):
        if len(failures) < times:
            failures.append(code)
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return failures


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EADDRNOTAVAIL])
def test_a_check_that_found_no_descriptor_is_made_again_not_judged(lab, make_checker, monkeypatch, code):
    checker = make_checker(retries=0)
    for host in (1, 2):  # idle kept-alive connections: their descriptors are the ones to give back
        assert checker.check(lab.url("ok", host)).outcome is Outcome.ALIVE
    assert lab.open_connections() == 2
    failures = _fail_connects(monkeypatch, code, 3)
    verdict = checker.check(lab.url("ok?i=1"))
    assert len(failures) == 3
    assert (verdict.outcome, verdict.status, verdict.attempts, verdict.detail) == (Outcome.ALIVE, 200, 1, None)
    wait_until(lambda: lab.open_connections() == 1, 5.0, "idle connections closed, only the new one left")


def test_a_machine_that_never_recovers_leaves_the_url_unchecked_not_broken(lab, make_checker, monkeypatch):
    import pcheck.check.checker

    monkeypatch.setattr(pcheck.check.checker, "LOCAL_SHORTAGE_PATIENCE_S", 2.0)
    _fail_connects(monkeypatch, errno.EMFILE, float("inf"))
    checker = make_checker(retries=2)
    started = time.monotonic()
    verdict = checker.check(lab.url("ok"))
    assert (verdict.outcome.value, verdict.error.value, verdict.status) == ("unchecked", "local_resources", None)
    assert "Too many open files" in verdict.detail and "not the link" in verdict.detail
    assert time.monotonic() - started < 2.0 + 2.0  # bounded by the patience, no GET fallback nor retries
    started = time.monotonic()
    assert checker.check(lab.url("ok?i=2")).outcome.value == "unchecked"
    assert time.monotonic() - started < 1.0  # the process's patience (2 s) is spent: no second wait per URL
    assert lab.snapshot()["127.0.0.1"].requests == 0


def test_a_local_resources_verdict_crosses_the_process_boundary():
    import pickle

    from pcheck.models import Verdict

    verdict = Verdict(Outcome.UNCHECKED, error=ErrorKind("local_resources"), detail="this machine ran short")
    assert pickle.loads(pickle.dumps(verdict, pickle.HIGHEST_PROTOCOL)) == verdict


@pytest.mark.parametrize("eai", ["EAI_SYSTEM", "EAI_MEMORY"])
def test_a_resolver_that_ran_short_is_not_a_dns_verdict(eai):
    kind, _ = classify(socket.gaierror(getattr(socket, eai), "System error"))
    assert kind.value == "local_resources"


def test_fd_budget_fits_threads_and_idle_sockets_in_the_limit():
    from pcheck.run.worker import RESERVED_FDS, fd_budget

    config = Config(processes=1, threads=64, max_per_host=64)
    assert fd_budget(config, None).threads == 64
    assert fd_budget(config, 1 << 20).threads == 64 and fd_budget(config, 1 << 20).shortfall(config) is None
    for nofile in (10, 32, 64, 256, 1024, 4096):
        budget = fd_budget(config, nofile)
        assert 1 <= budget.threads <= 64
        sockets = budget.threads + budget.per_host * budget.pool_hosts  # in use, plus idle in the pools
        assert nofile < RESERVED_FDS or RESERVED_FDS + sockets <= nofile, (nofile, budget)
    assert "open-files limit (64)" in fd_budget(config, 64).shortfall(config)
    assert fd_budget(config, None).shortfall(config) is None


@pytest.mark.timeout(120)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_NOFILE semantics of Linux")
def test_ulimit_64_checks_600_urls_all_alive_with_one_warning(lab, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(lab.url(f"ok?i={i}", i % 4) + "\n" for i in range(600)))

    def nofile_64() -> None:  # `ulimit -n 64`, soft and hard: pcheck cannot raise it
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.run(
        [sys.executable, "-m", "pcheck", "check", str(urls), "--format", "jsonl", "--max-per-host", "64",
         "--timeout", "10"], capture_output=True, text=True, timeout=110, preexec_fn=nofile_64)
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"url"')]
    assert len(records) == 600, proc.stderr
    assert [r for r in records if r["outcome"] != "alive"] == [], proc.stderr
    assert proc.returncode == 0
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "open-files limit" in warnings[0], proc.stderr


# -- one URL on the local site: deadlines, bodies never downloaded, connection errors, connections kept -----------

#: Body bytes a site may have written when a check reads none of it: socket buffers and a few chunks.
NOT_DOWNLOADED_BYTES = 32 << 20


def test_reset_on_head_is_confirmed_with_get(lab, make_checker):
    verdict = make_checker().check(lab.url("reset-on-head"))
    assert (verdict.outcome, verdict.method) == (Outcome.ALIVE, "GET")


def test_header_drip_is_stopped_by_the_total_deadline(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(timeout=1.0).check(lab.url("drip-headers"))
    elapsed = time.monotonic() - started
    assert (verdict.outcome, verdict.error) == (Outcome.BROKEN, ErrorKind.TIMEOUT)
    assert elapsed < 1.0 + 1.0


def test_hang_after_accept_is_a_timeout(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(timeout=0.5).check(lab.url("hang"))
    assert verdict.error is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 1.5


def test_one_gib_body_is_not_downloaded(lab, make_checker):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    verdict = make_checker(method="get").check(lab.url("bytes/1073741824"))
    elapsed = time.monotonic() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert (verdict.outcome, verdict.method) == (Outcome.ALIVE, "GET")
    assert lab.snapshot()["127.0.0.1"].body_bytes < NOT_DOWNLOADED_BYTES  # the site wrote a few chunks, no more
    assert elapsed < 2.0  # the attempt's deadline (timeout 2.0) did not have to cut it
    assert grown_kib < 50 * 1024


def test_endless_redirect_body_is_not_read(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(method="get").check(lab.url("redirect-endless-body"))
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
    assert lab.snapshot()["127.0.0.1"].body_bytes < NOT_DOWNLOADED_BYTES
    assert time.monotonic() - started < 2.0  # the deadline did not have to cut it


def test_the_lab_refuses_every_other_request_to_a_host_with_429(lab):
    assert [requests.get(lab.url(f"every-other/x?i={i}")).status_code for i in range(4)] == [429, 200, 429, 200]
    assert lab.snapshot()["127.0.0.1"].refused == 2


def test_connection_refused_is_a_connection_error(make_checker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        verdict = make_checker().check(f"http://127.0.0.1:{port}/")
    assert (verdict.outcome, verdict.error, verdict.status) == (Outcome.BROKEN, ErrorKind.CONNECTION, None)


def test_unresolvable_host_is_a_dns_error(make_checker, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no real resolver is asked
    verdict = make_checker().check("http://no-such-host.test/")
    assert (verdict.outcome, verdict.error) == (Outcome.BROKEN, ErrorKind.DNS)


def test_sequential_checks_reuse_one_connection(lab, make_checker):
    checker = make_checker()
    for i in range(20):
        assert checker.check(lab.url(f"ok?i={i}")).outcome is Outcome.ALIVE
    stats = lab.snapshot()["127.0.0.1"]
    assert (stats.requests, stats.connections) == (20, 1)


# -- the request on the wire ----------------------------------------------------------------------------

_PATH_CHARS = st.sampled_from(list("abcXYZ019-._~!$&'()*+,;=:@/?[]") + ["%2F", "%20", "%3f", "%25", "%E2%82%AC", "%41", "%7E", "%2E"])
_ODD_CHARS = st.sampled_from(list(" <>\\^`{|}\"%é€") + ["%4", "%zz"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PATH_CHARS, max_size=30).map("".join), st.sampled_from(["http://a.test", "https://x-1.b.test:8443"]))
def test_a_request_built_directly_sends_the_url_requests_would_send(path, origin):
    url = f"{origin}/{path}"
    assert prepare("HEAD", url, {"User-Agent": "t"}).url == requests.Request("HEAD", url).prepare().url


@settings(max_examples=200, deadline=None)
@given(st.lists(_PATH_CHARS | _ODD_CHARS, min_size=1, max_size=20).map("".join))
def test_a_url_requests_would_requote_is_prepared_by_requests(path):
    url = f"http://a.test/{path}"
    assert prepare("GET", url, {}).url == requests.Request("GET", url).prepare().url


def test_hosts_beyond_the_kept_pools_do_not_keep_their_connections(lab, make_checker, monkeypatch):
    checker = make_checker(pool_hosts=2)  # 4 lab hosts in rotation: pools are dropped
    verdicts = [checker.check(lab.url(f"ok?i={i}", i % 4)) for i in range(24)]
    assert [v.outcome for v in verdicts] == [Outcome.ALIVE] * 24, [v.detail for v in verdicts if v.detail]
    # A run over a million hosts must not keep a socket per host: only the kept pools' stay open.
    wait_until(lambda: lab.open_connections() <= 2, 5.0, "at most 2 connections left open")


@pytest.mark.parametrize("headers, wait", [
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}, 7.0),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{in_9_s}"}, 9.0),  # GitHub's: a Unix time
    ({"X-RateLimit-Remaining": "0"}, 1.0),  # spent, no word of when it resets: a second
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "0"}, 0.0),  # spent, and reset now
    ({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "7"}, None),  # requests left: nothing to wait for
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "²"}, 1.0),  # not an ASCII digit: not read as 2
])
def test_a_spent_rate_limit_quota_reaches_the_verdict(lab, make_checker, headers, wait):
    from urllib.parse import urlencode

    in_9_s = str(int(time.time()) + 9)
    query = urlencode({"code": "200", **{k: v.replace("{in_9_s}", in_9_s) for k, v in headers.items()}})
    verdict = make_checker().check(lab.url(f"headers?{query}"))
    assert verdict.outcome is Outcome.ALIVE
    assert verdict.quota_wait_s == (None if wait is None else pytest.approx(wait, abs=1.5))
