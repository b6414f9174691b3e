"""The cost floor of one request, and pcheck's own overhead on top of the path it uses.

    python benchmarks/floor.py            # 3,000 requests per path, 3 rounds; pipeline on 20,000 URLs
    python benchmarks/floor.py --quick

Part 1, floor: in this process, N requests on ONE keep-alive loopback connection to the
lab (its own process), per HTTP path; CPU µs per request from time.process_time().
The lab's per-host connection counter proves the connection was reused.
  requests.Session.get             the default Session (trust_env=True: proxy/.netrc look-ups)
  Session(trust_env=False).get
  HTTPAdapter.send GET             prepare + adapter.send(stream=False)
  HTTPAdapter.send HEAD            Request(...).prepare(), adapter.send(stream=True, proxies={}),
                                   release the connection
  ... PreparedRequest built by hand  the same without prepare()
  pcheck's adapter subclass HEAD   pcheck's path: transport._Adapter (urllib3's response, no
                                   Response/cookies/proxy look-ups) and transport.prepare()
  pcheck Transport.fetch HEAD      pcheck.check.transport.Transport (deadline slot, watchdog, Hop)
  pcheck Checker.check             pcheck.check.checker.Checker: the whole per-URL work of a worker thread
  urllib3 PoolManager GET / HTTPConnectionPool HEAD
  http.client GET / HEAD

Part 2, pipeline: `pcheck check` of the cpu-bound workload with -p 1 (at -t 1 and -t 32), CPU of the whole pcheck tree per URL, gross and marginal (minus a 1-URL run, which is
start-up), against the floor of the path pcheck uses. Also start-up wall times:
`pcheck --help` and `pcheck check URL` (issue 18's targets: < 0.2 s and < 0.35 s, medians).

Writes results/floor[-quick].json and .md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import time

from common import (
    PY, LabProcess, cleanup, wait_quiet, fmt_spread, machine, md_table, measured, spread, workdir, write_results,
)
from workloads import build


#: The HTTP path pcheck uses, whose cost the pipeline is measured against.
FLOOR_PATH = "pcheck's adapter subclass HEAD (pcheck's path)"


def make_paths(host: str, port: int):
    """name -> factory() returning (fn(url, path_and_query), close)."""
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter

    headers = {"User-Agent": "floor", "Accept": "*/*", "Accept-Encoding": "identity"}

    def session_get(trust_env: bool):
        def factory():
            s = requests.Session()
            s.trust_env = trust_env

            def fn(url, pq):
                r = s.get(url, headers=headers, timeout=10)
                r.content
                assert r.status_code == 200
            return fn, s.close
        return factory

    def adapter(method: str, stream: bool):
        def factory():
            a = HTTPAdapter(max_retries=0)

            def fn(url, pq):
                p = requests.Request(method, url, headers=headers).prepare()
                r = a.send(p, stream=stream, timeout=(10, 10), verify=True, cert=None, proxies={})
                if stream:
                    raw = r.raw
                    left = raw.length_remaining
                    if left:
                        raw.read(left, decode_content=False)
                    raw.release_conn()
                else:
                    r.content
                assert r.status_code == 200
            return fn, a.close
        return factory

    def pcheck_adapter():
        """pcheck's path without its deadline: transport._Adapter (no Response object) and prepare()."""
        from pcheck.check.transport import _Adapter, prepare

        a = _Adapter(max_retries=0)

        def fn(url, pq):
            r = a.send(prepare("HEAD", url, headers), stream=True, timeout=(10, 10), verify=True, cert=None, proxies={})
            r.release_conn()
            assert r.status == 200
        return fn, a.close

    def adapter_handmade():
        """A PreparedRequest built by hand instead of Request(...).prepare(), through the stock adapter."""
        from requests.hooks import default_hooks
        from requests.structures import CaseInsensitiveDict

        a = HTTPAdapter(max_retries=0)

        def fn(url, pq):
            p = requests.PreparedRequest()
            p.method, p.url, p.headers, p.body, p.hooks = "HEAD", url, CaseInsensitiveDict(headers), None, default_hooks()
            p._cookies = None
            r = a.send(p, stream=True, timeout=(10, 10), verify=True, cert=None, proxies={})
            left = r.raw.length_remaining
            if left:
                r.raw.read(left, decode_content=False)
            r.raw.release_conn()
            assert r.status_code == 200
        return fn, a.close

    def transport():
        from pcheck.check.transport import Transport

        t = Transport(pool_maxsize=1)

        def fn(url, pq):
            hop = t.fetch("HEAD", url, headers, time.monotonic() + 10)
            assert hop.status == 200
        return fn, t.close

    def checker():
        from pcheck.check.checker import Checker
        from pcheck.config import Config
        from pcheck.check.transport import Transport

        t = Transport(pool_maxsize=1)
        c = Checker(Config(processes=1, threads=1), t)

        def fn(url, pq):
            v = c.check(url)
            assert v.status == 200, v
        return fn, t.close

    def pool_manager():
        pm = urllib3.PoolManager(retries=False)

        def fn(url, pq):
            r = pm.request("GET", url, headers=headers, redirect=False)
            assert r.status == 200
        return fn, pm.clear

    def conn_pool():
        pool = urllib3.HTTPConnectionPool(host, port, maxsize=1, retries=False)

        def fn(url, pq):
            r = pool.urlopen("HEAD", pq, headers=headers, redirect=False, preload_content=False)
            r.drain_conn()
            r.release_conn()
            assert r.status == 200
        return fn, pool.close

    def httpclient(method: str):
        def factory():
            conn = http.client.HTTPConnection(host, port, timeout=10)

            def fn(url, pq):
                conn.request(method, pq, headers=headers)
                r = conn.getresponse()
                r.read()
                assert r.status == 200
            return fn, conn.close
        return factory

    return {
        "requests.Session.get": session_get(True),
        "Session(trust_env=False).get": session_get(False),
        "HTTPAdapter.send GET": adapter("GET", False),
        "HTTPAdapter.send HEAD": adapter("HEAD", True),
        "HTTPAdapter.send HEAD, PreparedRequest built by hand": adapter_handmade,
        "pcheck's adapter subclass HEAD (pcheck's path)": pcheck_adapter,
        "pcheck Transport.fetch HEAD": transport,
        "pcheck Checker.check (HEAD)": checker,
        "urllib3 PoolManager GET": pool_manager,
        "urllib3 HTTPConnectionPool HEAD": conn_pool,
        "http.client GET": httpclient("GET"),
        "http.client HEAD": httpclient("HEAD"),
    }


