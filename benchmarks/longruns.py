"""What --cache and --resume cost on a 100k-URL run, and what they save on the next one.

    python benchmarks/longruns.py            # 100,000 URLs, 2 rounds
    python benchmarks/longruns.py --quick    # 10,000 URLs, 1 round

The cpu-bound workload (distinct /ok URLs over 50 hosts, no delay) makes the
overhead as visible as it can be: with real network latency the same CPU hides
behind waiting. Per round, interleaved, each in a fresh folder:
  plain          check --format jsonl -o report.jsonl
  cache, cold    + --cache --cache-path cache.sqlite (every verdict written)
  cache, warm    the same command again (every verdict served from the cache)
  resume, fresh  + --resume, no report yet (every record appended and flushed)
  resume, done   the same command again (every URL already has a final record)
Every run must leave one jsonl record per URL.
"""

from __future__ import annotations

import argparse
import os
import sys

from common import (
    PY, cleanup, count_lines, fmt_spread, machine, md_table, measured, spread, workdir, write_results,
)
from workloads import served

STEPS = ("plain", "cache, cold", "cache, warm", "resume, fresh", "resume, done")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 URLs, 1 round")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run before it is killed")
    args = parser.parse_args()
    scale, rounds = (0.5, 1) if args.quick else (5.0, 2)  # of the 20,000-URL cpu-bound workload
    tmp = workdir("longruns")
    runs: dict[str, list] = {step: [] for step in STEPS}
    problems: list[str] = []
    try:
        with served("cpu-bound", scale, tmp) as (_, w, urls_file):
            n = len(w.urls)
            print(f"longruns: {n} URLs, {rounds} round(s)", flush=True)
            for r in range(rounds):
                folder = os.path.join(tmp, f"r{r}")
                os.makedirs(folder)
                base = [PY, "-m", "pcheck", "check", urls_file, "--format", "jsonl", "--no-progress", "--host-interval", "0"]
                commands = {
                    "plain": [*base, "-o", os.path.join(folder, "plain.jsonl")],
                    "cache, cold": [*base, "-o", os.path.join(folder, "cache.jsonl"), "--cache",
                                    "--cache-path", os.path.join(folder, "cache.sqlite")],
                    "resume, fresh": [*base, "-o", os.path.join(folder, "resume.jsonl"), "--resume"],
                }
                commands["cache, warm"] = commands["cache, cold"]
                commands["resume, done"] = commands["resume, fresh"]
                for step in STEPS:
                    run = measured(commands[step], args.timeout, tmp, f"r{r}-{step.replace(', ', '-')}")
                    report = commands[step][commands[step].index("-o") + 1]
                    records = count_lines(report)
                    if run.returncode != 0 or run.timed_out or records != n:
                        problems.append(f"round {r} {step}: exit {run.returncode}, {records} records of {n}: "
                                        f"{run.stderr_tail[-300:]}")
                    runs[step].append(run)
                    print(f"  round {r} {step:<14} {run.wall_s:6.2f} s wall {run.cpu_s:6.2f} s CPU", flush=True)
    finally:
        cleanup(tmp)

    plain_wall = spread([x.wall_s for x in runs["plain"]])["median"]
    plain_cpu = spread([x.cpu_s for x in runs["plain"]])["median"]
    rows, data_rows = [], []
    for step in STEPS:
        wall = spread([x.wall_s for x in runs[step]])
        cpu = spread([x.cpu_s for x in runs[step]])
        rss = spread([x.peak_rss_mb for x in runs[step]])
        rows.append([step, fmt_spread(wall), f"{wall['median'] / plain_wall:.2f}x", fmt_spread(cpu),
                     f"{cpu['median'] / plain_cpu:.2f}x", f"{cpu['median'] / n * 1e6:.0f}", fmt_spread(rss, 0)])
        data_rows.append({"step": step, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss})
    m = machine()
    name = "longruns-quick" if args.quick else "longruns"
    markdown = (f"## long runs: --cache and --resume on {n:,} URLs (cpu-bound workload, defaults, {rounds} round(s))\n\n"
                f"Machine: {m['usable_cores']} usable cores ({m['cpu']}), Python {m['python']}, {m['when']}. "
                "Median (min-max); CPU and peak RSS of the whole pcheck tree.\n\n"
                + md_table(["run", "wall s", "wall vs plain", "CPU s", "CPU vs plain", "CPU µs / URL", "peak RSS MB"], rows)
                + ("\nProblems:\n" + "\n".join(f"* {p}" for p in problems) + "\n" if problems else ""))
    write_results(name, {"machine": m, "urls": n, "rounds": rounds, "rows": data_rows, "problems": problems}, markdown)
    print(markdown)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
