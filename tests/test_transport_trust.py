"""Verdicts are the server's, not ours (issue 13): framing, strict parsing, local shortages, secrets per host."""

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
import urllib3.response
import urllib3.util.connection

from fault_helpers import wait_until
from pcheck.check.checker import Checker, classify
from pcheck.check.waits import parse_retry_after
from pcheck.config import Config, HostPolicy
from pcheck.models import ErrorKind, Outcome
from pcheck.check.transport import Transport

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def make_checker():
    transports = []

    def make(pool_maxsize: int = 4, **options):
        options = {"processes": 1, "timeout": 2.0, "retries": 0, "backoff_base": 0.05, **options}
        transport = Transport(pool_maxsize=pool_maxsize, verify=True)
        transports.append(transport)
        return Checker(Config(**options), transport)

    yield make
    for transport in transports:
        transport.close()


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
    from pcheck.run.worker import fd_budget, RESERVED_FDS

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


# -- secrets stay with their host -------------------------------------------------------------------------

SECRETS = (("Authorization", "Bearer T"), ("Cookie", "sid=C"), ("Proxy-Authorization", "Basic P"),
           ("X-Api-Key", "K"), ("PRIVATE-TOKEN", "T2"), ("X-Session-Id", "S"), ("X-Client-Secret", "S2"),
           ("X-Auth-User", "U"))
PLAIN = (("X-Trace", "1"), ("Accept-Language", "en"))


@pytest.mark.parametrize("old, new, crosses", [
    ("https://a.test/x", "http://a.test/x", True),  # a downgrade on the same host changes origin
    ("http://a.test/x", "https://a.test/x", True),
    ("http://a.test/x", "http://b.test/x", True),
    ("http://a.test:8080/x", "http://a.test:8081/x", True),
    ("http://a.test/x", "http://A.test:80/y?z", False),
    ("https://a.test/x", "https://a.test:443/y", False),
])
def test_credential_like_headers_are_dropped_on_every_change_of_origin(old, new, crosses):
    from pcheck.check.checker import is_credential, redirect_headers

    headers = dict(SECRETS + PLAIN)
    assert all(is_credential(name) for name, _ in SECRETS) and not any(is_credential(n) for n, _ in PLAIN)
    kept = redirect_headers(headers, old, new)
    assert kept == (dict(PLAIN) if crosses else headers)
    assert redirect_headers(dict(PLAIN), old, new) == dict(PLAIN)


def test_command_line_credentials_never_reach_the_host_a_redirect_points_to(lab, make_checker):
    target = lab.url("ok?to=2", host=1)
    verdict = make_checker(headers=SECRETS + PLAIN).check(lab.url("redirect-to?url=" + quote(target, safe="")))
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
    first, second = lab.log
    assert all(headers_of(first).get(name.lower()) == value for name, value in SECRETS + PLAIN)
    assert second.address == "127.0.0.2"
    assert not [name for name, _ in SECRETS if name.lower() in headers_of(second)]
    assert all(headers_of(second).get(name.lower()) == value for name, value in PLAIN)


def test_host_table_headers_go_to_that_host_only_never_where_it_redirects(lab, make_checker):
    table = (("X-Api-Key", "for-1"), ("PRIVATE-TOKEN", "t1"), ("X-Plain-Setting", "p1"))
    hosts = (("127.0.0.1", HostPolicy(headers=table)), ("127.0.0.3", HostPolicy(headers=(("X-Api-Key", "for-3"),))))
    checker = make_checker(hosts=hosts)
    to_2 = lab.url("redirect-to?url=" + quote(lab.url("ok?i=2", host=1), safe=""))
    to_1 = lab.url("redirect-to?url=" + quote(lab.url("ok?i=1"), safe=""), host=1)
    to_3 = lab.url("redirect-to?url=" + quote(lab.url("ok?i=3", host=2), safe=""))
    assert [checker.check(u).outcome for u in (to_2, to_1, to_3)] == [Outcome.ALIVE] * 3
    sent = {(e.address, e.target): headers_of(e) for e in lab.log}
    for (address, target), headers in sent.items():
        own = {"127.0.0.1": table, "127.0.0.3": (("X-Api-Key", "for-3"),)}.get(address, ())
        assert {k: v for k, v in headers.items() if k in ("x-api-key", "private-token", "x-plain-setting")} \
            == {k.lower(): v for k, v in own}, (address, target)
    assert len(sent) == 6
