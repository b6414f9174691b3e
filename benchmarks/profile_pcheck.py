"""Where pcheck's CPU per URL goes, in the parent and in the workers (py-spy, sampled).

    python benchmarks/profile_pcheck.py --workload cpu-bound -p 1       # needs py-spy (pip install py-spy)
    python benchmarks/profile_pcheck.py --quick

Runs `py-spy record --subprocesses --gil --format raw` around the real CLI on a workload,
then attributes every sample to its process (parent / worker / forkserver / resource tracker)
and to a stage of the pipeline. --gil keeps only samples of the thread holding each process's
GIL, i.e. Python CPU; time in the kernel without the GIL (socket I/O, futex waits) is not seen.
py-spy slows the run down a lot; the shares matter, not the wall time.

Writes results/profile-<workload>[-quick].md/.json and the raw stacks (.txt, for flamegraph.pl).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys

from common import PY, RESULTS, LabProcess, cleanup, machine, md_table, workdir, write_results
from workloads import QUICK_SCALE, SPECS, build

#: (stage, substrings of a frame that put a sample in it); the first stage whose marker is on the stack wins,
#: scanning from the innermost frame outwards.
STAGES = [
    ("requests: Request.prepare (URL re-parse, cookies, params)", ["PreparedRequest.prepare", "Request.prepare ("]),
    ("requests: adapter bookkeeping (pool lookup, build_response)", ["get_connection_with_tls_context", "build_response",
                                                                      "request_url", "HTTPAdapter.cert_verify"]),
    ("http.client: parse the response (email parser)", ["parse_headers", "HTTPResponse.begin", "_read_status"]),
    ("urllib3/http.client: send the request", ["HTTPConnection.request", "putrequest", "putheader", "endheaders"]),
    ("urllib3: urlopen rest (pool get/put, response object)", ["HTTPConnectionPool.urlopen", "_make_request", "_get_conn",
                                                               "_put_conn", "HTTPResponse.__init__", "release_conn"]),
    ("pcheck transport (deadline slot, Hop, body discard)", ["Transport.fetch", "_discard_body", "DeadlineSlot"]),
    ("pcheck checker (attempt loop, verdict)", ["Checker."]),
    ("worker: queues, result batching, pickling", ["_check_loop", "_send_loop", "send_batch", "serve ("]),
    ("worker: watchdog", ["Watchdog._run", "expire_if_due"]),
    ("parent: read + normalise input", ["pcheck/inputs.py", "filter_targets"]),
    ("parent: dedupe index", ["DoneIndex", "_digest"]),
    ("parent: dispatch (task pipe)", ["CheckRun._dispatch", "_enqueue", "_mark_ready"]),
    ("parent: collect (result pipe, unpickle, resolve)", ["CheckRun._collect", "CheckRun._receive", "CheckRun._resolve"]),
    ("parent: report (records, JSON, writes)", ["Reporter", "to_record", "report.py"]),
    ("parent: progress bar", ["Progress.", "tqdm"]),
    ("start-up: imports", ["_find_and_load", "exec_module"]),
    ("start-up: CLI parsing (typer/click)", ["typer/", "click/"]),
    ("process start/stop", ["BaseProcess.start", "Popen", "forkserver.py", "CheckRun.close", "_spawn"]),
]


def role_of(frames: list[str]) -> str:
    """A forked worker keeps the forkserver's command line, so workers are told by their frames."""
    procs = [f for f in frames if f.startswith("process ")]
    last = procs[-1] if procs else ""
    if "resource_tracker" in last:
        return "resource tracker"
    if any("pcheck/worker.py" in f or "_serve_one" in f or "Thread._bootstrap" in f for f in frames):
        return "worker" if "forkserver" in " ".join(procs[1:]) or len(procs) > 1 else "parent"
    if "forkserver" in last:
        return "forkserver"
    return "parent" if len(procs) <= 1 else "worker"


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, markers in STAGES:
            if any(m in frame for m in markers):
                return stage
    return "other"


