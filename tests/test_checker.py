"""The Checker's rules for one URL: classification, accepted statuses, HEAD->GET fallback, redirects, retries.

These run on a FakeTransport (support/transport.py): each test's `site` function answers the Checker's
requests, nothing opens a socket and no retry sleeps (the waits asked for are kept in `checker.stop.waits`).
What needs real sockets (deadlines, bodies, connection errors, kept-alive connections) is in
test_transport.py and test_hostile_servers.py.
"""

from __future__ import annotations

import email.utils
import time
from urllib.parse import urlsplit

import pytest
from support.transport import Reply, redirect

from pcheck.check.waits import parse_retry_after
from pcheck.config import parse_accept
from pcheck.models import ErrorKind, Outcome
from pcheck.urls import changes_origin


def path_of(url: str) -> str:
    return urlsplit(url).path


def answers(**by_method: Reply):
    """A site that answers every URL by method only: answers(HEAD=Reply(405), GET=Reply(200))."""
    return lambda method, url, headers: by_method[method]


def in_turn(*replies: Reply):
    """A site that gives these answers one after the other (the last one from then on), whatever is asked."""
    left = list(replies)
    return lambda method, url, headers: left.pop(0) if len(left) > 1 else left[0]


def redirects_down(method: str, url: str, headers: dict) -> Reply:
    """/redirect/N redirects to /redirect/N-1 (the query kept); /redirect/0 is 200."""
    parts = urlsplit(url)
    n = int(parts.path.rsplit("/", 1)[1])
    if n == 0:
        return Reply(200)
    return redirect(f"/redirect/{n - 1}" + (f"?{parts.query}" if parts.query else ""))


@pytest.mark.parametrize(
    "reply, outcome, status",
    [
        (Reply(200), Outcome.ALIVE, 200),
        (Reply(204), Outcome.ALIVE, 204),
        (Reply(404), Outcome.BROKEN, 404),
        (Reply(410), Outcome.BROKEN, 410),
        (Reply(500), Outcome.BROKEN, 500),
        (Reply(401), Outcome.BLOCKED, 401),
        (Reply(403), Outcome.BLOCKED, 403),
        (Reply(999), Outcome.BLOCKED, 999),
        (Reply(403, {"cf-mitigated": "challenge"}), Outcome.BLOCKED, 403),
    ],
    ids=["ok", "204", "404", "410", "500", "401", "403", "999", "challenge"],
)
def test_statuses_are_classified(fake_checker, reply, outcome, status):
    verdict = fake_checker(lambda method, url, headers: reply).check("http://a.test/page")
    assert (verdict.outcome, verdict.status, verdict.error) == (outcome, status, None)


def test_accept_turns_a_status_alive(fake_checker):
    verdict = fake_checker(answers(HEAD=Reply(403), GET=Reply(403)), accept=parse_accept("200-299,403")).check(
        "http://a.test/forbidden")
    assert verdict.outcome is Outcome.ALIVE


def test_head_refused_is_confirmed_with_get(fake_checker):
    checker = fake_checker(answers(HEAD=Reply(405), GET=Reply(200)))
    verdict = checker.check("http://a.test/head-refused")
    assert (verdict.outcome, verdict.status, verdict.method, verdict.attempts) == (Outcome.ALIVE, 200, "GET", 2)
    assert checker.transport.methods == ["HEAD", "GET"]


def test_redirect_chain_is_followed_and_counted(fake_checker):
    checker = fake_checker(redirects_down)
    verdict = checker.check("http://a.test/redirect/3?x=1")
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 3)
    assert verdict.final_url == "http://a.test/redirect/0?x=1"
    assert [r.url for r in checker.transport.requests] == [f"http://a.test/redirect/{n}?x=1" for n in (3, 2, 1, 0)]


def test_redirect_loop_stops_early(fake_checker):
    def loop(method, url, headers):
        return redirect("/loop/b/1" if path_of(url) == "/loop/a/1" else "/loop/a/1")

    verdict = fake_checker(loop).check("http://a.test/loop/a/1")
    assert (verdict.outcome, verdict.error, verdict.status) == (Outcome.BROKEN, ErrorKind.REDIRECT_LOOP, 302)
    assert verdict.redirects == 1 and verdict.attempts == 2


def test_too_many_redirects(fake_checker):
    verdict = fake_checker(redirects_down, max_redirects=4).check("http://a.test/redirect/5")
    assert (verdict.error, verdict.redirects, verdict.status) == (ErrorKind.TOO_MANY_REDIRECTS, 4, 302)
    assert fake_checker(redirects_down, max_redirects=5).check("http://a.test/redirect/5").outcome is Outcome.ALIVE


# -- retries: the waits asked for, none slept ----------------------------------------------------------------------