def floor(lab: LabProcess, n: int, rounds: int) -> tuple[list[dict], list[list[str]]]:
    host, port = lab.addresses[0], lab.port
    paths = make_paths(host, port)
    names = list(paths)
    samples: dict[str, list[tuple[float, float, int]]] = {x: [] for x in names}
    counter = 0
    for r in range(rounds):
        wait_quiet()
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            fn, close = paths[name]()
            for _ in range(20):  # warm up: open the connection, fill caches
                counter += 1
                pq = f"/ok?i={counter}"
                fn(f"http://{host}:{port}{pq}", pq)
            conns0 = lab.stats()[host]["connections"]
            urls = []
            for _ in range(n):
                counter += 1
                pq = f"/ok?i={counter}"
                urls.append((f"http://{host}:{port}{pq}", pq))
            c0, w0 = time.process_time(), time.perf_counter()
            for url, pq in urls:
                fn(url, pq)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            opened = lab.stats()[host]["connections"] - conns0 - 1  # minus the stats request's own
            close()
            samples[name].append((cpu / n * 1e6, wall / n * 1e6, opened))
            print(f"  round {r + 1} {name:<38} {cpu / n * 1e6:7.1f} µs CPU/request, "
                  f"{wall / n * 1e6:7.1f} µs wall, {opened} connection(s) opened", flush=True)
    rows, table = [], []
    base = statistics.median(x[0] for x in samples["urllib3 HTTPConnectionPool HEAD"])
    for name in names:
        cpu = spread([x[0] for x in samples[name]])
        wall = spread([x[1] for x in samples[name]])
        opened = max(x[2] for x in samples[name])
        rows.append({"path": name, "cpu_us": cpu, "wall_us": wall, "connections_opened": opened})
        table.append([name, fmt_spread(cpu, 0), fmt_spread(wall, 0), f"{cpu['median'] / base:.2f}x", opened])
    return rows, table


def pipeline(lab: LabProcess, scale: float, rounds: int, tmp: str, timeout: float):
    w = build("cpu-bound", lab, scale)
    n = len(w.urls)
    urls_file = w.save(tmp)
    one_file = os.path.join(tmp, "one.txt")
    with open(one_file, "w") as f:
        f.write(f"http://{lab.addresses[0]}:{lab.port}/ok?one=1\n")
    configs = {"-p 1 -t 1": ["-p", "1", "-t", "1"], "-p 1 -t 32": ["-p", "1", "-t", "32"]}
    res: dict[str, dict[str, list[float]]] = {}
    for r in range(rounds):
        for label, opts in configs.items():
            for what, file, count in (("one", one_file, 1), ("all", urls_file, n)):
                out = os.path.join(tmp, f"p-{r}.jsonl")
                cmd = [PY, "-m", "pcheck", "check", file, "--format", "jsonl", "-o", out, "--no-progress", "--host-interval", "0", *opts]
                run = measured(cmd, timeout, tmp, f"pipe-{r}")
                lines = sum(1 for _ in open(out)) if os.path.exists(out) else 0
                if lines != count or run.returncode != 0:
                    print(f"  PROBLEM {label} {what}: rc={run.returncode} lines={lines}/{count} {run.stderr_tail[-300:]}")
                d = res.setdefault(label, {"one_cpu": [], "one_wall": [], "all_cpu": [], "all_wall": [],
                                           "one_parent": [], "all_parent": []})
                d[f"{what}_parent"].append(run.main_cpu_s or 0.0)
                d[f"{what}_cpu"].append(run.cpu_s)
                d[f"{what}_wall"].append(run.wall_s)
                print(f"  round {r + 1} pcheck {label} {count:>6} URL(s): {run.wall_s:6.2f} s wall, "
                      f"{run.cpu_s:6.2f} s CPU (tree), parent {run.main_cpu_s or 0:5.2f} s, "
                      f"other load {run.busy_before:.2f} cores", flush=True)
    return n, res


def startup(lab: LabProcess, rounds: int, tmp: str) -> dict:
    url = f"http://{lab.addresses[0]}:{lab.port}/ok?startup=1"
    # The console script pip installed for this interpreter, as in a venv: a pyenv shim found on
    # PATH first would add its own ~0.15 s (a bash script that execs pyenv).
    beside = os.path.join(os.path.dirname(PY), "pcheck")
    exe = beside if os.access(beside, os.X_OK) else shutil.which("pcheck")
    cmds = {"python -m pcheck --help": [PY, "-m", "pcheck", "--help"],
            "python -m pcheck check URL": [PY, "-m", "pcheck", "check", url, "--no-progress"]}
    if exe:
        cmds["pcheck --help"] = [exe, "--help"]
        cmds["pcheck check URL"] = [exe, "check", url, "--no-progress"]
        # What one URL costs when it does go to a worker process (an explicit -p): the fork server and a worker.
        cmds["pcheck check URL -p 1"] = [exe, "check", url, "--no-progress", "-p", "1"]
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for r in range(rounds):
        for name, cmd in cmds.items():
            run = measured(cmd, 60, tmp, "startup")
            out[name].append((run.wall_s, run.cpu_s))
            print(f"  round {r + 1} {name:<28} {run.wall_s:5.2f} s wall, {run.cpu_s:5.2f} s CPU", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 requests per path, 2 rounds, pipeline on 2,000 URLs")
    ap.add_argument("--requests", "-n", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--startup-only", action="store_true", help="only the start-up table (results/startup.*)")
    args = ap.parse_args()
    n = args.requests or (500 if args.quick else 3000)
    rounds = args.rounds or (2 if args.quick else 3)
    scale = 0.1 if args.quick else 1.0
    tmp = workdir("floor")
    if args.startup_only:
        try:
            with LabProcess(1) as lab:
                starts = startup(lab, max(5, rounds), tmp)
        finally:
            cleanup(tmp)
        srows = [[name, fmt_spread(spread([x[0] for x in v])), fmt_spread(spread([x[1] for x in v]))]
                 for name, v in starts.items()]
        info = machine()
        md = (f"## start-up (targets: --help < 0.2 s, a single URL < 0.35 s)\n\nMachine: {info['usable_cores']} usable "
              f"cores ({info['cpu']}), Python {info['python']}, {info['when']}. Median (min-max).\n\n"
              + md_table(["command", "wall s", "CPU s (tree)"], srows))
        write_results("startup", {"machine": info, "startup": {k: [{"wall_s": a, "cpu_s": b} for a, b in v]
                                                                for k, v in starts.items()}}, md)
        print(md)
        return 0
    try:
        with LabProcess(50) as lab:
            print(f"floor: {n} requests per path, {rounds} rounds; lab port {lab.port}", flush=True)
            rows, table = floor(lab, n, rounds)
            print("pipeline:", flush=True)
            pn, pipe = pipeline(lab, scale, rounds, tmp, args.timeout)
            print("start-up:", flush=True)
            starts = startup(lab, max(3, rounds), tmp)
    finally:
        cleanup(tmp)

    by_path = {r["path"]: r for r in rows}
    floor_head = by_path[FLOOR_PATH]["cpu_us"]["median"]
    floor_checker = by_path["pcheck Checker.check (HEAD)"]["cpu_us"]["median"]
    prow, ptable = [], []
    for label, d in pipe.items():
        gross = [c / pn * 1e6 for c in d["all_cpu"]]
        marginal = [(a - o) / (pn - 1) * 1e6 for a, o in zip(d["all_cpu"], d["one_cpu"])]
        g, m = spread(gross), spread(marginal)
        parent = spread([(a - o) / (pn - 1) * 1e6 for a, o in zip(d["all_parent"], d["one_parent"])])
        prow.append({"config": label, "urls": pn, "gross_cpu_us_per_url": g, "marginal_cpu_us_per_url": m,
                     "startup_cpu_s": spread(d["one_cpu"]), "parent_marginal_cpu_us_per_url": parent,
                     "wall_s": spread(d["all_wall"]),
                     "over_floor_gross": g["median"] / floor_head, "over_floor_marginal": m["median"] / floor_head})
        ptable.append([f"pcheck {label}", pn, fmt_spread(d["all_wall"] and spread(d["all_wall"])),
                       fmt_spread(g, 0), fmt_spread(m, 0), fmt_spread(parent, 0), fmt_spread(spread(d["one_cpu"])),
                       f"{g['median'] / floor_head:.2f}x", f"{m['median'] / floor_head:.2f}x",
                       f"{m['median'] / floor_checker:.2f}x"])
    srows = [[name, fmt_spread(spread([x[0] for x in v])), fmt_spread(spread([x[1] for x in v]))]
             for name, v in starts.items()]
    info = machine()
    md = (f"## floor: CPU per request on one keep-alive loopback connection ({n} requests x {rounds} rounds)\n\n"
          f"Machine: {info['usable_cores']} usable cores ({info['cpu']}), Python {info['python']}, {info['when']}. "
          "Client in this process (time.process_time), lab server in its own process. Median (min-max).\n\n"
          + md_table(["path", "CPU µs / request", "wall µs / request", "vs urllib3 pool HEAD", "connections opened"], table)
          + f"\n## pipeline: pcheck on the cpu-bound workload ({pn} URLs over 50 hosts), whole tree CPU\n\n"
          "gross = tree CPU / URLs; marginal = (tree CPU - CPU of a 1-URL run) / (URLs - 1), i.e. without "
          f"start-up. Floor = {FLOOR_PATH} = {floor_head:.0f} µs; "
          f"Checker.check alone = {floor_checker:.0f} µs. Target: pipeline at most 1.25x its path's floor.\n\n"
          + md_table(["run", "URLs", "wall s", "gross CPU µs/URL", "marginal CPU µs/URL", "of which parent", "1-URL run CPU s",
                      "gross / floor", "marginal / floor", "marginal / Checker.check"], ptable)
          + "\n## start-up (targets: --help < 0.2 s, a single URL < 0.35 s)\n\n"
          + md_table(["command", "wall s", "CPU s (tree)"], srows))
    write_results("floor" + ("-quick" if args.quick else ""),
                  {"machine": info, "requests_per_path": n, "rounds": rounds, "floor": rows, "pipeline": prow,
                   "startup": {k: [{"wall_s": a, "cpu_s": b} for a, b in v] for k, v in starts.items()}}, md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
