"""A host that allows 10 requests a second (429 with Retry-After beyond it) beside a normal one.

    python benchmarks/ratelimit.py                      # 3 rounds, interleaved
    python benchmarks/ratelimit.py --ref /path/to/old   # also pcheck from an older checkout (PYTHONPATH)

Workload: 80 URLs on 127.0.0.1 under /rate/10 (the local site counts what it refuses), and
40 URLs answered in 20 ms on 127.0.0.2. Each tool runs at its defaults: pcheck (this code),
pcheck from --ref if given, and lychee if it is on PATH. Per run: the wall time, the 429s the
site sent, and how many of the 80 ended alive. A second passes between runs, so the site's
window of recent requests is empty when each starts. Writes results/ratelimit.json/.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from common import (
    PY, LabProcess, cleanup, fmt_spread, machine, md_table, measured, read_verdicts, spread, workdir, write_results,
)

RATE_URLS, NORMAL_URLS, PER_SECOND = 80, 40, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ref", help="an older pcheck checkout, run with PYTHONPATH=REF")
    parser.add_argument("--lychee", default=shutil.which("lychee"))
    args = parser.parse_args()
    tmp = workdir("ratelimit")
    rows: dict[str, list[dict]] = {}
    try:
        with LabProcess(2) as lab:
            urls = [f"{lab.base(0)}/rate/{PER_SECOND}/bench?i={i}" for i in range(RATE_URLS)]
            urls += [f"{lab.base(1)}/delay/20?i={i}" for i in range(NORMAL_URLS)]
            listing = os.path.join(tmp, "urls.txt")
            with open(listing, "w") as f:
                f.writelines(u + "\n" for u in urls)
            tools = _tools(listing, tmp, args)
            for r in range(args.rounds):
                names = list(tools)
                names = names[r % len(names):] + names[:r % len(names)]  # the order rotated each round
                for name in names:
                    kind, cmd, out = tools[name]
                    time.sleep(1.1)  # the site's one-second window empties
                    before = lab.stats()[lab.addresses[0]]["refused"]
                    run = measured(cmd, 300, tmp, f"{name.replace(' ', '_')}-{r}")
                    refused = lab.stats()[lab.addresses[0]]["refused"] - before
                    verdicts = read_verdicts(kind, out, urls)
                    alive = sum(1 for u in urls[:RATE_URLS] if verdicts.get(u) == "alive")
                    rows.setdefault(name, []).append({"wall_s": run.wall_s, "cpu_s": run.cpu_s, "refused": refused,
                                                      "alive_of_80": alive, "returncode": run.returncode})
    finally:
        cleanup(tmp)
    table = []
    for name, runs in rows.items():
        table.append([name, fmt_spread(spread([x["wall_s"] for x in runs]), 2, " s"),
                      fmt_spread(spread([float(x["refused"]) for x in runs]), 0),
                      fmt_spread(spread([float(x["alive_of_80"]) for x in runs]), 0)])
    md = (f"# A host allowing {PER_SECOND} requests a second: {RATE_URLS} URLs on it, {NORMAL_URLS} on a normal host\n\n"
          + md_table(["tool (defaults)", "wall (median, range)", "429s received", "alive of 80"], table)
          + f"\n{machine()['usable_cores']} usable cores; {args.rounds} round(s), interleaved.\n")
    write_results("ratelimit", {"machine": machine(), "runs": rows}, md)
    print(md)


def _tools(listing: str, tmp: str, args: argparse.Namespace) -> dict[str, tuple[str, list[str], str]]:
    tools = {}
    out = os.path.join(tmp, "pcheck.jsonl")
    tools["pcheck"] = ("pcheck", [PY, "-m", "pcheck", "check", listing, "--format", "jsonl", "-o", out,
                                  "--no-progress"], out)
    if args.ref:
        ref_out = os.path.join(tmp, "ref.jsonl")
        # -P: the current folder (this checkout) does not come before PYTHONPATH on sys.path.
        tools["pcheck (--ref)"] = ("pcheck", ["env", f"PYTHONPATH={args.ref}", PY, "-P", "-m", "pcheck", "check", listing,
                                              "--format", "jsonl", "-o", ref_out, "--no-progress"], ref_out)
    if args.lychee:
        lychee_out = os.path.join(tmp, "lychee.json")
        tools["lychee"] = ("lychee", [args.lychee, listing, "--format", "json", "-o", lychee_out, "--no-progress"],
                           lychee_out)
    return tools


if __name__ == "__main__":
    main()