def test_429_with_retry_after_is_retried_then_alive(fake_checker):
    checker = fake_checker(in_turn(Reply(429, {"Retry-After": "1"}), Reply(200)), retries=2)
    verdict = checker.check("http://a.test/retry-after/1/a")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    assert checker.stop.waits == [1.0]


def test_retry_after_over_the_cap_ends_at_once_as_blocked(fake_checker):
    checker = fake_checker(in_turn(Reply(429, {"Retry-After": "99999"}), Reply(200)), retries=2)
    verdict = checker.check("http://a.test/retry-after/99999/b")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.BLOCKED, 429, 1)
    assert "Retry-After" in verdict.detail
    assert checker.stop.waits == []  # not the 30 s cap, nor a backoff and a retry


def test_retry_after_seconds_is_honoured(fake_checker):
    checker = fake_checker(in_turn(Reply(429, {"Retry-After": "1"}), Reply(200)), retries=1)
    verdict = checker.check("http://a.test/retry-after/1/secs")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    assert checker.stop.waits == [1.0]


def test_retry_after_http_date_is_honoured(fake_checker):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: the wait is in (1, 2]
    checker = fake_checker(in_turn(Reply(429, {"Retry-After": when}), Reply(200)), retries=1)
    verdict = checker.check("http://a.test/retry-after/date")
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.ALIVE, 200, 2)
    [wait] = checker.stop.waits
    assert 0.9 <= wait <= 2.0


def test_retry_after_too_long_ends_at_once(fake_checker):
    checker = fake_checker(in_turn(Reply(429, {"Retry-After": "99999"}), Reply(200)), retries=2)
    verdict = checker.check("http://a.test/retry-after/99999/long")
    assert (verdict.outcome, verdict.status, verdict.error, verdict.attempts) == (Outcome.BLOCKED, 429, None, 1)
    assert "Retry-After" in verdict.detail
    assert checker.stop.waits == []


def test_5xx_is_retried_with_backoff_until_it_recovers(fake_checker):
    checker = fake_checker(in_turn(Reply(503), Reply(503), Reply(200)), retries=2)
    verdict = checker.check("http://a.test/flaky/2/c")
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert len(checker.transport.requests) == 3
    # Exponential backoff (backoff_base 0.05), jittered in the upper half of each step: (0.025, 0.05], (0.05, 0.1].
    first, second = checker.stop.waits
    assert 0.025 <= first <= 0.05 and 0.05 <= second <= 0.1


def test_5xx_that_stays_broken_reports_every_request(fake_checker):
    checker = fake_checker(lambda method, url, headers: Reply(503), retries=1)
    verdict = checker.check("http://a.test/status/503")
    # a 503 to HEAD says "come back later", not "no HEAD here": its retry is the GET, no GET at once
    assert (verdict.outcome, verdict.status, verdict.attempts) == (Outcome.BROKEN, 503, 2)
    assert checker.transport.methods == ["HEAD", "GET"]


def test_a_503_to_head_with_no_retry_left_is_confirmed_with_get(fake_checker):
    checker = fake_checker(lambda method, url, headers: Reply(503), retries=0)
    verdict = checker.check("http://a.test/status/503")
    assert (verdict.outcome, verdict.status, verdict.method, verdict.attempts) == (Outcome.BROKEN, 503, "GET", 2)


# -- what the requests carry -----------------------------------------------------------------------------------------


def test_credentials_are_dropped_when_a_redirect_changes_origin(fake_checker):
    def site(method, url, headers):
        return redirect("http://b.test/ok") if url.startswith("http://a.test/") else Reply(200)

    checker = fake_checker(site, headers=(("Authorization", "Bearer secret"), ("X-Keep", "1")))
    verdict = checker.check("http://a.test/redirect-to")
    assert verdict.outcome is Outcome.ALIVE and verdict.redirects == 1
    first, second = checker.transport.requests
    assert first.headers["Authorization"] == "Bearer secret"
    assert second.url == "http://b.test/ok"
    assert not any(k.lower() == "authorization" for k in second.headers)
    assert second.headers["X-Keep"] == "1"


def test_requests_identify_pcheck_and_refuse_compression(fake_checker):
    checker = fake_checker(lambda method, url, headers: Reply(200))
    checker.check("http://a.test/ok")
    [request] = checker.transport.requests
    assert request.headers["User-Agent"].startswith("Mozilla/5.0 (compatible; pcheck/")
    assert request.headers["Accept-Encoding"] == "identity"


# -- the rules' own pieces -------------------------------------------------------------------------------------------


def test_origin_rule():
    assert not changes_origin("http://a.example/x", "http://a.example:80/y")
    assert changes_origin("http://a.example/", "https://a.example/")
    assert changes_origin("http://a.example/", "http://b.example/")
    assert changes_origin("http://a.example:8080/", "http://a.example:8081/")


def test_retry_after_parsing():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now
    assert parse_retry_after("soon") is None
