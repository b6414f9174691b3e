"""Peak memory of the whole pcheck process tree, 100k vs 1M input lines, for every format and input shape.

    python benchmarks/memory.py                      # every format x shape, 100,000 and 1,000,000 lines
    python benchmarks/memory.py --quick              # 10,000 and 100,000 lines
    python benchmarks/memory.py --formats text,junit --shapes invalid,slow-repeat
    PYTHONPATH=/path/to/other/pcheck python benchmarks/memory.py --name memory-before   # another tree

Shapes (every URL is served by the local lab on loopback, or never requested):

  distinct     distinct URLs; one in 20 points at the lab's /ok on 50 hosts and is checked,
               the rest match --exclude (the issue-4 shape: an audit skipping most of a huge list)
  invalid      every line an invalid URL: every record is a problem the text report lists
  excluded     every line a distinct URL on its own host, all matching --exclude, with
               --host-stats: a record per URL for JUnit, a row per host for the host table
  slow-repeat  one URL repeated on every line, answered after LINES x SLOW_US_PER_LINE
               (2 s for 100k, 20 s for 1M: longer than reading the list takes), so every
               occurrence waits for the one verdict
  random       random bytes piped into `pcheck check -` (LINES x 256 bytes: about LINES lines)

Target (issue 13): in every cell, peak RSS of the tree grows by less than 150 MB from the small
size to the large one. A run whose tree passes CAP_MB is stopped (its process group killed) and
shown as "> CAP_MB". Each run is bounded by --timeout. The jsonl and csv reports are counted:
one record per input line (per candidate line for random bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import MEASURE, PY, RESULTS, LabProcess, machine, md_table
from measure import _rss_kb, descendants

FORMATS = ("text", "jsonl", "json", "csv", "markdown", "junit")
SHAPES = ("distinct", "invalid", "excluded", "slow-repeat", "random")
CHECKED_EVERY = 20
HOSTS = 50
TARGET_GROWTH_MB = 150.0
#: A run whose process tree passes this is stopped: the point is made, and the machine is shared.
CAP_MB = 2048
#: How often the cap is checked (measure.py samples the peak itself, every 50 ms).
CAP_CHECK_S = 0.1
#: The slow URL's delay per input line: the whole list is read before its one verdict comes.
SLOW_US_PER_LINE = 20
#: Random bytes per wanted line (a newline is one byte in 256).
RANDOM_BYTES_PER_LINE = 256
RANDOM_SEED = 13
SKIP = r"^http://[^/]*skip\.example/"
COMMON = ["--no-progress", "--timeout", "60", "--retries", "0"]


def write_input(shape: str, path: Path, lines: int, lab: LabProcess) -> tuple[list[str], int]:
    """Write the input for `shape`; return (extra options, records expected)."""
    if shape == "random":
        rng = random.Random(RANDOM_SEED)
        candidates = 0
        tail = b""
        first = True
        with open(path, "wb") as f:
            left = lines * RANDOM_BYTES_PER_LINE
            while left:
                chunk = rng.randbytes(min(left, 1 << 22))
                left -= len(chunk)
                f.write(chunk)
                *whole, tail = (tail + chunk).split(b"\n")
                for raw in whole:
                    candidates += _candidate(raw, first)
                    first = False
            candidates += bool(tail) and _candidate(tail, first)
        return [], candidates
    with open(path, "w", encoding="ascii") as f:
        if shape == "distinct":
            for i in range(lines):
                f.write(f"{lab.base(i)}/ok?i={i}\n" if i % CHECKED_EVERY == 0
                        else f"http://skip.example/page/{i}?ref={i * 7}\n")
            return ["--exclude", SKIP], lines
        if shape == "invalid":
            f.writelines(f"not a url {i}\n" for i in range(lines))
            return [], lines
        if shape == "excluded":
            f.writelines(f"http://h{i}.skip.example/page/{i}\n" for i in range(lines))
            return ["--exclude", SKIP, "--host-stats"], lines
        if shape == "slow-repeat":
            url = f"{lab.base(0)}/delay/{lines * SLOW_US_PER_LINE // 1000}\n"
            f.writelines(url for _ in range(lines))
            return [], lines
    raise ValueError(shape)


def _candidate(raw: bytes, first: bool) -> bool:
    """What pcheck's reader makes a record of: not blank, not a # comment (inputs._candidate_lines)."""
    text = raw.strip()
    if first and text.startswith(b"\xef\xbb\xbf"):
        text = text[3:].strip()
    return bool(text) and not text.startswith(b"#")


