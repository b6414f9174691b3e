"""Crawling a site (issue 29): `pcheck crawl`, linkinator and LinkChecker on the lab's tree, in one run.

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
  (a) linkinator --recurse --concurrency C and pcheck crawl --host-interval 0 --no-robots --max-per-host C,
      C = 100 (linkinator's default) and 8: politeness off on both sides, the same concurrency
  (b) pcheck crawl at its defaults (the start host unpaced, other hosts 50 ms apart) vs linkchecker at its defaults
  (c) pcheck crawl with --exclude 127.0.0.2 (the default without the paced second host), --host-interval 50ms
      (the default's spelling: crawl cannot tell it was given), 0.05s (every host paced), 10ms, 0
  pcheck crawl is SKIPPED only while `pcheck crawl --help` fails or prints check's usage (no crawl command).
  --only TEXT runs the tools whose name holds TEXT. pcheck runs as `python -m pcheck` from this checkout
  (cwd and PYTHONPATH), its report as jsonl (one record per link occurrence, plus the start URL).

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
import statistics
import subprocess
import sys
import time
import urllib.parse
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


#: Concurrency for target (a): politeness off on both sides, the same number in flight (linkinator's default is 100).
CONCURRENCIES = (100, 8)
#: The default pacing (pcheck.config.DEFAULT_HOST_INTERVAL): other hosts than the start URL's at defaults.
DEFAULT_INTERVAL_S = 0.05
#: Target (c): pcheck's pacing choices, as (name suffix, options, (start host interval s, other hosts interval s)).
PACINGS = (
    ("", [], (0.0, DEFAULT_INTERVAL_S)),
    (" --exclude 127.0.0.2", ["--exclude", r"^https?://127\.0\.0\.2[:/]"], (0.0, None)),
    # `50ms` is the default's own spelling: crawl cannot tell it from no option (the start host stays unpaced);
    # `0.05s` is the same interval given in a way crawl sees, so it paces every host, the start host too.
    (" --host-interval 50ms", ["--host-interval", "50ms"], (0.05, 0.05)),
    (" --host-interval 0.05s", ["--host-interval", "0.05s"], (0.05, 0.05)),
    (" --host-interval 10ms", ["--host-interval", "10ms"], (0.01, 0.01)),
    (" --host-interval 0", ["--host-interval", "0"], (0.0, 0.0)),
)


def pcheck_crawl_command(start: str, out: str, options: list[str]) -> list[str]:
    """`pcheck crawl` with `options` (none: its defaults); jsonl to count what it reported (one record per link occurrence)."""
    return [PY, "-m", "pcheck", "crawl", start, *options, "--format", "jsonl", "-o", out, "--no-progress"]


def tools(args: argparse.Namespace, start: str, tmp: str, out: str) -> dict[str, tuple[str, list[str], tuple | None]]:
    """name -> (output kind, command, pcheck's pacing: (start host interval, other hosts' interval) or None);
    tools not found are left out (and said so in main), and so are those --only does not name."""
    found: dict[str, tuple[str, list[str], tuple | None]] = {}
    if args.linkinator:
        for c in CONCURRENCIES:  # (a); linkinator's default concurrency is 100
            found[f"linkinator --recurse --concurrency {c}"] = (
                "linkinator", [args.linkinator, start, "--recurse", "--concurrency", str(c), "--format", "json"], None)
    if args.pcheck_crawl:
        for c in CONCURRENCIES:  # (a): politeness off, the same concurrency (-p at its default)
            options = ["--host-interval", "0", "--no-robots", "--max-per-host", str(c)]
            found["pcheck crawl " + " ".join(options)] = ("pcheck", pcheck_crawl_command(start, out, options), (0.0, 0.0))
    if args.linkchecker:
        # LinkChecker drops root to `nobody` after reading its config: the file must be readable by anyone.
        rc = os.path.join(tmp, "linkcheckerrc")
        with open(rc, "w") as f:
            f.write(f"[checking]\nmaxrequestspersecond={LINKCHECKER_RATE}\n")
        os.chmod(tmp, 0o711)
        os.chmod(rc, 0o644)
        base = [args.linkchecker, "--no-status", "-v", "-o", "csv"]  # output only: every URL, as CSV, on stdout
        found["linkchecker"] = ("linkchecker", [*base, start], None)  # (b)
        found[f"linkchecker, {LINKCHECKER_RATE} req/s"] = ("linkchecker", [*base, "-f", rc, start], None)
        found[f"linkchecker, {LINKCHECKER_RATE} req/s, --check-extern"] = (
            "linkchecker", [*base, "-f", rc, "--check-extern", start], None)
    if args.pcheck_crawl:
        for suffix, options, pacing in PACINGS:  # (b) at its defaults, and (c)
            found["pcheck crawl" + suffix] = ("pcheck", pcheck_crawl_command(start, out, options), pacing)
    if args.only:
        found = {name: tool for name, tool in found.items() if any(part in name for part in args.only)}
    return found


def reported(kind: str, stdout_path: str, out: str) -> dict:
    """What the tool reported, read from its output: records (pcheck: one per link occurrence, and the start URL;
    the peers: one per distinct URL), distinct URLs, and those reported broken (records and distinct URLs)."""
    rows: list[tuple[str, str]] = []  # (url, "broken" / "alive" / pcheck's outcome)
    try:
        if kind == "linkinator":
            with open(stdout_path, encoding="utf-8") as f:
                links = json.load(f).get("links", [])
            rows = [(link.get("url"), "broken" if link.get("state") == "BROKEN" else "alive") for link in links]
        elif kind == "linkchecker":
            with open(stdout_path, encoding="utf-8", errors="replace") as f:
                found = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter=";"))
            rows = [(row.get("url") or row.get("urlname"), "broken" if row.get("valid") == "False" else "alive")
                    for row in found]
        else:
            with open(out, encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip().startswith("{")]
            rows = [(r.get("url"), r.get("outcome")) for r in records]
    except (OSError, ValueError):
        pass
    checked: dict[str, int] = {}  # distinct URLs requested per host: pcheck spaces each URL's check by the interval
    for url in {u for u, o in rows if u and o != "excluded"}:
        host = urllib.parse.urlsplit(url).hostname or "?"
        checked[host] = checked.get(host, 0) + 1
    return {"urls_reported": len(rows), "broken_reported": sum(1 for _, o in rows if o == "broken"),
            "distinct_urls": len({u for u, _ in rows}), "distinct_broken": len({u for u, o in rows if o == "broken"}),
            "excluded_reported": sum(1 for _, o in rows if o == "excluded"), "checked_by_host": checked}


def crawl_counts(lab: LabProcess) -> dict:
    with urllib.request.urlopen(lab.base(0) + "/__lab/crawl", timeout=10) as r:
        return json.loads(r.read())


def one_run(lab: LabProcess, args: argparse.Namespace, name: str, n: int, tmp: str, tag: str) -> dict:
    start = f"{lab.base(0)}/tree/{n}/"
    out = os.path.join(tmp, f"{tag}.out")
    kind, cmd, pacing = tools(args, start, tmp, out)[name]
    time.sleep(1.1)
    before, crawl_before = lab.stats(), crawl_counts(lab)
    lab_cpu0 = lab.cpu_s()
    run = measured(cmd, args.timeout, tmp, tag)
    after, crawl_after = lab.stats(), crawl_counts(lab)
    one, two = lab.addresses[0], lab.addresses[1]

    def delta(address: str, key: str) -> int:
        return crawl_after.get(address, {}).get(key, 0) - crawl_before.get(address, {}).get(key, 0)

    return {
        "tag": tag, "command": [os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)],
        "wall_s": run.wall_s, "cpu_s": run.cpu_s, "returncode": run.returncode, "timed_out": run.timed_out,
        "busy_before": run.busy_before, "lab_cpu_s": lab.cpu_s() - lab_cpu0, "peak_rss_mb": run.peak_rss_mb,
        "pages_fetched": delta(one, "GET tree"), "tree_heads": delta(one, "HEAD tree"), "entry_requests":
        delta(one, "GET entry") + delta(one, "HEAD entry"),
        "private_requests": delta(one, "GET private") + delta(one, "HEAD private"),
        "robots_requests": delta(one, "GET robots") + delta(two, "GET robots"),
        "missing_requests": delta(one, "GET missing") + delta(one, "HEAD missing"),
        "start_host_requests": after[one]["requests"] - before[one]["requests"],
        "second_host_requests": after[two]["requests"] - before[two]["requests"],
        "second_host_tree_gets": delta(two, "GET tree"),
        "requests": sum(after[a]["requests"] - before[a]["requests"] for a in lab.addresses),
        "pacing": pacing, **reported(kind, run.stdout_path, out),
        "stderr_tail": run.stderr_tail[-400:] if (run.timed_out or run.returncode not in (0, 1)) else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"the {QUICK_N}-page tree instead of {FULL_N}")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, interleaved (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed (default 300)")
    ap.add_argument("--linkinator", default=find_linkinator(), help="the linkinator command (npm install linkinator@6)")
    ap.add_argument("--linkchecker", default=find_linkchecker(), help="the linkchecker command (pip install linkchecker)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only the tools whose name holds TEXT (repeatable; e.g. --only linkinator --only 'pcheck crawl')")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: the lab is stopped, the temp folder removed
    n = QUICK_N if args.quick else FULL_N
    # Every `python -m pcheck` below (and its fork server and workers) imports this checkout's pcheck, not an
    # editable install of another one: cwd is ROOT, and PYTHONPATH says it again for any child.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
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
                    print(f"  round {r + 1} {name:<62} {_line(rec, args.timeout)}", flush=True)
    finally:
        cleanup(tmp)
    md = render(n, runs, args, info)
    jpath, mpath = write_results("crawl-quick" if args.quick else "crawl", {
        "machine": info, "n": n, "links": tree_links(n), "rounds": args.rounds, "timeout_s": args.timeout, "only": args.only,
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
            f"{rec['urls_reported']} reported ({rec['distinct_urls']} distinct), {rec['broken_reported']} broken "
            f"({rec['distinct_broken']} distinct)")


def render(n: int, runs: dict[str, list[dict]], args: argparse.Namespace, info: dict) -> str:
    extras = n // EXTRA_EVERY
    parts = [
        f"# Crawling the lab's tree of {n} pages{' (quick)' if args.quick else ''}\n\n"
        f"Machine: {info['usable_cores']} usable cores of {info['cpu_count']} ({info['cpu']}), Python {info['python']}, "
        f"{info['platform']}; {info['when']}; pcheck at {info.get('git_head', '?')}; linkinator "
        f"{info.get('linkinator_version') or 'not found'}, {info.get('linkchecker_version') or 'linkchecker not found'}. "
        f"{args.rounds} round(s), interleaved; runs cut at {args.timeout:.0f} s; the lab in its own process on the same cores.\n\n"
        f"The site: {n} pages on 127.0.0.1 (start: /tree/{n}/, a 302 to 1.html), {tree_links(n):,} links to "
        f"{n + 4 * extras:,} distinct URLs: {extras} missing pages (404), {extras} 404s and {extras} pages on 127.0.0.2 "
        f"(check, do not follow), {extras} pages robots.txt disallows. {2 * extras} broken in all (robots.txt "
        "obeyed; a crawler ignoring it also finds the private pages alive).\n\n"
        "Pages: GETs of tree pages on 127.0.0.1 (the root twice for a crawler that fetches both /tree/n/ and 1.html); "
        "private: requests for disallowed pages; 127.0.0.1 / 127.0.0.2: every request there (linked on 127.0.0.2: "
        f"{2 * extras} URLs); reported: the tool's records (pcheck: one per link occurrence, {tree_links(n):,} + the "
        "start URL; the peers: one per distinct URL), distinct: distinct URLs among them; broken: records / distinct "
        "URLs reported broken (pcheck: outcome `broken`; robots-disallowed links are `excluded`, not requested).\n\n"]
    headers = ["tool", "wall", "CPU s", "exit", "pages", "private", "robots.txt", "127.0.0.1", "127.0.0.2", "requests",
               "reported", "distinct", "broken", "broken distinct"]
    rows = []
    for name, recs in runs.items():
        for rec in recs:
            rows.append([name, _wall(rec, args.timeout), f"{rec['cpu_s']:.2f}", str(rec["returncode"]),
                         str(rec["pages_fetched"]), str(rec["private_requests"]), str(rec["robots_requests"]),
                         str(rec["start_host_requests"]), str(rec["second_host_requests"]), str(rec["requests"]),
                         str(rec["urls_reported"]), str(rec["distinct_urls"]), str(rec["broken_reported"]),
                         str(rec["distinct_broken"])])
    if not args.pcheck_crawl:
        rows.append(["pcheck crawl", "skipped: `pcheck crawl --help` did not print crawl's usage (not written yet)"]
                    + ["-"] * (len(headers) - 2))
    parts.append(md_table(headers, rows))
    parts.append(targets(runs, args.timeout))
    cut = [f"- {name}, {rec['tag']}: {rec['stderr_tail'][-300:]!r}" for name, recs in runs.items() for rec in recs
           if rec["stderr_tail"]]
    if cut:
        parts.append("\nStderr of runs cut or failed:\n" + "\n".join(cut) + "\n")
    return "".join(parts)


def _median(runs: dict[str, list[dict]], name: str, key: str = "wall_s") -> float | None:
    recs = runs.get(name) or []
    return statistics.median(r[key] for r in recs) if recs else None


def _cut(runs: dict[str, list[dict]], name: str) -> bool:
    return any(r["timed_out"] for r in runs.get(name) or [])


def targets(runs: dict[str, list[dict]], timeout: float) -> str:
    """The issue's targets as measured ratios (medians over the rounds of this run)."""
    out = ["\n## Targets (issue 29), medians of this run\n\n"
           "(a) Politeness off on both sides, equal concurrency C: `pcheck crawl --host-interval 0 --no-robots "
           "--max-per-host C` (-p at its default) vs `linkinator --recurse --concurrency C`. Target: pcheck at least "
           "as fast.\n\n"]
    rows = []
    for c in CONCURRENCIES:
        mine = _median(runs, f"pcheck crawl --host-interval 0 --no-robots --max-per-host {c}")
        theirs = _median(runs, f"linkinator --recurse --concurrency {c}")
        if mine is None or theirs is None:
            continue
        rows.append([str(c), f"{mine:.2f} s", f"{theirs:.2f} s", f"{mine / theirs:.2f}x",
                     "yes" if mine <= theirs else "no"])
    out.append(md_table(["C", "pcheck", "linkinator", "pcheck / linkinator", "holds?"], rows) if rows else "not run\n")
    out.append("\n(b) Defaults: `pcheck crawl` vs `linkchecker`. Target: faster.\n\n")
    mine, theirs = _median(runs, "pcheck crawl"), _median(runs, "linkchecker")
    if mine is not None and theirs is not None:
        cut = _cut(runs, "linkchecker")
        ratio = f"< {mine / timeout:.3f}x (linkchecker cut at {timeout:.0f} s)" if cut else f"{mine / theirs:.3f}x"
        shown = f"did not finish in {timeout:.0f} s" if cut else f"{theirs:.2f} s"
        out.append(md_table(["pcheck", "linkchecker", "pcheck / linkchecker", "holds?"],
                            [[f"{mine:.2f} s", shown, ratio, "yes" if mine < theirs else "no"]]))
    else:
        out.append("not run\n")
    out.append("\n(c) What each pacing costs, pcheck only (robots.txt obeyed). Floors: the least time the interval "
               "allows, (distinct URLs checked on the host - 1) x its interval (the interval spaces the starts of URL "
               "checks; a HEAD's GET confirmation of a 404 is in the same check; 127.0.0.1 is also capped at 8 in "
               "flight); `--host-interval 50ms` is the default's own spelling, `0.05s` the same interval spelled so "
               "that crawl sees it was given; "
               "the 127.0.0.2 floor at 50 ms is what the default costs on this site whatever the start host does, so "
               "the `--exclude 127.0.0.2` row shows the default without it (its links reported `excluded`, never requested).\n\n")
    rows = []
    for suffix, _, (first, other) in PACINGS:
        name = "pcheck crawl" + suffix
        wall = _median(runs, name)
        if wall is None:
            continue
        r1, r2 = _median(runs, name, "start_host_requests"), _median(runs, name, "second_host_requests")
        u1 = statistics.median(r["checked_by_host"].get("127.0.0.1", 0) for r in runs[name])
        u2 = statistics.median(r["checked_by_host"].get("127.0.0.2", 0) for r in runs[name])
        floor1 = max(0.0, u1 - 1) * first
        floor2 = max(0.0, u2 - 1) * (other or 0.0)
        interval = "unpaced" if first == 0 else f"{first * 1000:.0f} ms"
        second = "excluded" if other is None else ("unpaced" if other == 0 else f"{other * 1000:.0f} ms")
        rows.append([f"`{name}`", interval, second, f"{wall:.2f} s", f"{_median(runs, name, 'requests'):.0f}",
                     f"{r1:.0f}", f"{r2:.0f}", f"{floor1:.2f} s", f"{floor2:.2f} s",
                     f"{wall - max(floor1, floor2):.2f} s"
                     + (" (below the floor: the interval did not apply)" if wall < max(floor1, floor2) else "")])
    out.append(md_table(["run", "127.0.0.1", "other hosts", "wall", "requests", "to 127.0.0.1", "to 127.0.0.2",
                         "127.0.0.1 floor", "127.0.0.2 floor", "wall - larger floor"], rows) if rows else "not run\n")
    return "".join(out)


if __name__ == "__main__":
    sys.exit(main())
