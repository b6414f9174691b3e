"""The Ray distributor: same verdicts as the process pool, nothing lost when a task dies, per-host cap kept."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

try:
    import ray
except ImportError:
    if os.environ.get("PCHECK_REQUIRE_RAY"):  # CI installs the extra: a skip there would hide a failure
        raise
    pytest.skip("Ray is not installed: pip install 'pcheck[ray]'", allow_module_level=True)

from pcheck import check_urls  # noqa: E402
from pcheck.models import Outcome  # noqa: E402

pytestmark = pytest.mark.timeout(120)
FAST = {"timeout": 3.0, "retries": 0}


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def mixed(lab):
    urls = [lab.url(f"ok?i={i}", i % 4) for i in range(60)]
    urls += [lab.url("status/404"), lab.url("redirect/3", 1), lab.url("loop/a/r"), lab.url("challenge", 2),
             lab.url("head-refused"), "not a url", lab.url("ok?i=1", 1)]
    return urls


def test_ray_gives_the_same_verdicts_as_the_process_pool(lab):
    urls = mixed(lab)
    by_ray = sorted((r.url, r.outcome, r.status, r.error) for r in check_urls(urls, distributor="ray", shard_size=16, **FAST))
    by_pool = sorted((r.url, r.outcome, r.status, r.error) for r in check_urls(urls, processes=2, **FAST))
    assert by_ray == by_pool
    assert len(by_ray) == len(urls)


def test_a_task_killed_mid_shard_is_retried_and_nothing_is_lost(lab):
    killed = []

    def kill_shard_worker():
        # The shard takes ~3 s (60 URLs x 0.2 s / 4 threads); kill its worker as soon as it runs.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            for pid in _pids_running("ray::check_shard"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_shard_worker, daemon=True)
    watcher.start()
    urls = [lab.url(f"delay/200?i={i}") for i in range(60)]
    results = list(check_urls(urls, distributor="ray", shard_size=60, threads=4, max_per_host=4, **FAST))
    watcher.join(5)
    assert killed, "the shard's worker was never seen running"
    assert sorted(r.url for r in results) == sorted(urls)
    assert all(r.outcome is Outcome.ALIVE for r in results)


def test_per_host_cap_holds_cluster_wide(lab):
    urls = [lab.url(f"delay/50?i={i}", i % 2) for i in range(80)]
    results = list(check_urls(urls, distributor="ray", shard_size=10, threads=8, max_per_host=3, **FAST))
    assert len(results) == 80 and all(r.outcome is Outcome.ALIVE for r in results)
    for address in ("127.0.0.1", "127.0.0.2"):
        assert 2 <= lab.snapshot()[address].max_in_flight <= 3


def _pids_running(word: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if word.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids
