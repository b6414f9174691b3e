"""The Ray distributor, on a simulated multi-node cluster (ray.cluster_utils.Cluster): a head node with
no CPUs, so every shard runs on one of two worker nodes, as it would on a real cluster.

The same verdicts as the process pool; a task killed mid-shard, or a whole worker node removed mid-run,
loses no URL; --max-per-host holds across the nodes, measured where it matters: at the site; the
ledger's read-ahead bound holds as in the pool. One cluster serves the module (starting one costs
seconds); every test in it runs on one xdist worker (group "ray"), so two clusters never meet.
"""

from __future__ import annotations

import collections
import os
import threading
import signal
import time
from typing import Iterator

import pytest

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:
    if os.environ.get("PCHECK_REQUIRE_RAY"):  # CI installs the extra: a skip there would hide a failure
        raise
    pytest.skip("Ray is not installed: pip install 'pcheck[ray]'", allow_module_level=True)

from pcheck import check_urls  # noqa: E402
from pcheck.config import Config  # noqa: E402
from pcheck.inputs.sources import parse_url  # noqa: E402
from pcheck.lab import Lab  # noqa: E402
from pcheck.models import ARGS_SOURCE, ErrorKind, Outcome, Target  # noqa: E402
from pcheck.run.ray import SHARDS_PER_CPU, RayRun  # noqa: E402
from support.fast import FAST_CONFIG  # noqa: E402

pytestmark = [pytest.mark.timeout(150), pytest.mark.xdist_group("ray")]

QUICK = {"timeout": 3.0, "retries": 0, "recheck_after": 0}
SLOW_MS = 2000
HOSTS = 4  # 127.0.0.1-4 fall in four different buckets of pcheck's eight
WORKER_NODES = 2
RUN_LIMIT_S = 60  # a whole check_urls run, removal and retry included
REMOVAL_LIMIT_S = 30  # for a shard to be seen talking to the site from a worker node


@pytest.fixture(scope="module")
def cluster():
    """A head node with no CPUs and two one-CPU worker nodes; the driver (this process) joins it."""
    if ray.is_initialized():  # another module's local cluster: leave no driver connected to it
        ray.shutdown()
    sim = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        for _ in range(WORKER_NODES):
            sim.add_node(num_cpus=1)
        sim.wait_for_nodes()
        ray.init(address=sim.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        yield sim
    finally:
        ray.shutdown()
        sim.shutdown()


@pytest.fixture
def two_workers(cluster):
    """The cluster with both worker nodes up (a test that removed one may have run before)."""
    _two_nodes_up(cluster)
    return cluster


@pytest.fixture
def site():
    with Lab(hosts=HOSTS) as lab:
        yield lab


def test_per_host_cap_holds_across_two_worker_nodes(two_workers, site):
    urls = [site.url(f"delay/100?i={i}", i % HOSTS) for i in range(48)]  # 8 shards of 6, one host each
    seen: set[int] = set()  # raylet pids of the worker nodes seen checking against the site
    done = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + RUN_LIMIT_S
        while not done.is_set() and time.monotonic() < deadline:
            seen.update(_raylet(node) for node in _nodes_checking(two_workers, site.port))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, name="node-watch", daemon=True)
    watcher.start()
    try:
        results = list(check_urls(urls, distributor="ray", ray_address=two_workers.address,
                                  shard_size=6, threads=8, max_per_host=3, **FAST_CONFIG))
    finally:
        done.set()
        watcher.join(5)
    assert seen == {_raylet(node) for node in two_workers.worker_nodes}, "shards did not run on both worker nodes"
    assert sorted(r.url for r in results) == sorted(urls)
    assert [r.outcome.value for r in results] == ["alive"] * len(urls)
    stats = site.snapshot()
    for address in site.addresses:
        assert 2 <= stats[address].max_in_flight <= 3, (address, stats[address])


def _two_nodes_up(cluster) -> None:
    """Both worker nodes up, and counted in the cluster's CPUs (what pcheck sizes its run by)."""
    while len(cluster.worker_nodes) < WORKER_NODES:
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    deadline = time.monotonic() + 30
    while ray.cluster_resources().get("CPU", 0) < WORKER_NODES:
        assert time.monotonic() < deadline, f"cluster CPUs never reached {WORKER_NODES}: {ray.cluster_resources()}"
        time.sleep(0.1)


#: Runs tried for a removal that lands inside a shard's requests (see below); each lasts about 3 s.
REMOVAL_ATTEMPTS = 3


def test_a_worker_node_removed_mid_run_loses_nothing_and_keeps_the_cap(two_workers, site):
    """Every attempt must lose nothing and keep the cap. The node is removed while one of its shards holds
    a connection to the site; on a loaded machine that shard may already have all its answers, and then
    Ray has nothing to retry. So the run is tried again (at most REMOVAL_ATTEMPTS times) until a removal
    lands mid-shard, shown by URLs asked of the site twice: the retry path must have been exercised."""
    cap = 2
    urls = [site.url(f"delay/300?i={i}", i % HOSTS) for i in range(48)]  # 12 shards of 4, 0.6 s each
    requests_seen = []
    for _ in range(REMOVAL_ATTEMPTS):
        _two_nodes_up(two_workers)
        site.reset_stats()
        results, before_removal = _remove_a_node_mid_run(two_workers, site, urls, cap)
        assert before_removal < len(urls), "the node was removed after the run had finished"
        # Nothing lost, nothing doubled: one result per URL, the same URLs back.
        assert len(results) == len(urls)
        assert collections.Counter(r.url for r in results) == collections.Counter(urls)
        # The removed node's shards were checked again on the node left: every URL alive.
        not_alive = [(r.url, r.outcome.value, r.error, r.detail) for r in results if r.outcome.value != "alive"]
        assert not_alive == []
        # The cap held at the site, across both nodes and through the retry.
        stats = site.snapshot()
        for address in site.addresses:
            assert 1 <= stats[address].max_in_flight <= cap, (address, stats[address])
        requests_seen.append(sum(s.requests for s in stats.values()))
        if requests_seen[-1] > len(urls):  # one request per URL otherwise: this removal cut a shard short
            return
    pytest.fail(f"no removal landed inside a shard's requests in {REMOVAL_ATTEMPTS} runs "
                f"(site requests per run: {requests_seen}, URLs: {len(urls)})")


def _remove_a_node_mid_run(cluster, site, urls: list[str], cap: int) -> tuple[list, int]:
    """Run the check in a thread; remove a worker node once a shard there talks to the site. (results, count before)."""
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for result in check_urls(urls, distributor="ray", ray_address=cluster.address,
                                     shard_size=4, threads=4, max_per_host=cap, **FAST_CONFIG):
                results.append(result)  # list.append is atomic: the main thread only reads len()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    checker = threading.Thread(target=run, name="pcheck-ray-run", daemon=True)
    checker.start()
    # Remove a worker node once a shard has come back (the run is under way, workers warm) and a
    # shard on that node holds a connection to the site.
    victim = None
    deadline = time.monotonic() + REMOVAL_LIMIT_S
    while victim is None:
        assert not errors, errors
        assert checker.is_alive(), f"the run ended ({len(results)} results) before a node could be removed"
        assert time.monotonic() < deadline, "no shard was seen checking on a worker node"
        if len(results) >= 4:
            victim = next(iter(_nodes_checking(cluster, site.port)), None)
        if victim is None:
            time.sleep(0.02)
    before_removal = len(results)
    cluster.remove_node(victim)
    assert len(cluster.worker_nodes) == WORKER_NODES - 1
    checker.join(RUN_LIMIT_S)
    assert not checker.is_alive(), f"the run did not end within {RUN_LIMIT_S} s of the removal ({len(results)} results)"
    assert not errors, errors
    return results, before_removal


def mixed(lab):
    urls = [lab.url(f"ok?i={i}", i % 4) for i in range(60)]
    urls += [lab.url("status/404"), lab.url("redirect/3", 1), lab.url("loop/a/r"), lab.url("challenge", 2),
             lab.url("head-refused"), "not a url", lab.url("ok?i=1", 1)]
    urls += [lab.url("page/a,b#a"), lab.url("page/a,b#zzz"), lab.url("page/a,b")]  # fragments judged the same
    return urls


