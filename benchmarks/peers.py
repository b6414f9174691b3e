"""pcheck against the tools a user would pick instead, on the same workload and concurrency.

    python benchmarks/peers.py --workload latency-bound            # concurrency 128, 3 rounds
    python benchmarks/peers.py --workload cpu-bound --quick
    python benchmarks/peers.py --workload mixed                    # correctness on statuses/redirects

Tools, each run as a subprocess under measure.py (wall, CPU and peak RSS of its whole tree):
  pcheck         python -m pcheck check FILE --format jsonl -o OUT --no-progress
                 -p <usable cores> -t C/cores --max-per-host C
  naive-threads  benchmarks/peers/naive_threads.py FILE C  (ThreadPoolExecutor + one requests.Session)
  aiohttp        benchmarks/peers/aiohttp_check.py FILE C  (one ClientSession, semaphore C)
  lychee         lychee FILE --format json -o OUT --no-progress --max-concurrency C
                 --host-concurrency C --host-request-interval 0ms   (only when `lychee` is on PATH)
and the same four at their own defaults (unless --no-defaults): pcheck with no options, the
scripts with concurrency 0 (ThreadPoolExecutor's default workers; aiohttp's connector limit of
100), lychee with no options (128 requests, 10 per host, 50 ms between requests to a host).

Rounds are interleaved: every tool once per round, the order rotated each round.
Correctness: each tool's verdicts against the outcome the site serves for each URL
(alive vs not alive; pcheck's exact outcome too). Writes results/peers-<workload>[-quick].json/.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from common import (
    HERE, PY, cleanup, fmt_spread, machine, md_table, measured, read_verdicts, score, spread,
    terminal_bars, usable_cores, workdir, write_results,
)
from workloads import QUICK_SCALE, SPECS, served


def tool_commands(urls_file: str, out: str, concurrency: int, cores: int, lychee: str | None,
                  defaults: bool) -> dict[str, tuple[str, list[str], bool]]:
    """name -> (verdict kind, command, writes its own output file?)."""
    c = concurrency
    per = max(1, c // cores)
    tools: dict[str, tuple[str, list[str], bool]] = {
        f"pcheck -p {cores} -t {per}": ("pcheck", [PY, "-m", "pcheck", "check", urls_file, "--format", "jsonl", "-o", out,
                                                 "--no-progress", "-p", str(cores), "-t", str(per),
                                                 "--max-per-host", str(c), "--host-interval", "0"], True),
        f"naive-threads {c}": ("script", [PY, str(HERE / "peers" / "naive_threads.py"), urls_file, str(c)], False),
        f"aiohttp {c}": ("script", [PY, str(HERE / "peers" / "aiohttp_check.py"), urls_file, str(c)], False),
    }
    if lychee:
        tools[f"lychee {c}"] = ("lychee", [lychee, "--no-progress", "--format", "json", "-o", out,
                                           "--max-concurrency", str(c), "--host-concurrency", str(c),
                                           "--host-request-interval", "0ms", urls_file], True)
    if defaults:
        tools["pcheck (defaults)"] = ("pcheck", [PY, "-m", "pcheck", "check", urls_file, "--format", "jsonl", "-o", out,
                                                 "--no-progress"], True)
        tools["naive-threads (defaults)"] = ("script", [PY, str(HERE / "peers" / "naive_threads.py"), urls_file, "0"], False)
        tools["aiohttp (defaults)"] = ("script", [PY, str(HERE / "peers" / "aiohttp_check.py"), urls_file, "0"], False)
        if lychee:
            tools["lychee (defaults)"] = ("lychee", [lychee, "--no-progress", "--format", "json", "-o", out, urls_file], True)
    return tools


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="latency-bound", choices=sorted(SPECS))
    ap.add_argument("--concurrency", "-c", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help=f"URLs x {QUICK_SCALE}, 2 rounds")
    ap.add_argument("--scale", type=float)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--no-defaults", action="store_true", help="skip the runs at each tool's defaults")
    ap.add_argument("--only", action="append", default=[], help="run only tools whose name starts with this (repeatable)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed")
    args = ap.parse_args()

    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    rounds = args.rounds or (2 if args.quick else 3)
    cores = usable_cores()
    lychee = shutil.which("lychee")
    tmp = workdir("peers")
    problems: list[str] = []
    try:
        with served(args.workload, scale, tmp) as (lab, w, urls_file):
            n, truth = len(w.urls), w.truth()
            names = list(tool_commands(urls_file, "", args.concurrency, cores, lychee, not args.no_defaults))
            if args.only:
                names = [x for x in names if any(x.startswith(p) for p in args.only)]
                if not names:
                    raise SystemExit(f"--only {args.only}: no tool matches; tools: {', '.join(tool_commands(urls_file, '', args.concurrency, cores, lychee, True))}")
            runs: dict[str, list[dict]] = {x: [] for x in names}
            print(f"peers: {args.workload}, {n} URLs over {w.hosts} host(s), concurrency {args.concurrency}, "
                  f"{rounds} round(s), lychee: {lychee or 'not on PATH'}", flush=True)
            for r in range(rounds):
                order = names[r % len(names):] + names[: r % len(names)]
                for name in order:
                    tag = f"t{names.index(name)}-r{r}"
                    out = os.path.join(tmp, f"{tag}.out")
                    kind, cmd, own_file = tool_commands(urls_file, out, args.concurrency, cores, lychee,
                                                        not args.no_defaults)[name]
                    lab_cpu0 = lab.cpu_s()
                    run = measured(cmd, args.timeout, tmp, tag)
                    lab_cpu = lab.cpu_s() - lab_cpu0
                    verdicts = read_verdicts(kind, out if own_file else run.stdout_path, w.urls)
                    s = score(verdicts, truth)
                    if run.timed_out or s["answered"] < n:
                        problems.append(f"{name} round {r}: rc={run.returncode} timed_out={run.timed_out} "
                                        f"answered {s['answered']}/{n}; stderr: {run.stderr_tail[-300:]}")
                    runs[name].append({"round": r, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_rss_mb": run.peak_rss_mb,
                                       "peak_pss_mb": run.peak_pss_mb, "lab_cpu_s": lab_cpu, "busy_before": run.busy_before, "returncode": run.returncode,
                                       "timed_out": run.timed_out, "score": s, "cmd": " ".join(cmd)})
                    print(f"  round {r + 1} {name:<26} {run.wall_s:7.2f} s, {n / run.wall_s:7.0f} URLs/s, "
                          f"{run.cpu_s:6.2f} s CPU, {run.peak_rss_mb:5.0f} MB, correct {s['alive_match']}/{n}"
                          f", other load {run.busy_before:.2f} cores{' (timed out)' if run.timed_out else ''}", flush=True)
    finally:
        cleanup(tmp)

    rows, table = [], []
    pcheck_name = next((x for x in names if x.startswith("pcheck -p")), None)
    pcheck_wall = spread([x["wall_s"] for x in runs.get(pcheck_name, [])])["median"] if pcheck_name else None
    for name in names:
        xs = runs[name]
        walls = [x["wall_s"] for x in xs]
        ideal = w.ideal_s(args.concurrency) if "defaults" not in name else None
        med = spread(walls)["median"]
        row = {
            "tool": name, "wall_s": spread(walls), "urls_per_s": spread([n / v for v in walls]),
            "cpu_s_per_1000": spread([x["cpu_s"] / n * 1000 for x in xs]),
            "peak_rss_mb": spread([x["peak_rss_mb"] for x in xs]),
            "lab_cpu_s": spread([x["lab_cpu_s"] for x in xs]),
            "wall_over_ideal": spread([v / ideal for v in walls]) if ideal else None,
            "pcheck_wall_over_this": (pcheck_wall / med) if pcheck_wall and med else None,
            "correct_min": min(x["score"]["alive_match"] for x in xs) if xs else None,
            "exact_min": min(x["score"]["exact_match"] for x in xs) if xs else None,
            "answered_min": min(x["score"]["answered"] for x in xs) if xs else None,
        }
        rows.append(row)
        table.append([
            name, fmt_spread(row["wall_s"]), fmt_spread(row["urls_per_s"], 0), fmt_spread(row["cpu_s_per_1000"]),
            fmt_spread(row["peak_rss_mb"], 0),
            fmt_spread(row["wall_over_ideal"]) + "x" if ideal else "-",
            f"{row['pcheck_wall_over_this']:.2f}x" if row["pcheck_wall_over_this"] else "-",
            f"{row['correct_min']}/{n}" + (f" (exact {row['exact_min']})" if name.startswith("pcheck") else ""),
        ])
    headers = ["tool", "wall s", "URLs/s", "CPU s / 1000 URLs", "peak RSS MB", "wall : ideal",
               f"pcheck ({pcheck_name}) wall / this", "correct (worst round)"]
    ideal = w.ideal_s(args.concurrency)
    info = machine()
    name = f"peers-{args.workload}" + ("-quick" if scale != 1.0 else "")
    chart = terminal_bars([r["tool"] for r in rows], [r["wall_s"]["median"] for r in rows], " s")
    md = (f"## peers: {args.workload} ({n} URLs over {w.hosts} host(s), concurrency {args.concurrency}, "
          f"{rounds} rounds interleaved)\n\n"
          f"Machine: {info['usable_cores']} usable cores ({info['cpu']}), Python {info['python']}, {info['when']}. "
          + (f"Ideal wall time at concurrency {args.concurrency}: {ideal:.2f} s. " if ideal else "")
          + "Median (min-max); CPU and RSS of each tool's whole process tree; correct = alive/not-alive "
          "verdicts agreeing with what the site serves.\n\n"
          + md_table(headers, table) + "\nWall time (median):\n```\n" + chart + "\n```\n"
          + ("\nProblems:\n" + "\n".join(f"- {p}" for p in problems) + "\n" if problems else ""))
    write_results(name, {"machine": info, "workload": args.workload, "urls": n, "hosts": w.hosts,
                         "concurrency": args.concurrency, "rounds": rounds, "scale": scale, "ideal_s": ideal,
                         "rows": rows, "runs": runs, "problems": problems}, md)
    print()
    print(md)
    print(f"wrote results/{name}.json, results/{name}.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
