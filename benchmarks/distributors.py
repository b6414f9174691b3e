"""multiprocessing vs Ray on one machine: start-up cost and throughput on the same local workload.

    python benchmarks/distributors.py            # cpu-bound at 1/10 scale and latency-bound at 1/10, 3 rounds
    python benchmarks/distributors.py --quick    # 1 round

Needs the Ray extra (pip install 'pcheck[ray]'). Each run is the real CLI
(`python -m pcheck check FILE --distributor D`), measured over its whole
process tree (Ray's local cluster included) by measure.py. "start-up" is a
run of one URL: what the distributor costs before the first check.
"""

from __future__ import annotations

import argparse
import sys

from common import (LabProcess, count_lines, fmt_spread, machine, md_table, measured, spread, workdir, cleanup,
                    write_results, PY)
from workloads import build, hosts_needed

DISTRIBUTORS = ("multiprocessing", "ray")
WORKLOADS = ("cpu-bound", "latency-bound")
SCALE = 0.1
TIMEOUT_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    tmp = workdir("pcheck-dist-")
    rows, data = [], {"machine": machine(), "rounds": rounds, "scale": SCALE, "results": {}}
    try:
        with LabProcess(max(hosts_needed(w) for w in WORKLOADS)) as lab:
            cases = [("start-up (1 URL)", [f"{lab.base(0)}/ok"], None)]
            for name in WORKLOADS:
                w = build(name, lab, SCALE)
                path = f"{tmp}/{name}.txt"
                w.write(path)
                cases.append((f"{name} ({len(w.urls):,} URLs)", None, path))
            for label, urls, path in cases:
                runs: dict[str, list] = {d: [] for d in DISTRIBUTORS}
                for r in range(rounds):
                    for d in DISTRIBUTORS:  # interleaved, so drift hits both alike
                        inputs = urls or [path]
                        cmd = [PY, "-m", "pcheck", "check", *inputs, "--distributor", d, "--format", "jsonl",
                               "--no-progress", "--timeout", "10", "--retries", "0", "--threads", "64",
                               "--max-per-host", "64", "--host-interval", "0"]
                        run = measured(cmd, TIMEOUT_S, tmp, f"{d}-{r}")
                        n = count_lines(run.stdout_path)
                        runs[d].append({"wall_s": run.wall_s, "cpu_s": run.cpu_s, "rss_mb": run.peak_rss_mb,
                                        "records": n, "rc": run.returncode})
                for d in DISTRIBUTORS:
                    walls = spread([x["wall_s"] for x in runs[d]])
                    n = runs[d][0]["records"]
                    rate = spread([x["records"] / x["wall_s"] for x in runs[d]])
                    rss = spread([x["rss_mb"] for x in runs[d]])
                    rows.append([label, d, fmt_spread(walls, 2, " s"), fmt_spread(rate, 0), fmt_spread(rss, 0, " MB"), str(n)])
                data["results"][label] = runs
    finally:
        cleanup(tmp)
    table = md_table(["workload", "distributor", "wall (min-max)", "URLs/s", "peak RSS of the tree", "records"], rows)
    note = f"\n{data['machine']['usable_cores']} usable cores; {rounds} round(s), interleaved; threads 64, max-per-host 64.\n"
    write_results("distributors" + ("-quick" if args.quick else ""), data, table + note)
    print(table + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