def test_ray_gives_the_same_verdicts_as_the_process_pool(two_workers, lab):
    urls = mixed(lab)
    options = {**QUICK, "include_fragments": True}
    by_ray = sorted((r.url, r.outcome, r.status, r.error) for r in check_urls(urls, distributor="ray", shard_size=16, **options))
    by_pool = sorted((r.url, r.outcome, r.status, r.error) for r in check_urls(urls, processes=2, **options))
    assert by_ray == by_pool
    assert len(by_ray) == len(urls)
    assert (lab.url("page/a,b#zzz"), Outcome.BROKEN, 200, ErrorKind.MISSING_FRAGMENT) in by_ray


def test_a_task_killed_mid_shard_is_retried_and_nothing_is_lost(two_workers, lab):
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
    results = list(check_urls(urls, distributor="ray", shard_size=60, threads=4, max_per_host=4, **QUICK))
    watcher.join(5)
    assert killed, "the shard's worker was never seen running"
    assert sorted(r.url for r in results) == sorted(urls)
    assert all(r.outcome is Outcome.ALIVE for r in results)


def test_per_host_cap_holds_cluster_wide(two_workers, lab):
    urls = [lab.url(f"delay/50?i={i}", i % 2) for i in range(80)]
    results = list(check_urls(urls, distributor="ray", shard_size=10, threads=8, max_per_host=3, **QUICK))
    assert len(results) == 80 and all(r.outcome is Outcome.ALIVE for r in results)
    for address in ("127.0.0.1", "127.0.0.2"):
        assert 2 <= lab.snapshot()[address].max_in_flight <= 3


def test_the_ray_distributor_bounds_the_occurrences_of_one_slow_url_too(two_workers, lab):
    """The ledger's read-ahead bound counts occurrences under Ray as in the pool (test_memory_bounds has the pool's)."""
    slow = parse_url(lab.url(f"delay/{SLOW_MS}"), ARGS_SOURCE, None)
    config = Config(distributor="ray", shard_size=10, timeout=10.0, retries=0)
    in_flight = 10 * 2 * SHARDS_PER_CPU  # shards of 10, on two CPUs
    bound = 2 * in_flight + in_flight  # a window of waiting shards, and those in flight
    copies = 5_000
    held: list[int] = []
    run = RayRun(config)

    def items() -> Iterator[Target]:
        for _ in range(copies):
            held.append(sum(len(task.occurrences) for task in run.ledger.tasks.values()))
            yield slow

    results = list(run.results(items()))
    assert max(held) <= bound
    assert len(results) == copies and {r.outcome for r in results} == {Outcome.ALIVE}


def _nodes_checking(sim: Cluster, port: int) -> list:
    """The worker nodes running a `check_shard` task that has a connection open to the site on `port`.

    Ray titles a worker process `ray::<task>` while it runs one; a node's workers are its raylet's children.
    """
    connected = _established_inodes(port)
    return [node for node in list(sim.worker_nodes)
            if any(_socket_inodes(pid) & connected for pid in _children_running(_raylet(node), "ray::check_shard"))]


def _raylet(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def _children_running(parent: int | None, title: str) -> list[int]:
    """Processes whose command line holds `title`, children of `parent` (None: of any parent)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if title.encode() not in f.read():
                    continue
            if parent is None:
                pids.append(int(entry))
                continue
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent:
            pids.append(int(entry))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    except OSError:
        pass
    return inodes


def _established_inodes(port: int) -> set[str]:
    """Inodes of client sockets connected to `port` (on any loopback address)."""
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                remote, state, inode = fields[2], fields[3], fields[9]
                if state == "01" and int(remote.rpartition(":")[2], 16) == port:
                    inodes.add(inode)
    except OSError:
        pass
    return inodes


def _pids_running(word: str) -> list[int]:
    return _children_running(None, word)
