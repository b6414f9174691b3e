"""Helpers for runs of many URLs: targets, one result per URL, what the site saw, a `pcheck` in its own group."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pcheck.inputs.sources import parse_url
from pcheck.lab import Lab
from pcheck.models import ARGS_SOURCE, CheckResult
from support import faults as fh

#: Slack on top of a deadline for scheduling on a loaded 2-core machine.
GRACE_S = 0.5
#: A run that ends on its own (no hanging URL left) must do so well within this.
RUN_BOUND_S = 20.0


def targets(urls):
    for url in urls:
        yield parse_url(url, ARGS_SOURCE, None)


def requests_by_i(lab: Lab) -> collections.Counter:
    """How many requests the local site saw per `i=` query value."""
    counts: collections.Counter = collections.Counter()
    for entry in list(lab.log):
        i = parse_qs(urlsplit(entry.target).query).get("i")
        if i:
            counts[i[0]] += 1
    return counts


def one_result_each(results: list[CheckResult], urls: list[str]) -> None:
    got = collections.Counter(r.url for r in results)
    missing = [u for u in urls if got[u] == 0]
    doubled = [u for u, n in got.items() if n > 1]
    extra = set(got) - set(urls)
    assert not missing and not doubled and not extra, (
        f"{len(missing)} missing, {len(doubled)} doubled, {len(extra)} unknown; e.g. {missing[:2]} {doubled[:2]}"
    )


def in_flight(lab: Lab) -> int:
    return sum(s.in_flight for s in lab.snapshot().values())


def read_jsonl(path: Path, complete: bool = False) -> list[dict]:
    """Records written so far (a last line still being written is skipped unless `complete`)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if complete or line.endswith("}")]


def start_cli(tmp_path: Path, urls: list[str], *args: str) -> tuple[subprocess.Popen, Path, Path]:
    """`python -m pcheck check LIST --format jsonl -o REPORT ARGS` in its own session (process group).

    With no interval between requests to a host: these tests drive the pool as fast as it goes
    (politeness has tests of its own, in test_hosts.py). Append the process to the `cli_processes`
    fixture's list so that it is killed at teardown whatever happens."""
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    report = tmp_path / "report.jsonl"
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o", str(report),
             "--no-progress", "--host-interval", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
    return proc, report, stderr


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started in its own session, and its whole group; reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def kill_leftovers(pids: list[int]) -> None:
    for pid in fh.running(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def jsonl(proc: subprocess.CompletedProcess) -> list[dict]:
    """The records a `pcheck --format jsonl` run wrote to stdout."""
    return [json.loads(line) for line in proc.stdout.splitlines()]


def slow_run(lab, tmp_path, cli_processes, fmt="jsonl", n=400):
    """A CLI run of `n` URLs that take half a second each (12 s in all), under way (some requests at the site)."""
    urls = [lab.url(f"delay/500?i={i}", host=i % 4) for i in range(n)]
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(url + "\n" for url in urls), encoding="utf-8")
    report = tmp_path / f"report.{fmt}"
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pcheck", "check", str(listing), "--format", fmt, "-o", str(report),
             "--no-progress", "-p", "2", "-t", "8", "--max-per-host", "4", "--retries", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    cli_processes.append(proc)
    fh.wait_until(lambda: proc.poll() is not None or in_flight(lab) >= 8, fh.MAX_WAIT_S, "checks under way")
    assert proc.poll() is None, stderr.read_text()
    return proc, urls, report, stderr
