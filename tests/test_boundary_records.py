"""The records that cross pcheck's boundaries (issue 31): an `Order` down a task pipe, an `Answered` up a
result pipe, a `CheckResult` made from a `Verdict` by field name; the tally the session owns and every
reporter counts in; the interrupts both distributors count."""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys
from types import SimpleNamespace

import pytest

from pcheck.config import FORMATS, Config
from pcheck.inputs.sources import parse_url
from pcheck.models import ARGS_SOURCE, VERDICT_ONLY, Answered, CheckResult, ErrorKind, Order, Outcome, PageAnchors, Summary, Verdict
from pcheck.output.reports import make_reporter
from pcheck.run.pool import CheckRun
from pcheck.run.ray import RayRun
from pcheck.run.signals import Interruptible


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


def test_the_records_on_the_pipes_are_named_and_come_back_as_themselves():
    order = Order(7, "https://example.com/", "example.com", anchors=True, method="GET", last=True)
    answered = Answered(7, Verdict(Outcome.ALIVE, status=200, final_url="https://example.com/"))
    for record in (order, answered):
        back = pickle.loads(pickle.dumps([record], pickle.HIGHEST_PROTOCOL))[0]
        assert back == record and type(back) is type(record)
    assert Order(1, "https://a/", "a") == (1, "https://a/", "a", False, None, False, False)  # the defaults: a first try, no page
    assert order.url == "https://example.com/" and answered.verdict.status == 200


def test_a_check_result_takes_every_verdict_field_but_the_ones_never_recorded():
    """A field added to Verdict must reach the CheckResult (and its record), or be said never to."""
    verdict_fields = {f.name for f in dataclasses.fields(Verdict)}
    result_fields = {f.name for f in dataclasses.fields(CheckResult)}
    assert VERDICT_ONLY <= verdict_fields
    assert verdict_fields - VERDICT_ONLY <= result_fields, "a Verdict field no CheckResult has: carry it, or VERDICT_ONLY"
    values = {"outcome": Outcome.BROKEN, "status": 418, "error": ErrorKind.TIMEOUT, "final_url": "https://b/",
              "redirects": 3, "method": "GET", "attempts": 4, "elapsed_ms": 12.5, "detail": "why",
              "anchors": PageAnchors(frozenset({"x"})), "retry_after_s": 1.0, "quota_wait_s": 2.0,
              "page": ((), False, None, frozenset())}
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