def run(shape: str, fmt: str, lines: int, listing: Path, options: list[str], expected: int,
        tmp: Path, timeout: float) -> dict:
    report = tmp / f"report-{shape}-{lines}.{fmt}"
    pcheck = [PY, "-m", "pcheck", "check", "-" if shape == "random" else str(listing),
              "--format", fmt, "-o", str(report), "--host-interval", "0", *options, *COMMON]
    # measure.py gives its command no stdin: random bytes come through a pipe from cat, as from `head`.
    cmd = ["sh", "-c", 'cat -- "$0" | "$@"', str(listing), *pcheck] if shape == "random" else pcheck
    proc = subprocess.Popen([PY, str(MEASURE), "--timeout", str(timeout), "--", *cmd],
                            stdout=subprocess.PIPE, text=True, cwd=tmp)  # cwd: PYTHONPATH decides the pcheck
    capped = threading.Event()
    watcher = threading.Thread(target=_cap, args=(proc, capped), daemon=True)
    watcher.start()
    out, _ = proc.communicate(timeout=timeout + 60)
    watcher.join(5)
    result = json.loads(out.strip().splitlines()[-1])
    records = None
    if fmt in ("jsonl", "csv") and not capped.is_set():
        with open(report, "rb") as f:
            records = sum(1 for _ in f) - (1 if fmt == "csv" else 0)
    result.update(shape=shape, format=fmt, lines=lines, capped=capped.is_set(), records=records,
                  records_ok=records is None or records == expected, expected=expected)
    report.unlink(missing_ok=True)
    return result


def _cap(proc: subprocess.Popen, capped: threading.Event) -> None:
    """Kill the measured command's process group once the tree under measure.py passes CAP_MB."""
    while proc.poll() is None:
        tree = descendants(proc.pid)
        if sum(_rss_kb(p) for p in tree) > CAP_MB * 1024:
            capped.set()
            try:
                os.killpg(tree[0], signal.SIGKILL)  # measure.py's child leads its own session
            except (OSError, IndexError):
                pass
            return
        time.sleep(CAP_CHECK_S)


def cell(r: dict) -> str:
    return f"> {CAP_MB}" if r["capped"] else f"{r['peak_rss_mb']:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k lines instead of 100k and 1M")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated (default: all)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated (default: all)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default 600)")
    parser.add_argument("--name", help="results/<name>.{json,md} (default memory, or memory-quick)")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = set(formats) - set(FORMATS) | set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown format or shape: {', '.join(sorted(unknown))}")
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    name = args.name or ("memory-quick" if args.quick else "memory")
    data = {"machine": machine(), "pythonpath": os.environ.get("PYTHONPATH"), "sizes": sizes,
            "target_growth_mb": TARGET_GROWTH_MB, "cap_mb": CAP_MB, "rows": []}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="pcheck-mem-") as tmp, LabProcess(HOSTS) as lab:
        for shape in shapes:
            for lines in sizes:
                listing = Path(tmp) / f"input-{shape}-{lines}"
                options, expected = write_input(shape, listing, lines, lab)
                for fmt in formats:
                    r = run(shape, fmt, lines, listing, options, expected, Path(tmp), args.timeout)
                    data["rows"].append(r)
                    print(f"{shape:<12}{fmt:<9}{lines:>9,} lines: {cell(r):>7} MB, {r['wall_s']:6.1f} s"
                          + ("" if r["records_ok"] else f"  RECORDS {r['records']} != {r['expected']}"),
                          file=sys.stderr, flush=True)
                listing.unlink()
    table, failed = [], 0
    for shape in shapes:
        for fmt in formats:
            small, large = (next(r for r in data["rows"] if (r["shape"], r["format"], r["lines"]) == (shape, fmt, n))
                            for n in sizes)
            growth = None if small["capped"] or large["capped"] else large["peak_rss_mb"] - small["peak_rss_mb"]
            records_ok = small["records_ok"] and large["records_ok"]
            ok = growth is not None and growth < TARGET_GROWTH_MB and records_ok
            failed += not ok
            if growth is not None:
                shown = f"{growth:+.0f}"
            else:
                shown = "?" if small["capped"] else f"> {CAP_MB - small['peak_rss_mb']:.0f}"
            table.append([shape, fmt, cell(small), cell(large), shown,
                          f"{small['wall_s']:.1f} / {large['wall_s']:.1f}",
                          "pass" if ok else "FAIL" + ("" if records_ok else " (records)")])
    headers = ["shape", "format", f"RSS MB at {sizes[0]:,}", f"RSS MB at {sizes[1]:,}", "growth MB",
               "wall s (small / large)", f"growth < {TARGET_GROWTH_MB:.0f} MB"]
    m = data["machine"]
    markdown = (md_table(headers, table)
                + f"\nPeak RSS of the whole process tree (sum over processes, sampled every 50 ms); "
                f"{len(table) - failed} of {len(table)} cells pass. {m['usable_cores']} cores, Python {m['python']}, "
                f"pcheck from {data['pythonpath'] or 'this tree'} (git {m.get('git_head', '?')}), "
                f"{m['when']}, {time.time() - started:.0f} s in all; load before: {m['loadavg_before']}.\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
