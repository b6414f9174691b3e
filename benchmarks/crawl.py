"""Crawling a site (issue 29): linkinator and LinkChecker on the lab's tree, and `pcheck crawl` once it exists.

    python benchmarks/crawl.py                 # the 2,047-page tree (/tree/2047/), 1 round
    python benchmarks/crawl.py --quick         # the 255-page tree
    python benchmarks/crawl.py --rounds 3 --timeout 600

The site (pcheck.lab.crawlsite): a heap-numbered binary tree of n HTML pages on 127.0.0.1, each
linking its children, its parent and the root; every 16th page also links a missing page (404), a
404 on 127.0.0.2, the same page on 127.0.0.2 (to check, not to follow) and a page robots.txt
disallows. n=2047: 6,644 links to 2,555 distinct URLs, 254 of them broken. Every crawler starts at
/tree/<n>/ (a 302 to 1.html: linkinator only follows URLs under its start URL).

Tools (each skipped with a message when not found):
  linkinator --recurse        (npm linkinator@6; --linkinator PATH, or found on PATH or in /tmp/linkinator)
  linkchecker                 at its defaults (10 threads, at most 10 requests a second per host)
  linkchecker, 1000 req/s     a config file with maxrequestspersecond=1000 (the site sends the
                              `LinkChecker` header LinkChecker needs before it goes above 10 a second)
  linkchecker, 1000 req/s, --check-extern   the same, also checking the links to 127.0.0.2
  pcheck crawl                SKIPPED while `pcheck crawl --help` fails or prints check's usage (no crawl yet)

Per run, from the lab's counters (/__lab/stats, /__lab/crawl; the lab in its own process): tree pages
fetched on 127.0.0.1 (GET), private pages requested (robots.txt disallows them), requests to 127.0.0.2
(a scoped crawler sends only the 254 URLs linked there, HEAD and/or GET), requests in all; from the
tool's output: URLs reported and those reported broken. Wall time and CPU of the tool's process tree
(measure.py). A run cut at --timeout is recorded as "did not finish in N s".
Writes results/crawl[-quick].json/.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's pcheck, as `python -m pcheck` gets
from common import PY, ROOT, LabProcess, cleanup, machine, md_table, measured, workdir, write_results  # noqa: E402

from pcheck.lab.crawlsite import EXTRA_EVERY, tree_links  # noqa: E402

FULL_N, QUICK_N = 2047, 255
HOSTS = 2
LINKCHECKER_RATE = 1000


def find_linkinator() -> str | None:
    for candidate in (shutil.which("linkinator"), "/tmp/linkinator/node_modules/.bin/linkinator",
                      str(Path(__file__).parent / "peers" / "node_modules" / ".bin" / "linkinator")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def find_linkchecker() -> str | None:
    beside = Path(sys.executable).parent / "linkchecker"
    return shutil.which("linkchecker") or (str(beside) if beside.exists() else None)


def pcheck_crawl_exists() -> bool:
    """Whether `pcheck crawl` exists (`pcheck crawl --help` prints crawl's usage); if not, say it is SKIPPED."""
    try:
        probe = subprocess.run([PY, "-m", "pcheck", "crawl", "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"pcheck crawl: SKIPPED (`pcheck crawl --help` could not run: {exc})", flush=True)
        return False
    # `check` is pcheck's default command: `pcheck crawl --help` is `pcheck check crawl --help` until crawl exists.
    exists = probe.returncode == 0 and "Usage: pcheck crawl" in probe.stdout
    if not exists:
        first = (probe.stdout or probe.stderr).strip().splitlines()[:1]
        print(f"pcheck crawl: SKIPPED (`pcheck crawl --help` exited {probe.returncode} with {first!r}, not crawl's usage: "
              "the command does not exist yet)", flush=True)
    return exists


def pcheck_crawl_command(start: str, out: str) -> list[str]:
    """`pcheck crawl` as it will be benchmarked (at its defaults; jsonl to count what it reported)."""
    return [PY, "-m", "pcheck", "crawl", start, "--format", "jsonl", "-o", out, "--no-progress"]


def tools(args: argparse.Namespace, start: str, tmp: str, out: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (output kind, command); tools not found are left out (and said so in main)."""
    found: dict[str, tuple[str, list[str]]] = {}
    if args.linkinator:
        found["linkinator --recurse"] = ("linkinator", [args.linkinator, start, "--recurse", "--format", "json"])
    if args.linkchecker:
        # LinkChecker drops root to `nobody` after reading its config: the file must be readable by anyone.
        rc = os.path.join(tmp, "linkcheckerrc")
        with open(rc, "w") as f:
            f.write(f"[checking]\nmaxrequestspersecond={LINKCHECKER_RATE}\n")
        os.chmod(tmp, 0o711)
        os.chmod(rc, 0o644)
        base = [args.linkchecker, "--no-status", "-v", "-o", "csv"]  # output only: every URL, as CSV, on stdout
        found["linkchecker"] = ("linkchecker", [*base, start])
        found[f"linkchecker, {LINKCHECKER_RATE} req/s"] = ("linkchecker", [*base, "-f", rc, start])
        found[f"linkchecker, {LINKCHECKER_RATE} req/s, --check-extern"] = (
            "linkchecker", [*base, "-f", rc, "--check-extern", start])
    if args.pcheck_crawl:
        found["pcheck crawl"] = ("pcheck", pcheck_crawl_command(start, out))
    return found


def reported(kind: str, stdout_path: str, out: str) -> tuple[int, int]:
    """(URLs the tool reported, those it reported broken), read from its output."""
    try:
        if kind == "linkinator":
            with open(stdout_path, encoding="utf-8") as f:
                links = json.load(f).get("links", [])
            return len(links), sum(1 for link in links if link.get("state") == "BROKEN")
        if kind == "linkchecker":
            with open(stdout_path, encoding="utf-8", errors="replace") as f:
                rows = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter=";"))
            return len(rows), sum(1 for row in rows if row.get("valid") == "False")
        with open(out, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip().startswith("{")]
        return len(records), sum(1 for r in records if r.get("outcome") != "alive")
    except (OSError, ValueError):
        return 0, 0


def crawl_counts(lab: LabProcess) -> dict:
    with urllib.request.urlopen(lab.base(0) + "/__lab/crawl", timeout=10) as r:
        return json.loads(r.read())


def one_run(lab: LabProcess, args: argparse.Namespace, name: str, n: int, tmp: str, tag: str) -> dict:
    start = f"{lab.base(0)}/tree/{n}/"
    out = os.path.join(tmp, f"{tag}.out")
    kind, cmd = tools(args, start, tmp, out)[name]
    time.sleep(1.1)
    before, crawl_before = lab.stats(), crawl_counts(lab)
    lab_cpu0 = lab.cpu_s()
    run = measured(cmd, args.timeout, tmp, tag)
    after, crawl_after = lab.stats(), crawl_counts(lab)
    one, two = lab.addresses[0], lab.addresses[1]

    def delta(address: str, key: str) -> int:
        return crawl_after.get(address, {}).get(key, 0) - crawl_before.get(address, {}).get(key, 0)

    urls, broken = reported(kind, run.stdout_path, out)
    return {
        "tag": tag, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "returncode": run.returncode, "timed_out": run.timed_out,
        "busy_before": run.busy_before, "lab_cpu_s": lab.cpu_s() - lab_cpu0,
        "pages_fetched": delta(one, "GET tree"), "tree_heads": delta(one, "HEAD tree"),
        "private_requests": delta(one, "GET private") + delta(one, "HEAD private"),
        "robots_requests": delta(one, "GET robots"), "missing_requests": delta(one, "GET missing") + delta(one, "HEAD missing"),
        "second_host_requests": after[two]["requests"] - before[two]["requests"],
        "second_host_tree_gets": delta(two, "GET tree"),
        "requests": sum(after[a]["requests"] - before[a]["requests"] for a in lab.addresses),
        "urls_reported": urls, "broken_reported": broken,
        "stderr_tail": run.stderr_tail[-400:] if (run.timed_out or run.returncode not in (0, 1)) else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"the {QUICK_N}-page tree instead of {FULL_N}")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, interleaved (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed (default 300)")
    ap.add_argument("--linkinator", default=find_linkinator(), help="the linkinator command (npm install linkinator@6)")
    ap.add_argument("--linkchecker", default=find_linkchecker(), help="the linkchecker command (pip install linkchecker)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: the lab is stopped, the temp folder removed
    n = QUICK_N if args.quick else FULL_N
    args.pcheck_crawl = pcheck_crawl_exists()
    for name, path in (("linkinator", args.linkinator), ("linkchecker", args.linkchecker)):
        if not path:
            print(f"{name}: SKIPPED (not found; see --{name})", flush=True)
    info = machine()
    info["linkinator_version"] = _version([args.linkinator, "--version"]) if args.linkinator else None
    info["linkchecker_version"] = _version([args.linkchecker, "--version"]) if args.linkchecker else None
    tmp = workdir("crawl")
    runs: dict[str, list[dict]] = {}
    try:
        with LabProcess(HOSTS) as lab:
            names = list(tools(args, "START", tmp, "OUT"))
            print(f"crawl: /tree/{n}/, {args.rounds} round(s), tools: {', '.join(names) or 'none'}; "
                  f"timeout {args.timeout:.0f} s", flush=True)
            for r in range(args.rounds):
                for name in names[r % max(1, len(names)):] + names[:r % max(1, len(names))]:
                    rec = one_run(lab, args, name, n, tmp, f"t{names.index(name)}-r{r}")
                    runs.setdefault(name, []).append(rec)
                    print(f"  round {r + 1} {name:<40} {_line(rec, args.timeout)}", flush=True)
    finally:
        cleanup(tmp)
    md = render(n, runs, args, info)
    jpath, mpath = write_results("crawl-quick" if args.quick else "crawl", {
        "machine": info, "n": n, "links": tree_links(n), "rounds": args.rounds, "timeout_s": args.timeout,
        "pcheck_crawl": "run" if args.pcheck_crawl else "skipped: `pcheck crawl --help` did not print crawl's usage", "runs": runs}, md)
    print()
    print(md)
    print(f"wrote {jpath}, {mpath}")
    return 0


def _version(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and "root user" not in line]
    return lines[0].strip() if lines else None


def _wall(rec: dict, timeout: float) -> str:
    return f"did not finish in {timeout:.0f} s" if rec["timed_out"] else f"{rec['wall_s']:.2f} s"


def _line(rec: dict, timeout: float) -> str:
    return (f"{_wall(rec, timeout)}, {rec['cpu_s']:.2f} s CPU, rc {rec['returncode']}, {rec['pages_fetched']} pages, "
            f"{rec['private_requests']} private, {rec['second_host_requests']} to 127.0.0.2, {rec['requests']} requests, "
            f"{rec['urls_reported']} URLs reported, {rec['broken_reported']} broken")


def render(n: int, runs: dict[str, list[dict]], args: argparse.Namespace, info: dict) -> str:
    extras = n // EXTRA_EVERY
    parts = [
        f"# Crawling the lab's tree of {n} pages{' (quick)' if args.quick else ''}\n\n"
        f"Machine: {info['usable_cores']} usable cores of {info['cpu_count']} ({info['cpu']}), Python {info['python']}, "
        f"{info['platform']}; {info['when']}; pcheck at {info.get('git_head', '?')}; linkinator "
        f"{info.get('linkinator_version') or 'not found'}, {info.get('linkchecker_version') or 'linkchecker not found'}. "
        f"{args.rounds} round(s); runs cut at {args.timeout:.0f} s.\n\n"
        f"The site: {n} pages on 127.0.0.1 (start: /tree/{n}/, a 302 to 1.html), {tree_links(n):,} links to "
        f"{n + 4 * extras:,} distinct URLs: {extras} missing pages (404), {extras} 404s and {extras} pages on 127.0.0.2 "
        f"(check, do not follow), {extras} pages robots.txt disallows. {2 * extras} broken in all (robots.txt "
        "obeyed; a crawler ignoring it also finds the private pages alive).\n\n"
        "Pages: GETs of tree pages on 127.0.0.1 (the root twice for a crawler that fetches both /tree/n/ and 1.html); "
        "private: requests for disallowed pages; 127.0.0.2: every request there (linked: "
        f"{2 * extras} URLs); URLs / broken: what the tool reported.\n\n"]
    headers = ["tool", "wall", "CPU s", "exit", "pages", "private", "robots.txt", "127.0.0.2", "requests",
               "URLs reported", "broken reported"]
    rows = []
    for name, recs in runs.items():
        for rec in recs:
            rows.append([name, _wall(rec, args.timeout), f"{rec['cpu_s']:.2f}", str(rec["returncode"]),
                         str(rec["pages_fetched"]), str(rec["private_requests"]), str(rec["robots_requests"]),
                         str(rec["second_host_requests"]), str(rec["requests"]), str(rec["urls_reported"]),
                         str(rec["broken_reported"])])
    if not args.pcheck_crawl:
        rows.append(["pcheck crawl", "skipped: `pcheck crawl --help` did not print crawl's usage (not written yet)"] + ["-"] * 9)
    parts.append(md_table(headers, rows))
    cut = [f"- {name}, {rec['tag']}: {rec['stderr_tail'][-300:]!r}" for name, recs in runs.items() for rec in recs
           if rec["stderr_tail"]]
    if cut:
        parts.append("\nStderr of runs cut or failed:\n" + "\n".join(cut) + "\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.exit(main())
