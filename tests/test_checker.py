"""Checking one URL against the local site: classification, fallbacks, redirects, deadlines, retries."""

from __future__ import annotations

import resource
import socket
import time

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from pcheck.check.checker import Checker
from pcheck.check.waits import parse_retry_after
from pcheck.check.transport import Transport, prepare
from pcheck.config import Config, parse_accept
from pcheck.models import ErrorKind, Outcome
from pcheck.urls import changes_origin

pytestmark = pytest.mark.timeout(30)
#: Body bytes a site may have written when a check reads none of it: socket buffers and a few chunks.
NOT_DOWNLOADED_BYTES = 32 << 20


@pytest.fixture
def make_checker():
    transports = []

    def make(pool_hosts=None, **options):
        options = {"processes": 1, "timeout": 2.0, "retries": 0, "backoff_base": 0.05, **options}
        transport = Transport(pool_maxsize=4, verify=True, pool_hosts=pool_hosts)
        transports.append(transport)
        return Checker(Config(**options), transport)

    yield make
    for transport in transports:
        transport.close()


@pytest.mark.parametrize(
    "path, outcome, status",
    [
        ("ok", Outcome.ALIVE, 200),
        ("status/204", Outcome.ALIVE, 204),
        ("status/404", Outcome.BROKEN, 404),
        ("status/410", Outcome.BROKEN, 410),
        ("status/500", Outcome.BROKEN, 500),
        ("status/401", Outcome.BLOCKED, 401),
        ("status/403", Outcome.BLOCKED, 403),
        ("status/999", Outcome.BLOCKED, 999),
        ("challenge", Outcome.BLOCKED, 403),
    ],
)
def test_statuses_are_classified(lab, make_checker, path, outcome, status):
    verdict = make_checker().check(lab.url(path))
    assert (verdict.outcome, verdict.status, verdict.error) == (outcome, status, None)


def test_accept_turns_a_status_alive(lab, make_checker):
    verdict = make_checker(accept=parse_accept("200-299,403")).check(lab.url("status/403"))
    assert verdict.outcome is Outcome.ALIVE


def test_head_refused_is_confirmed_with_get(lab, make_checker):
    verdict = make_checker().check(lab.url("head-refused"))
    assert (verdict.outcome, verdict.status, verdict.method, verdict.attempts) == (Outcome.ALIVE, 200, "GET", 2)


def test_reset_on_head_is_confirmed_with_get(lab, make_checker):
    verdict = make_checker().check(lab.url("reset-on-head"))
    assert (verdict.outcome, verdict.method) == (Outcome.ALIVE, "GET")


def test_redirect_chain_is_followed_and_counted(lab, make_checker):
    verdict = make_checker().check(lab.url("redirect/3?x=1"))
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 3)
    assert verdict.final_url == lab.url("redirect/0?x=1")


def test_redirect_loop_stops_early(lab, make_checker):
    verdict = make_checker().check(lab.url("loop/a/1"))
    assert (verdict.outcome, verdict.error, verdict.status) == (Outcome.BROKEN, ErrorKind.REDIRECT_LOOP, 302)
    assert verdict.redirects == 1 and verdict.attempts == 2


def test_too_many_redirects(lab, make_checker):
    verdict = make_checker(max_redirects=4).check(lab.url("redirect/5"))
    assert (verdict.error, verdict.redirects, verdict.status) == (ErrorKind.TOO_MANY_REDIRECTS, 4, 302)
    assert make_checker(max_redirects=5).check(lab.url("redirect/5")).outcome is Outcome.ALIVE


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


def test_429_with_retry_after_is_retried_then_alive(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(retries=2).check(lab.url("retry-after/1/a"))
    elapsed = time.monotonic() - started
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    assert 1.0 <= elapsed < 2.0


def test_retry_after_over_the_cap_ends_at_once_as_blocked(lab, make_checker):
    started = time.monotonic()
    verdict = make_checker(retries=2).check(lab.url("retry-after/99999/b"))
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.BLOCKED, 429, 1)
    assert "Retry-After" in verdict.detail
    assert time.monotonic() - started < 2.0  # not the 30 s cap, nor a backoff and a retry


def test_the_lab_refuses_every_other_request_to_a_host_with_429(lab):
    assert [requests.get(lab.url(f"every-other/x?i={i}")).status_code for i in range(4)] == [429, 200, 429, 200]
    assert lab.snapshot()["127.0.0.1"].refused == 2


def test_5xx_is_retried_with_backoff_until_it_recovers(lab, make_checker):
    verdict = make_checker(retries=2).check(lab.url("flaky/2/c"))
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert lab.hits("/flaky/2/c") == 3


def test_5xx_that_stays_broken_reports_every_request(lab, make_checker):
    verdict = make_checker(retries=1).check(lab.url("status/503"))
    # a 503 to HEAD says "come back later", not "no HEAD here": its retry is the GET, no GET at once
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.BROKEN, 503, 2)
    assert [e.method for e in lab.log] == ["HEAD", "GET"]


def test_a_503_to_head_with_no_retry_left_is_confirmed_with_get(lab, make_checker):
    verdict = make_checker(retries=0).check(lab.url("status/503"))
    assert (verdict.outcome, verdict.status, verdict.method, verdict.attempts) == (Outcome.BROKEN, 503, "GET", 2)


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


def test_credentials_are_dropped_when_a_redirect_changes_origin(lab, make_checker):
    checker = make_checker(headers=(("Authorization", "Bearer secret"), ("X-Keep", "1")))
    target = lab.url("ok", host=1)
    verdict = checker.check(lab.url(f"redirect-to?url={target}"))
    assert verdict.outcome is Outcome.ALIVE and verdict.redirects == 1
    first, second = [r for r in lab.log if r.method == "HEAD"]
    assert ("Authorization", "Bearer secret") in first.headers
    assert second.address == "127.0.0.2"
    assert not any(k.lower() == "authorization" for k, _ in second.headers)
    assert ("X-Keep", "1") in second.headers


def test_sequential_checks_reuse_one_connection(lab, make_checker):
    checker = make_checker()
    for i in range(20):
        assert checker.check(lab.url(f"ok?i={i}")).outcome is Outcome.ALIVE
    stats = lab.snapshot()["127.0.0.1"]
    assert (stats.requests, stats.connections) == (20, 1)


def test_requests_identify_pcheck_and_refuse_compression(lab, make_checker):
    make_checker().check(lab.url("ok"))
    headers = dict(lab.log[0].headers)
    assert headers["User-Agent"].startswith("Mozilla/5.0 (compatible; pcheck/")
    assert headers["Accept-Encoding"] == "identity"


def test_origin_rule():
    assert not changes_origin("http://a.example/x", "http://a.example:80/y")
    assert changes_origin("http://a.example/", "https://a.example/")
    assert changes_origin("http://a.example/", "http://b.example/")
    assert changes_origin("http://a.example:8080/", "http://a.example:8081/")


def test_retry_after_parsing():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert parse_retry_after("soon") is None


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
    from fault_helpers import wait_until

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
