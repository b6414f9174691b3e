"""pcheck on 1 process, on every usable core, and every count in between.

    python benchmarks/cores.py --workload cpu-bound          # full size, 3 rounds
    python benchmarks/cores.py --workload latency-bound --quick

Runs the real CLI as a subprocess,
    python -m pcheck check FILE --format jsonl -o OUT --no-progress -p k -t T [--max-per-host M]
for k = 1..usable cores, rounds interleaved (round 1: k=1,2,..; round 2: ..., order rotated).
Each run is measured by measure.py: wall time, CPU of the whole tree (workers and
forkserver included), peak RSS summed over the tree. The output must hold one
jsonl record per URL, every one `alive`.

Writes results/cores-<workload>[-quick].json and .md, and a chart: .png when
matplotlib is installed (`pip install -e .[bench]`), else a terminal bar chart.
"""

from __future__ import annotations

import argparse
import os
import sys

from common import (
    PY, RESULTS, cleanup, fmt_spread, machine, md_table, measured, read_verdicts, spread,
    terminal_bars, usable_cores, workdir, write_results,
)
from workloads import QUICK_SCALE, SPECS, served

from pcheck.config import DEFAULT_THREADS

# Threads per process. Latency-bound: 64, so 2 processes hold the 128 requests in flight that
# peers.py gives every tool. CPU-bound: 32, as in every earlier cores.py run (comparable tables);
# 16, 32 and 64 cost the same CPU per URL there, within noise (benchmarks/README.md, "Threads").
LATENCY_BOUND_THREADS = 64
CPU_BOUND_THREADS = 32


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="cpu-bound", choices=sorted(SPECS))
    ap.add_argument("--quick", action="store_true", help=f"URLs x {QUICK_SCALE}, 2 rounds")
    ap.add_argument("--scale", type=float, help="URL count factor (overrides --quick's)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--threads", "-t", type=int, help=f"threads per process [{LATENCY_BOUND_THREADS} for latency-bound, else "
                         f"{CPU_BOUND_THREADS}; pcheck's own default is {DEFAULT_THREADS}]")
    ap.add_argument("--max-per-host", type=int,
                    help="[single-host: k x threads, so the cap never binds; else pcheck's default]")
    ap.add_argument("--max-processes", type=int, default=usable_cores())
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed")
    args = ap.parse_args()

    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    rounds = args.rounds or (2 if args.quick else 3)
    threads = args.threads or (LATENCY_BOUND_THREADS if args.workload == "latency-bound" else CPU_BOUND_THREADS)
    ks = list(range(1, max(1, args.max_processes) + 1))
    tmp = workdir("cores")
    runs: dict[int, list[dict]] = {k: [] for k in ks}
    problems: list[str] = []
    try:
        with served(args.workload, scale, tmp) as (lab, w, urls_file):
            n, truth = len(w.urls), w.truth()
            print(f"cores: {args.workload}, {n} URLs over {w.hosts} host(s), k = {ks}, -t {threads}, "
                  f"{rounds} round(s); lab port {lab.port}", flush=True)
            for r in range(rounds):
                order = ks[r % len(ks):] + ks[: r % len(ks)]
                for k in order:
                    out = os.path.join(tmp, f"out-{k}-{r}.jsonl")
                    cmd = [PY, "-m", "pcheck", "check", urls_file, "--format", "jsonl", "-o", out,
                           "--no-progress", "-p", str(k), "-t", str(threads), "--host-interval", "0"]
                    mph = args.max_per_host or (k * threads if args.workload == "single-host" else None)
                    if mph:
                        cmd += ["--max-per-host", str(mph)]
                    lab_cpu0 = lab.cpu_s()
                    run = measured(cmd, args.timeout, tmp, f"k{k}-r{r}")
                    lab_cpu = lab.cpu_s() - lab_cpu0
                    verdicts = read_verdicts("pcheck", out)
                    lines = sum(1 for _ in open(out, encoding="utf-8")) if os.path.exists(out) else 0
                    wrong = sum(1 for u, t in truth.items() if verdicts.get(u) != t)
                    ok = run.returncode in (0, 1) and not run.timed_out and lines == n and wrong == 0
                    if not ok:
                        problems.append(f"k={k} round {r}: rc={run.returncode} timed_out={run.timed_out} "
                                        f"lines={lines}/{n} wrong={wrong} stderr: {run.stderr_tail[-300:]}")
                    runs[k].append({"round": r, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "user_s": run.user_s,
                                    "sys_s": run.sys_s, "peak_rss_mb": run.peak_rss_mb, "peak_pss_mb": run.peak_pss_mb,
                                    "lab_cpu_s": lab_cpu, "parent_cpu_s": run.main_cpu_s,
                                    "busy_before": run.busy_before, "lines": lines, "wrong": wrong, "ok": ok,
                                    "returncode": run.returncode, "cmd": " ".join(cmd[1:])})
                    print(f"  round {r + 1} -p {k}: {run.wall_s:6.2f} s wall, {n / run.wall_s:7.0f} URLs/s, "
                          f"{run.cpu_s:6.2f} s CPU (parent {run.main_cpu_s or 0:5.2f}), {run.peak_rss_mb:5.0f} MB RSS, lab {lab_cpu:5.2f} s CPU, "
                          f"{lines}/{n} lines, {wrong} wrong, other load {run.busy_before:.2f} cores"
                          f"{'' if ok else '  <-- PROBLEM'}", flush=True)
    finally:
        cleanup(tmp)

    rows, table = [], []
    base_by_round = {x["round"]: x["wall_s"] for x in runs[1]}
    for k in ks:
        xs = runs[k]
        walls = [x["wall_s"] for x in xs]
        speedups = [base_by_round[x["round"]] / x["wall_s"] for x in xs if x["round"] in base_by_round]
        ideal = w.ideal_s(k * threads)
        row = {
            "processes": k, "threads": threads, "concurrency": k * threads,
            "wall_s": spread(walls),
            "urls_per_s": spread([n / v for v in walls]),
            "cpu_s_per_1000": spread([x["cpu_s"] / n * 1000 for x in xs]),
            "peak_rss_mb": spread([x["peak_rss_mb"] for x in xs]),
            "peak_pss_mb": spread([x["peak_pss_mb"] for x in xs]),
            "lab_cpu_s": spread([x["lab_cpu_s"] for x in xs]),
            "parent_cpu_us_per_url": spread([x["parent_cpu_s"] / n * 1e6 for x in xs if x["parent_cpu_s"] is not None]),
            "speedup": spread(speedups),
            "ideal_s": ideal,
            "wall_over_ideal": spread([v / ideal for v in walls]) if ideal else None,
            "all_ok": all(x["ok"] for x in xs),
        }
        rows.append(row)
        table.append([
            k, k * threads, fmt_spread(row["wall_s"]), fmt_spread(row["urls_per_s"], 0),
            fmt_spread(row["cpu_s_per_1000"]), fmt_spread(row["parent_cpu_us_per_url"], 0),
            fmt_spread(row["peak_rss_mb"], 0), fmt_spread(row["peak_pss_mb"], 0),
            fmt_spread(row["speedup"]) + "x",
            (f"{ideal:.2f} s / " + fmt_spread(row["wall_over_ideal"]) + "x") if ideal else "-",
            fmt_spread(row["lab_cpu_s"]), "yes" if row["all_ok"] else "NO",
        ])
    headers = ["-p", "concurrency", "wall s", "URLs/s", "CPU s / 1000 URLs", "of which parent µs/URL", "peak RSS MB (tree sum)",
               "peak PSS MB", "speedup vs -p 1", "ideal / wall:ideal", "lab CPU s", "1 line per URL, all alive"]
    name = f"cores-{args.workload}" + ("-quick" if scale != 1.0 else "")
    chart = terminal_bars([f"-p {r['processes']}" for r in rows], [r["urls_per_s"]["median"] for r in rows], " URLs/s")
    png = _png(RESULTS / f"{name}.png", rows, args.workload, n)
    info = machine()
    md = (f"## cores: {args.workload} ({n} URLs over {w.hosts} host(s), -t {threads}, {rounds} rounds interleaved)\n\n"
          f"Machine: {info['usable_cores']} usable cores ({info['cpu']}), Python {info['python']}, {info['when']}. "
          "Figures: median (min-max) over rounds; CPU and RSS are of the whole pcheck process tree; "
          "the lab server runs in its own process on the same cores.\n\n"
          + md_table(headers, table) + "\n```\n" + chart + "\n```\n"
          + (f"\n![scaling]({png.name})\n" if png else "")
          + ("\nProblems:\n" + "\n".join(f"- {p}" for p in problems) + "\n" if problems else ""))
    write_results(name, {"machine": info, "workload": args.workload, "urls": n, "hosts": w.hosts, "threads": threads,
                         "rounds": rounds, "scale": scale, "rows": rows, "runs": runs, "problems": problems}, md)
    print()
    print(md)
    print(f"wrote results/{name}.json, results/{name}.md" + (f", results/{png.name}" if png else ""))
    return 1 if problems else 0


def _png(path, rows, workload, n):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ks = [r["processes"] for r in rows]
    med = [r["urls_per_s"]["median"] for r in rows]
    lo = [r["urls_per_s"]["median"] - r["urls_per_s"]["min"] for r in rows]
    hi = [r["urls_per_s"]["max"] - r["urls_per_s"]["median"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([str(k) for k in ks], med, yerr=[lo, hi], capsize=6, color="#4878a8")
    ax.plot([str(k) for k in ks], [med[0] * k for k in ks], "k--", lw=1, label="linear scaling")
    ax.set_xlabel("--processes")
    ax.set_ylabel("URLs/s (median, min-max)")
    ax.set_title(f"pcheck scaling: {workload}, {n} URLs")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
