"""Slow and hostile servers: every attempt ends within its deadline, and nothing is read that need not be.

These need real sockets (the local site, pcheck.lab): stalls, dripped headers and bodies, endless bodies,
a connection reset. The Checker's rules without sockets are in test_checker.py.
"""

from __future__ import annotations

import email.utils
import time
from urllib.parse import quote

import pytest
from support import faults as fh
from support.runs import GRACE_S, in_flight, one_result_each

from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.config import Config
from pcheck.lab import Lab
from pcheck.models import ErrorKind, Outcome, Verdict


def _check(lab: Lab, path: str, **options) -> tuple[Verdict, float]:
    config = Config(processes=1, threads=1, **options)
    transport = Transport(pool_maxsize=1)
    try:
        started = time.monotonic()
        verdict = Checker(config, transport).check(lab.url(path))
        return verdict, time.monotonic() - started
    finally:
        transport.close()


TIMEOUT_S = 1.0
#: The attempt deadline for servers that stall: still five header bytes of /drip-headers (one per 0.1 s).
STALL_TIMEOUT_S = 0.5


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path, method", [("/hang", "head"), ("/drip-headers", "head"), ("/drip-headers", "get")])
def test_server_that_stalls_times_out_per_attempt(lab, path, method):
    verdict, elapsed = _check(lab, path, method=method, timeout=STALL_TIMEOUT_S, retries=1, backoff_base=0.01,
                              backoff_cap=0.01)
    print(f"\n[fault] {path} ({method}): {elapsed:.2f} s, {verdict.outcome.value}/{verdict.error}, "
          f"{verdict.attempts} attempts")
    assert verdict.outcome is Outcome.BROKEN and verdict.error is ErrorKind.TIMEOUT
    assert verdict.attempts == 2
    assert 2 * STALL_TIMEOUT_S <= elapsed < 2 * (STALL_TIMEOUT_S + GRACE_S)
    # Nothing is left hanging at the site: the watchdog closed each socket at its deadline.
    fh.wait_until(lambda: in_flight(lab) == 0, 2.0, "requests still open at the site")


@pytest.mark.timeout(30)
def test_drip_body_with_get_is_alive_within_timeout(lab):
    verdict, elapsed = _check(lab, "/drip-body", method="get", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /drip-body (get): {elapsed:.2f} s, {verdict}")
    assert elapsed < TIMEOUT_S + GRACE_S
    assert (verdict.outcome, verdict.status, verdict.error) == (Outcome.ALIVE, 200, None)


@pytest.mark.timeout(30)
def test_drip_body_ends_within_timeout(lab):
    """Whatever the verdict, a dripped body never holds a thread past the attempt deadline."""
    verdict, elapsed = _check(lab, "/drip-body", method="get", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /drip-body (get): {elapsed:.2f} s, {verdict.outcome.value}/{verdict.error}")
    assert elapsed < TIMEOUT_S + GRACE_S
    fh.wait_until(lambda: in_flight(lab) == 0, 2.0, "the dripping response is still open at the site")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["head", "get"])
def test_endless_redirect_body_is_not_read(lab, method):
    verdict, elapsed = _check(lab, "/redirect-endless-body", method=method, timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /redirect-endless-body ({method}): {elapsed:.3f} s, {verdict.outcome.value}")
    assert (verdict.outcome, verdict.status, verdict.redirects) == (Outcome.ALIVE, 200, 1)
    assert verdict.final_url == lab.url("/ok")
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20  # the hop's endless body was not read
    assert elapsed < 0.9 * TIMEOUT_S  # nor cut by the deadline


@pytest.mark.timeout(30)
def test_endless_body_with_get_is_not_read(lab):
    verdict, elapsed = _check(lab, "/endless", method="get", timeout=TIMEOUT_S, retries=0)
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20
    assert elapsed < 0.9 * TIMEOUT_S  # not cut by the deadline


@pytest.mark.timeout(30)
def test_reset_on_head_falls_back_to_get(lab):
    verdict, elapsed = _check(lab, "/reset-on-head", timeout=TIMEOUT_S, retries=0)
    print(f"\n[fault] /reset-on-head: {elapsed:.3f} s, {verdict.outcome.value} via {verdict.method}")
    assert (verdict.outcome, verdict.status, verdict.method) == (Outcome.ALIVE, 200, "GET")
    assert elapsed < TIMEOUT_S
    methods = [e.method for e in lab.log if e.target == "/reset-on-head"]
    assert methods == ["HEAD", "GET"]


@pytest.mark.timeout(40)
def test_hostile_servers_through_the_pool(lab, start_method):
    """The same behaviours through check_urls: each URL one result, the run bounded by its slowest URL."""
    from pcheck import check_urls

    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    cases = {
        lab.url("/hang"): ("broken", "timeout"),
        lab.url("/drip-headers"): ("broken", "timeout"),
        lab.url("/redirect-endless-body"): ("alive", None),
        lab.url("/reset-on-head"): ("alive", None),
        lab.url("/retry-after/1/pool"): ("alive", None),
        lab.url(f"/retry-after/{quote(when, safe='')}/pool"): ("alive", None),
        lab.url("/retry-after/99999/pool"): ("blocked", None),
    }
    started = time.monotonic()
    results = list(check_urls(cases, processes=2, threads=8, timeout=TIMEOUT_S, retries=1,
                              backoff_base=0.01, backoff_cap=0.01, start_method=start_method,
                              recheck_after=0, host_interval=0))  # the bound is one check's: no late re-check
    elapsed = time.monotonic() - started
    one_result_each(results, list(cases))
    got = {r.url: (r.outcome.value, r.error.value if r.error else None) for r in results}
    assert got == cases
    assert elapsed < 2 * (TIMEOUT_S + GRACE_S) + 3.0  # two timed-out attempts, plus start-up
