"""Messy lists: refusals, 5xx, 429s, loops; pcheck vs lychee, both at their defaults, in one run.

    python benchmarks/refusals.py                       # every workload, 3 rounds, interleaved
    python benchmarks/refusals.py --quick               # a fifth of the URLs, 1 round
    python benchmarks/refusals.py --only one-failing,half-rate --rounds 1
    python benchmarks/refusals.py --ref /path/to/old    # also pcheck from an older checkout (PYTHONPATH)

Workloads, on one local site of 10 host addresses (URL i goes to host i % 10, so the hosts are
interleaved; every URL is distinct, and carries the run's tag, so no run sees another's state):

  clean        1,500 URLs: 95% /ok, one /status/404 in every 20 (its place shifted each block: on every host)
  503s         the same, but 25 /ok of them /status/503, every time (broken), spread evenly over the list
               and over the hosts
  messy        1,500 URLs in a cycle of 100 (shifted by one each 100, so every route meets every host):
               60% /ok, 10% 404, 5% 500, 3% 410, 10% /redirect/2 (alive), 5% /head-refused (405 to HEAD,
               200 to GET: alive), 4% /retry-after/1/<key> (429 with Retry-After: 1 to the first request
               to that URL, then 200: alive), 3% /loop/a/<key> (broken)
  one-failing  a Markdown file with two links: /status/503 (every time) on 127.0.0.2, /ok on 127.0.0.1;
               the requests the failing link's host received (the site's per-host counter)
  half-rate    60 URLs on 127.0.0.1 under /every-other/ (the 1st, 3rd, ... request to that host gets
               429 without Retry-After, the others 200: alive; each run's first request gets a 429),
               and 40 /ok URLs on 127.0.0.2; the 429s the site sent

Tools, each at its defaults: pcheck (this code), pcheck --recheck-after 0, pcheck from --ref if given,
and lychee (`lychee FILE --format json -o OUT --no-progress`) if found. Per run: wall time, CPU of the
tool's whole tree, verdicts scored against what the site serves (alive vs not alive; pcheck's jsonl
must hold exactly one record per URL), exit code. A run cut at --timeout is recorded as timed out.
Rounds are interleaved (every tool once per workload per round, the order rotated), with 1.1 s
between runs. Writes results/refusals[-quick].json/.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from common import (
    PY, LabProcess, cleanup, fmt_spread, machine, md_table, measured, read_verdicts, spread, workdir, write_results,
)

ALIVE, BROKEN = "alive", "broken"
HOSTS = 10
LIST_URLS = 1_500
FAILING_503 = 25
HALF_RATE_URLS, HALF_RATE_NORMAL = 60, 40
QUICK_SCALE = 0.2
#: messy's cycle of 100: (route label, how many in each 100, outcome the site serves).
MESSY_CYCLE: list[tuple[str, int, str]] = [
    ("ok", 60, ALIVE), ("status/404", 10, BROKEN), ("status/500", 5, BROKEN), ("status/410", 3, BROKEN),
    ("redirect/2", 10, ALIVE), ("head-refused", 5, ALIVE), ("retry-after/1", 4, ALIVE), ("loop", 3, BROKEN),
]
WORKLOADS = ("clean", "503s", "messy", "one-failing", "half-rate")
#: pcheck's default --recheck-after, for the one-failing target.
RECHECK_AFTER_S = 10.0


def _spaced(n: int, k: int) -> set[int]:
    """k indexes spread evenly over range(n)."""
    return {int((j + 0.5) * n / k) for j in range(k)} if k else set()


def _is_404(i: int) -> bool:
    """clean's 404s: one in each block of 20 URLs, its place shifted by one each block (so over every host)."""
    return (i % 20 + i // 20) % 20 == 5


def _failing_503(n: int, k: int) -> set[int]:
    """k indexes spread evenly over range(n) and over the hosts (the j-th on host j % HOSTS), none a 404."""
    chosen: set[int] = set()
    for j in range(k):
        base = int((j + 0.5) * n / k)
        i = base - base % HOSTS + j % HOSTS
        while _is_404(i) or i in chosen:
            i += HOSTS
        chosen.add(i)
    assert all(i < n for i in chosen)
    return chosen


def _messy_slots() -> list[tuple[str, str]]:
    """The 100 slots of the messy cycle, each route spread over it (not in blocks)."""
    slots: list[tuple[str, str] | None] = [None] * 100
    for label, count, outcome in sorted(MESSY_CYCLE, key=lambda x: x[1]):  # the rare ones placed first
        free = [i for i, s in enumerate(slots) if s is None]
        for j in sorted(_spaced(len(free), count)):
            slots[free[j]] = (label, outcome)
    assert all(slots) and collections.Counter(s[0] for s in slots) == {x[0]: x[1] for x in MESSY_CYCLE}
    return slots  # type: ignore[return-value]


MESSY_SLOTS = _messy_slots()


def build(workload: str, lab: LabProcess, scale: float, tag: str) -> list[tuple[str, str, str]]:
    """[(url, route label, expected outcome)] for one run; `tag` makes every URL this run's own."""
    q = f"run={tag}"
    n = max(20, int(round(LIST_URLS * scale)))
    items: list[tuple[str, str, str]] = []
    if workload in ("clean", "503s"):
        failing = _failing_503(n, max(1, int(round(FAILING_503 * scale)))) if workload == "503s" else set()
        for i in range(n):
            if i in failing:
                route, outcome = "status/503", BROKEN
            elif _is_404(i):
                route, outcome = "status/404", BROKEN
            else:
                route, outcome = "ok", ALIVE
            items.append((f"{lab.base(i % HOSTS)}/{route}?i={i}&{q}", route, outcome))
    elif workload == "messy":
        for i in range(n):
            route, outcome = MESSY_SLOTS[(i + i // 100) % 100]  # shifted each 100, so every route meets every host
            if route == "retry-after/1":
                path = f"retry-after/1/k{i}-{tag}?i={i}&{q}"
            elif route == "loop":
                path = f"loop/a/{i}-{tag}"
            else:
                path = f"{route}?i={i}&{q}"
            items.append((f"{lab.base(i % HOSTS)}/{path}", route, outcome))
    elif workload == "one-failing":
        items = [(f"{lab.base(1)}/status/503", "status/503", BROKEN), (f"{lab.base(0)}/ok", "ok", ALIVE)]
    elif workload == "half-rate":
        items = [(f"{lab.base(0)}/every-other/{tag}?i={i}", "every-other", ALIVE) for i in range(HALF_RATE_URLS)]
        items += [(f"{lab.base(1)}/ok?i={i}&{q}", "ok", ALIVE) for i in range(HALF_RATE_NORMAL)]
        # interleaved, as the lists are: the normal host's URLs are among the refused host's
        items = [x for pair in zip(items[:HALF_RATE_NORMAL], items[HALF_RATE_URLS:]) for x in pair] \
            + items[HALF_RATE_NORMAL:HALF_RATE_URLS]
    else:
        raise ValueError(workload)
    return items


def write_input(workload: str, items: list[tuple[str, str, str]], folder: str, tag: str) -> str:
    if workload == "one-failing":
        path = os.path.join(folder, f"{tag}.md")
        (failing, _, _), (good, _, _) = items
        text = (f"# Links\n\nThe service: [status]({failing}).\n\nThe home page: [home]({good}).\n")
    else:
        path = os.path.join(folder, f"{tag}.txt")
        text = "".join(u + "\n" for u, _, _ in items)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def tool_commands(args: argparse.Namespace, path: str, out: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (verdict kind, command)."""
    pcheck = ["-m", "pcheck", "check", path, "--format", "jsonl", "-o", out, "--no-progress"]
    tools = {"pcheck": ("pcheck", [PY, *pcheck]),
             "pcheck --recheck-after 0": ("pcheck", [PY, *pcheck, "--recheck-after", "0"])}
    if args.ref:
        # -P: the current folder (this checkout) does not come before PYTHONPATH on sys.path.
        tools["pcheck (--ref)"] = ("pcheck", ["env", f"PYTHONPATH={args.ref}", PY, "-P", *pcheck])
    if args.lychee:
        tools["lychee"] = ("lychee", [args.lychee, path, "--format", "json", "-o", out, "--no-progress"])
    return tools


def jsonl_records(path: str) -> collections.Counter:
    """url -> records for it in a pcheck jsonl report."""
    counts: collections.Counter = collections.Counter()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip().startswith("{"):
                    try:
                        counts[json.loads(line).get("url")] += 1
                    except ValueError:
                        pass
    except OSError:
        pass
    return counts


def one_run(lab: LabProcess, args: argparse.Namespace, workload: str, name: str, scale: float, tmp: str,
            tag: str) -> dict:
    items = build(workload, lab, scale, tag)
    urls = [u for u, _, _ in items]
    path = write_input(workload, items, tmp, tag)
    out = os.path.join(tmp, f"{tag}.out")
    kind, cmd = tool_commands(args, path, out)[name]
    time.sleep(1.1)  # the site's windows empty; the previous run's connections are gone
    if workload == "half-rate":
        _every_other_starts_refusing(lab)
    before = lab.stats()
    lab_cpu0 = lab.cpu_s()
    try:
        run = measured(cmd, args.timeout, tmp, tag)
    except (RuntimeError, OSError, ValueError) as exc:  # measure.py itself failed: record it, go on
        return {"tag": tag, "failed": str(exc)[-500:], "timed_out": False, "wall_s": None, "cpu_s": None,
                "returncode": None, "urls": len(urls)}
    after = lab.stats()
    verdicts = read_verdicts(kind, out, urls)
    truth = {u: t for u, _, t in items}
    route = {u: r for u, r, _ in items}
    answered = sum(1 for u in urls if u in verdicts)
    right = sum(1 for u in urls if u in verdicts and (verdicts[u] == ALIVE) == (truth[u] == ALIVE))
    wrong = collections.Counter(f"{route[u]}: said {verdicts.get(u, 'nothing')}, is {truth[u]}"
                                for u in urls if u not in verdicts or (verdicts[u] == ALIVE) != (truth[u] == ALIVE))
    wrong_examples = [u for u in urls if u in verdicts and (verdicts[u] == ALIVE) != (truth[u] == ALIVE)][:5]
    rec: dict = {
        "tag": tag, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "returncode": run.returncode, "timed_out": run.timed_out,
        "busy_before": run.busy_before, "lab_cpu_s": lab.cpu_s() - lab_cpu0, "urls": len(urls),
        "answered": answered, "right": right, "wrong": dict(wrong), "wrong_examples": wrong_examples,
        "exact": sum(1 for u in urls if verdicts.get(u) == truth[u]),
        "requests": {a: after[a]["requests"] - before[a]["requests"] for a in lab.addresses},
        "refused": {a: after[a]["refused"] - before[a]["refused"] for a in lab.addresses},
        "stderr_tail": run.stderr_tail[-400:] if (run.timed_out or run.returncode not in (0, 1, 2)) else "",
    }
    if kind == "pcheck":
        counts = jsonl_records(out)
        rec["one_record_per_url"] = set(counts) == set(urls) and all(c == 1 for c in counts.values())
        rec["records"] = sum(counts.values())
    if workload == "one-failing":
        rec["failing_host_requests"] = rec["requests"][lab.addresses[1]]
    if workload == "half-rate":
        rec["sent_429"] = rec["refused"][lab.addresses[0]]
        rec["alive_of_60"] = sum(1 for u, r, _ in items if r == "every-other" and verdicts.get(u) == ALIVE)
        rec["normal_alive_of_40"] = sum(1 for u, r, _ in items if r == "ok" and verdicts.get(u) == ALIVE)
    return rec


def _every_other_starts_refusing(lab: LabProcess) -> None:
    """Make the next /every-other request to 127.0.0.1 a 429 (its counter is the site's, kept across runs):
    probe it; a 429 means the next would be a 200, so probe once more."""
    import urllib.error
    import urllib.request

    for _ in range(2):
        try:
            with urllib.request.urlopen(f"{lab.base(0)}/every-other/probe", timeout=10):
                return  # a 200: the next is a 429
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise


def wall_text(runs: list[dict], timeout: float) -> str:
    done = [x["wall_s"] for x in runs if x["wall_s"] is not None and not x["timed_out"]]
    cut = sum(1 for x in runs if x["timed_out"])
    failed = sum(1 for x in runs if x.get("failed"))
    text = fmt_spread(spread(done), 2, " s") if done else ""
    if cut:
        text += (f" + {cut} timed out" if done else f"> {timeout:.0f} s (timed out{f' x{cut}' if cut > 1 else ''})")
    if failed:
        text += f" + {failed} failed to run"
    return text.strip() or "n/a"


def wall_median(runs: list[dict], timeout: float) -> tuple[float | None, bool]:
    """Median wall over the rounds, a timed-out run counted as the timeout; and whether any was cut."""
    walls = [timeout if x["timed_out"] else x["wall_s"] for x in runs if x["wall_s"] is not None]
    return spread(walls)["median"], any(x["timed_out"] for x in runs)


def right_text(runs: list[dict], kind_pcheck: bool) -> str:
    scored = [x for x in runs if not x.get("failed")]
    if not scored:
        return "n/a"
    worst = min(scored, key=lambda x: x["right"])
    text = f"{worst['right']} of {worst['urls']}"
    if worst["answered"] < worst["urls"]:
        text += f" ({worst['urls'] - worst['answered']} unanswered)"
    if kind_pcheck and not all(x.get("one_record_per_url") for x in scored):
        text += " (not one record per URL)"
    return text


def codes_text(runs: list[dict]) -> str:
    codes = sorted({"timeout" if x["timed_out"] else ("failed" if x.get("failed") else str(x["returncode"])) for x in runs})
    return ", ".join(codes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, help="default 3 (1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a fifth of the URLs, 1 round")
    ap.add_argument("--ref", help="an older pcheck checkout, run with PYTHONPATH=REF")
    ap.add_argument("--lychee", default=shutil.which("lychee") or _beside_python("lychee"),
                    help="lychee binary [default: on PATH, or beside this Python]")
    ap.add_argument("--only", help=f"run only these workloads, comma-separated: {','.join(WORKLOADS)}")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed")
    args = ap.parse_args()
    workloads = [w.strip() for w in args.only.split(",")] if args.only else list(WORKLOADS)
    if unknown := [w for w in workloads if w not in WORKLOADS]:
        ap.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    scale = QUICK_SCALE if args.quick else 1.0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: the lab is stopped, the temp folder removed
    rounds = args.rounds or (1 if args.quick else 3)
    info = machine()
    tmp = workdir("refusals")
    names: list[str] = []
    runs: dict[str, dict[str, list[dict]]] = {w: {} for w in workloads}
    try:
        with LabProcess(HOSTS) as lab:
            names = list(tool_commands(args, "FILE", "OUT"))
            print(f"refusals: {', '.join(workloads)}; {rounds} round(s); tools: {', '.join(names)}; "
                  f"lychee: {args.lychee or 'not found'}; timeout {args.timeout:.0f} s", flush=True)
            for r in range(rounds):
                for workload in workloads:
                    order = names[r % len(names):] + names[:r % len(names)]
                    for name in order:
                        tag = f"{workload}-t{names.index(name)}-r{r}"
                        rec = one_run(lab, args, workload, name, scale, tmp, tag)
                        runs[workload].setdefault(name, []).append(rec)
                        print(f"  round {r + 1} {workload:<11} {name:<26} {_line(rec)}", flush=True)
    finally:
        cleanup(tmp)

    md = render(workloads, names, runs, rounds, scale, args, info)
    suffix = "-quick" if args.quick else ""
    jpath, mpath = write_results(f"refusals{suffix}", {
        "machine": info, "rounds": rounds, "scale": scale, "timeout_s": args.timeout, "tools": names,
        "lychee": args.lychee, "ref": args.ref, "runs": runs}, md)
    print()
    print(md)
    print(f"wrote {jpath}, {mpath}")
    return 0


def _beside_python(name: str) -> str | None:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else None


def _line(rec: dict) -> str:
    if rec.get("failed"):
        return f"FAILED: {rec['failed'][-200:]}"
    extra = ""
    if "failing_host_requests" in rec:
        extra = f", {rec['failing_host_requests']} requests to the failing host"
    if "sent_429" in rec:
        extra = f", {rec['sent_429']} 429s sent, {rec['alive_of_60']}/60 alive"
    return (f"{rec['wall_s']:7.2f} s{' (TIMED OUT)' if rec['timed_out'] else ''}, {rec['cpu_s']:6.2f} s CPU, "
            f"right {rec['right']}/{rec['urls']}, rc {rec['returncode']}{extra}"
            + (f"; wrong: {rec['wrong']}" if rec["wrong"] else ""))


def render(workloads: list[str], names: list[str], runs: dict, rounds: int, scale: float,
           args: argparse.Namespace, info: dict) -> str:
    parts = [f"# Messy lists: pcheck vs lychee at their defaults{' (quick)' if scale != 1.0 else ''}\n\n"
             f"Machine: {info['usable_cores']} usable cores of {info['cpu_count']} ({info['cpu']}), Python "
             f"{info['python']}, {info['platform']}; {info['when']}; pcheck at {info.get('git_head', '?')}"
             + (f" with uncommitted changes in {', '.join(info['pcheck_uncommitted'])}" if info.get("pcheck_uncommitted") else "")
             + f". {rounds} round(s), interleaved (order rotated); median (min-max); runs cut at {args.timeout:.0f} s. "
             "CPU: the tool's whole process tree. Right: alive vs not-alive verdicts agreeing with what the site "
             "serves (worst round). Wall / lychee: this tool's median wall over lychee's (a timed-out run counted "
             "as the timeout, so a ratio with \">\" is a lower bound).\n"]
    notes: list[str] = []
    for workload in workloads:
        by_tool = runs[workload]
        headers = ["tool (defaults)", "wall", "wall / lychee", "CPU s", "right", "exit"]
        if workload == "one-failing":
            headers.append("requests to the failing host")
        if workload == "half-rate":
            headers += ["429s sent", "alive of 60", "/ok alive of 40"]
        lychee_median, lychee_cut = wall_median(by_tool.get("lychee", []), args.timeout)
        rows = []
        for name in names:
            xs = by_tool.get(name, [])
            if not xs:
                continue
            med, cut = wall_median(xs, args.timeout)
            ratio = "-"
            if med is not None and lychee_median and not lychee_cut:
                ratio = f"{'> ' if cut else ''}{med / lychee_median:.2f}x"
            ok = [x for x in xs if not x.get("failed")]
            row = [name, wall_text(xs, args.timeout), ratio,
                   fmt_spread(spread([x["cpu_s"] for x in ok if not x["timed_out"]]), 2),
                   right_text(xs, name.startswith("pcheck")), codes_text(xs)]
            if workload == "one-failing":
                row.append(fmt_spread(spread([float(x["failing_host_requests"]) for x in ok]), 0))
            if workload == "half-rate":
                row += [fmt_spread(spread([float(x["sent_429"]) for x in ok]), 0),
                        fmt_spread(spread([float(x["alive_of_60"]) for x in ok]), 0),
                        fmt_spread(spread([float(x["normal_alive_of_40"]) for x in ok]), 0)]
            rows.append(row)
            wrong = collections.Counter()
            for x in ok:
                wrong.update(x["wrong"])
            if wrong:
                notes.append(f"- {workload}, {name}: wrong verdicts over {len(ok)} run(s): "
                             + "; ".join(f"{k} x{v}" for k, v in wrong.most_common()))
            for x in xs:
                if x["timed_out"] or x.get("failed"):
                    notes.append(f"- {workload}, {name}, {x['tag']}: "
                                 + ("timed out" if x["timed_out"] else f"failed to run: {x['failed'][-200:]}"))
        n = by_tool[names[0]][0]["urls"] if by_tool.get(names[0]) else "?"
        parts.append(f"\n## {workload} ({n} URLs{_what(workload)})\n\n" + md_table(headers, rows))
        if workload == "one-failing":
            parts.append(f"\nTargets (pcheck): at defaults, done within --recheck-after ({RECHECK_AFTER_S:.0f} s) + 3 s "
                         "with at most 5 requests for the failing link; with --recheck-after 0, within 3 s.\n")
    if notes:
        parts.append("\nNotes:\n" + "\n".join(notes) + "\n")
    return "".join(parts)


def _what(workload: str) -> str:
    return {
        "clean": f" on {HOSTS} hosts: 95% /ok, 5% /status/404",
        "503s": f" on {HOSTS} hosts: as clean, but {FAILING_503} (at full size) /status/503 every time, spread evenly",
        "messy": f" on {HOSTS} hosts, a cycle of 100: " + ", ".join(f"{c}% {label}" for label, c, _ in MESSY_CYCLE),
        "one-failing": " in a Markdown file: /status/503 every time on 127.0.0.2, /ok on 127.0.0.1",
        "half-rate": f": {HALF_RATE_URLS} /every-other/ on 127.0.0.1 (odd requests 429, no Retry-After), "
                     f"{HALF_RATE_NORMAL} /ok on 127.0.0.2",
    }[workload]


if __name__ == "__main__":
    sys.exit(main())
