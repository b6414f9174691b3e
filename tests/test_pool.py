"""The process pool: exactly one result per input occurrence, per-host limits, clean exits."""

from __future__ import annotations

import collections
import os

import pytest

from pcheck import check_urls
from pcheck.config import Config
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import parse_url
from pcheck.models import Outcome
from pcheck.run.pool import CheckRun
from pcheck.run.procs import mp_context

pytestmark = pytest.mark.timeout(60)

FAST = {"timeout": 2.0, "retries": 0, "recheck_after": 0}


def mixed_urls(lab, n=40):
    urls = [lab.url(f"ok?i={i}", i % 4) for i in range(n)]
    urls += [lab.url("status/404"), lab.url("redirect/2", 1), lab.url("challenge", 2)]
    urls += ["not a url", "ftp://example.com/"]
    urls += urls[:5]  # duplicates: checked once, reported per occurrence
    return urls


@pytest.mark.parametrize("processes", [1, 2, 4])
@pytest.mark.parametrize("threads", [1, 8])
def test_exactly_one_result_per_input_url(lab, processes, threads):
    urls = mixed_urls(lab)
    results = list(check_urls(urls, processes=processes, threads=threads, **FAST))
    assert sorted(r.url for r in results) == sorted(urls)
    by_url = {r.url: r.outcome for r in results}
    assert by_url[lab.url("status/404")] is Outcome.BROKEN
    assert by_url[lab.url("challenge", 2)] is Outcome.BLOCKED
    assert by_url["not a url"] is Outcome.INVALID
    assert collections.Counter(r.outcome for r in results)[Outcome.ALIVE] == 40 + 1 + 5


def test_a_duplicate_is_checked_once_and_reported_for_each_occurrence(lab):
    url = lab.url("ok?dup=1")
    results = list(check_urls([url, lab.url("ok?other=1"), url, url], processes=2, **FAST))
    assert [r.url for r in results].count(url) == 3
    assert sum(1 for r in lab.log if "dup=1" in r.target) == 1


def test_occurrences_keep_their_own_source_and_line(lab):
    url = lab.url("ok")
    items = [parse_url(url, "a.txt", 3), parse_url(url, "b.txt", 7), parse_url(url.replace("http://", "HTTP://") + "#frag", "c.txt", 1)]
    with CheckRun(Config(processes=1, **FAST)) as run:
        results = list(run.results(items))
    assert sorted((r.source, r.line) for r in results) == [("a.txt", 3), ("b.txt", 7), ("c.txt", 1)]
    assert all(r.outcome is Outcome.ALIVE for r in results)


def test_per_host_cap_holds_across_processes(lab):
    urls = [lab.url(f"delay/50?i={i}", i % 2) for i in range(60)]
    results = list(check_urls(urls, processes=2, threads=16, max_per_host=3, **FAST))
    assert all(r.outcome is Outcome.ALIVE for r in results) and len(results) == 60
    stats = lab.snapshot()
    for address in ("127.0.0.1", "127.0.0.2"):
        assert 2 <= stats[address].max_in_flight <= 3  # concurrency did build up, and never past the cap


def test_workers_are_gone_after_a_run(lab):
    with CheckRun(Config(processes=2, **FAST)) as run:
        results = list(run.results([parse_url(lab.url("ok"), ARGS_SOURCE, None)]))
        processes = [w.process for w in run._workers]
        pids = [p.pid for p in processes]
    assert len(results) == 1 and len(pids) == 2
    for process, pid in zip(processes, pids):
        assert process.exitcode is not None  # joined: no zombie
        assert not os.path.exists(f"/proc/{pid}")


def test_the_default_start_method_never_forks():
    assert mp_context().get_start_method() in ("forkserver", "spawn")


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_every_supported_start_method_checks_the_same(lab, method):
    urls = mixed_urls(lab, n=10)
    results = list(check_urls(urls, processes=2, threads=4, start_method=method, **FAST))
    assert sorted(r.url for r in results) == sorted(urls)


def test_library_results_are_typed_and_picklable(lab):
    import pickle

    [result] = list(check_urls([lab.url("status/404")], processes=1, **FAST))
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.to_record()["outcome"] == "broken" and result.ok is False