def analyse(raw_path: str, top: int = 25) -> dict:
    by_role: collections.Counter[str] = collections.Counter()
    stages: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    own: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    no_python: collections.Counter[str] = collections.Counter()
    with open(raw_path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = stack.split(";")
            role = role_of(frames)
            py = [re.sub(r":\d+\)$", ")", x) for x in frames if not x.startswith("process ")]
            if not py:
                no_python[role] += n  # GIL holder without a Python frame: not attributable
                continue
            by_role[role] += n
            stages[role][stage_of(py) if py else "no Python frame (C code holding the GIL)"] += n
            for frame in set(py):
                inclusive[role][frame] += n
            own[role][py[-1] if py else "-"] += n
    return {
        "samples": dict(by_role),
        "samples_without_python_frame": dict(no_python),
        "stages": {r: c.most_common() for r, c in stages.items()},
        "inclusive": {r: c.most_common(top) for r, c in inclusive.items()},
        "self": {r: c.most_common(top) for r, c in own.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="cpu-bound", choices=sorted(SPECS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scale", type=float)
    ap.add_argument("-p", "--processes", type=int, default=1)
    ap.add_argument("-t", "--threads", type=int, default=32)
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--analyse", metavar="RAW", help="only summarise an existing raw py-spy file")
    args = ap.parse_args()
    if args.analyse:
        result = analyse(args.analyse)
        print(report(result, f"## profile: {args.analyse}\n", ""))
        return 0
    spy = shutil.which("py-spy")
    if not spy:
        print("profile.py: py-spy is not on PATH (pip install py-spy)", file=sys.stderr)
        return 2
    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    name = f"profile-{args.workload}" + ("-quick" if scale != 1.0 else "")
    RESULTS.mkdir(exist_ok=True)
    raw = str(RESULTS / f"{name}.txt")
    tmp = workdir("profile")
    try:
        with LabProcess(SPECS[args.workload].hosts) as lab:
            w = build(args.workload, lab, scale)
            urls = os.path.join(tmp, "urls.txt")
            w.write(urls)
            out = os.path.join(tmp, "out.jsonl")
            cmd = [spy, "record", "--subprocesses", "--gil", "--rate", str(args.rate), "--format", "raw", "-o", raw,
                   "--", PY, "-m", "pcheck", "check", urls, "--format", "jsonl", "-o", out, "--no-progress",
                   "-p", str(args.processes), "-t", str(args.threads), "--host-interval", "0"]
            print(" ".join(cmd), flush=True)
            done = subprocess.run(cmd, capture_output=True, timeout=args.timeout)
            lines = sum(1 for _ in open(out)) if os.path.exists(out) else 0
            if done.returncode != 0 or lines != len(w.urls):
                print(done.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
            n = len(w.urls)
    finally:
        cleanup(tmp)
    result = analyse(raw)
    text = report(result, f"## profile: pcheck on {args.workload} ({n} URLs, -p {args.processes} -t {args.threads}), "
                  f"py-spy --gil --subprocesses at {args.rate} Hz\n", f"{lines}/{n} records written. ")
    write_results(name, {"machine": machine(), "workload": args.workload, "urls": n, "processes": args.processes,
                         "threads": args.threads, **result}, text)
    print(text)
    print(f"wrote results/{name}.md, .json and raw stacks {raw}")
    return 0


def report(result: dict, title: str, note: str) -> str:
    total = sum(result["samples"].values()) or 1
    md = [title,
          note + "Samples (with a Python frame) by process: " +
          ", ".join(f"{r} {c} ({100 * c / total:.1f}%)" for r, c in sorted(result["samples"].items(), key=lambda x: -x[1])) + "\n"]
    for role, items in result["stages"].items():
        t = result["samples"][role]
        md.append(f"\n### {role}: by stage\n")
        md.append(md_table(["stage", "share of this process", "share of all"],
                           [[s, f"{100 * c / t:.1f}%", f"{100 * c / total:.1f}%"] for s, c in items]))
        md.append(f"\n### {role}: top frames (inclusive)\n")
        md.append(md_table(["frame", "share"], [[f"`{f[:150]}`", f"{100 * c / t:.1f}%"] for f, c in result["inclusive"][role]]))
    md.append(f"\nSamples holding the GIL with no Python frame (not attributed): {result['samples_without_python_frame']}\n")
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
