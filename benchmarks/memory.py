"""Peak memory of the whole pcheck process tree on 100k vs 1M distinct input lines.

    python benchmarks/memory.py            # 100,000 and 1,000,000 lines
    python benchmarks/memory.py --quick    # 10,000 and 100,000 lines

Every line is a distinct URL. One in 20 points at the local site's /ok on 50
hosts and is checked; the rest match --exclude and become `excluded` records
without a request, as in an audit that skips most of a huge list. The issue-4
target: peak RSS grows by less than 150 MB from 100k to 1M lines.
The report is jsonl on disk; its line count must equal the input's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import MEASURE, PY, RESULTS, LabProcess, machine

CHECKED_EVERY = 20
HOSTS = 50
TARGET_GROWTH_MB = 150.0


def write_input(path: Path, lines: int, lab: LabProcess) -> int:
    checked = 0
    with open(path, "w", encoding="ascii") as f:
        for i in range(lines):
            if i % CHECKED_EVERY == 0:
                f.write(f"{lab.base(i)}/ok?i={i}\n")
                checked += 1
            else:
                f.write(f"http://skip.example/page/{i}?ref={i * 7}\n")
    return checked


def run(lines: int, lab: LabProcess, tmp: Path) -> dict:
    listing = tmp / f"urls-{lines}.txt"
    report = tmp / f"report-{lines}.jsonl"
    checked = write_input(listing, lines, lab)
    cmd = [PY, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o", str(report),
           "--exclude", r"^http://skip\.example/", "--no-progress", "--timeout", "10", "--retries", "0"]
    out = subprocess.run([PY, str(MEASURE), "--timeout", "900", "--", *cmd], capture_output=True, text=True, timeout=960)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    records = sum(1 for _ in open(report, encoding="utf-8"))
    result.update(lines=lines, checked=checked, records=records, records_ok=records == lines)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k lines instead of 100k and 1M")
    args = parser.parse_args()
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="pcheck-mem-") as tmp, LabProcess(HOSTS) as lab:
        rows = [run(n, lab, Path(tmp)) for n in sizes]
    growth = rows[1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
    suffix = "-quick" if args.quick else ""
    data = {"machine": machine(), "rows": rows, "growth_mb": growth, "target_growth_mb": TARGET_GROWTH_MB}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"memory{suffix}.json").write_text(json.dumps(data, indent=2))
    table = ["| input lines | checked | records | wall s | CPU s | peak RSS of the tree MB |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['lines']:,} | {r['checked']:,} | {r['records']:,} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    verdict = "holds" if growth < TARGET_GROWTH_MB and all(r["records_ok"] for r in rows) else "MISSED"
    table.append(f"\nGrowth {sizes[0]:,} -> {sizes[1]:,} lines: {growth:.0f} MB (target < {TARGET_GROWTH_MB:.0f} MB: {verdict}); "
                 f"{data['machine']['usable_cores']} cores.")
    (RESULTS / f"memory{suffix}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    return 0 if verdict == "holds" else 1


if __name__ == "__main__":
    sys.exit(main())
