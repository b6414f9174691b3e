"""Shared by the benchmark scripts: the lab in its own process, measured runs, stats, results files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pcheck.config import usable_cores  # noqa: F401  (re-exported: the scripts import it from here)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
MEASURE = HERE / "measure.py"
PY = sys.executable
#: Every lab start is bounded; so is every stop.
LAB_START_TIMEOUT_S = 20.0
LAB_STOP_TIMEOUT_S = 5.0


def machine() -> dict:
    return {
        "usable_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_before": _loadavg(),
        **_git(),
    }


def _loadavg() -> str | None:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return None


def _git() -> dict:
    """The pcheck code measured: commit, and whether pcheck/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pcheck"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.split("\n")
        return {"git_head": head, "pcheck_uncommitted": [x[3:] for x in dirty if x.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


class LabProcess:
    """`python -m pcheck.lab N` in its own process (so it never shares the client's GIL).

    Stopped by closing its stdin, then killed if it has not exited within LAB_STOP_TIMEOUT_S.
    """

    def __init__(self, hosts: int, tls: tuple[str, str, str] | None = None) -> None:
        self.hosts = hosts
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.addresses: list[str] = []
        #: (certificate chain PEM, key PEM, CA PEM): serve HTTPS, and read the stats trusting that CA.
        self.tls = tls
        self.scheme = "https" if tls else "http"

    def __enter__(self) -> LabProcess:
        self.proc = subprocess.Popen(
            [PY, "-m", "pcheck.lab", str(self.hosts), *(["--tls", *self.tls[:2]] if self.tls else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, cwd=ROOT,
        )
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(LAB_START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"lab did not print its port within {LAB_START_TIMEOUT_S} s")
        line = self.proc.stdout.readline()
        sel.close()
        if not line:
            self.stop()
            raise RuntimeError("lab exited before printing its port")
        info = json.loads(line)
        if info.get("scheme", "http") != self.scheme:
            self.stop()
            raise RuntimeError(f"lab does not serve {self.scheme}: {info}")
        self.port, self.addresses = info["port"], info["addresses"]
        return self

    def base(self, host: int) -> str:
        return f"{self.scheme}://{self.addresses[host % len(self.addresses)]}:{self.port}"

    def stats(self, host: int = 0) -> dict:
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=self.tls[2]) if self.tls else None
        with urllib.request.urlopen(self.base(host) + "/__lab/stats", timeout=10, context=context) as r:
            return json.loads(r.read())

    def cpu_s(self) -> float:
        """The lab's own CPU so far (from /proc), to show how much of the machine the server took."""
        if self.proc is None:
            return 0.0
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(LAB_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(LAB_STOP_TIMEOUT_S)
        if proc.stdout:
            proc.stdout.close()
        self.proc = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Run:
    """One measured run of a command (see measure.py for the fields)."""

    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    main_cpu_s: float | None
    returncode: int | None
    timed_out: bool
    stdout_path: str
    stderr_tail: str
    busy_before: float = 0.0


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


def busy_cores(window_s: float = 0.5) -> float:
    """Cores' worth of CPU the rest of the machine used over `window_s` (0 when idle)."""
    try:
        t0, i0 = _cpu_times()
        time.sleep(window_s)
        t1, i1 = _cpu_times()
    except (OSError, ValueError):
        return 0.0
    return (1 - (i1 - i0) / max(1, t1 - t0)) * usable_cores()


#: Before each measured run, wait (at most QUIET_WAIT_S) until other work uses under this many cores.
QUIET_BELOW_CORES = 0.3
QUIET_WAIT_S = 30.0


def wait_quiet() -> float:
    """Wait for the machine to be nearly idle (bounded); return the busy cores last seen."""
    deadline = time.monotonic() + QUIET_WAIT_S
    busy = busy_cores()
    while busy > QUIET_BELOW_CORES and time.monotonic() < deadline:
        busy = busy_cores()
    return busy


def measured(cmd: list[str], timeout: float, workdir: str, tag: str) -> Run:
    """Run cmd under measure.py (tree CPU, tree peak RSS), bounded by `timeout`.

    Waits first (bounded) for other work on the machine to calm down; `busy_before` says how busy it was.
    """
    busy = wait_quiet()
    out = os.path.join(workdir, f"{tag}.stdout")
    err = os.path.join(workdir, f"{tag}.stderr")
    wrapper = [PY, str(MEASURE), "--timeout", str(timeout), "--stdout", out, "--stderr", err, "--", *cmd]
    done = subprocess.run(wrapper, capture_output=True, timeout=timeout + 30, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"measure.py failed: {done.stderr.decode(errors='replace')[-2000:]}")
    m = json.loads(done.stdout.decode().strip().splitlines()[-1])
    try:
        with open(err, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 1500))
            tail = f.read().decode(errors="replace")
    except OSError:
        tail = ""
    return Run(m["wall_s"], m["cpu_s"], m["user_s"], m["sys_s"], m["peak_rss_mb"], m["peak_pss_mb"],
               m.get("main_cpu_s"), m["returncode"], m["timed_out"], out, tail, busy)


def spread(values: list[float]) -> dict:
    """median, min, max of a list (all None when empty)."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt_spread(s: dict, digits: int = 2, unit: str = "") -> str:
    if s.get("median") is None:
        return "n/a"
    f = f"{{:.{digits}f}}"
    if s["n"] == 1 or s["min"] == s["max"]:
        return f.format(s["median"]) + unit
    return f"{f.format(s['median'])}{unit} ({f.format(s['min'])}-{f.format(s['max'])})"


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(name: str, data: dict, markdown: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    jpath, mpath = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    tmp = jpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(jpath)
    mpath.write_text(markdown)
    return jpath, mpath


def terminal_bars(labels: list[str], values: list[float], unit: str = "", width: int = 50) -> str:
    """A horizontal bar chart in plain text."""
    top = max([v for v in values if v is not None] or [1.0]) or 1.0
    pad = max(len(label) for label in labels) if labels else 0
    lines = []
    for label, v in zip(labels, values):
        if v is None:
            lines.append(f"{label:>{pad}} | n/a")
            continue
        n = int(round(width * v / top))
        lines.append(f"{label:>{pad}} | {'#' * n}{' ' * (width - n)} {v:,.1f}{unit}")
    return "\n".join(lines)


def workdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=f"pcheck-bench-{prefix}-")


def cleanup(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def count_lines(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


# -- verdicts: what each tool said about each URL -------------------------------------

def read_verdicts(kind: str, path: str, urls: list[str] | None = None) -> dict[str, str]:
    """url -> "alive" / "broken" / "blocked" / ... from a tool's output file.

    kind: "pcheck" (jsonl records with an outcome), "script" (our peer scripts' JSON lines:
    alive when the final status is 2xx), "lychee" (its JSON report: every URL not listed
    as an error is alive; `urls` is needed to know them).
    """
    verdicts: dict[str, str] = {}
    if kind == "lychee":
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            return verdicts
        failed = set()
        for key in ("error_map", "timeout_map", "fail_map"):
            for items in (report.get(key) or {}).values():
                for item in items:
                    failed.add(item.get("url"))
        for items in (report.get("success_map") or {}).values():
            for item in items:
                verdicts[item.get("url")] = "alive"
        if urls is not None and report.get("total") == len(urls):
            for u in urls:
                verdicts.setdefault(u, "broken" if u in failed else "alive")
        for u in failed:
            verdicts[u] = "broken"
        return verdicts
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                url = rec.get("url")
                if kind == "pcheck":
                    verdicts[url] = rec.get("outcome")
                else:
                    status = rec.get("status")
                    verdicts[url] = "alive" if isinstance(status, int) and 200 <= status <= 299 else "broken"
    except OSError:
        pass
    return verdicts


def score(verdicts: dict[str, str], truth: dict[str, str]) -> dict:
    """How many URLs got a verdict, and how many agree with the site's truth.

    `alive_match`: alive vs not-alive agrees (comparable across tools);
    `exact_match`: the outcome itself agrees (pcheck distinguishes broken from blocked).
    """
    got = sum(1 for u in truth if u in verdicts)
    alive_match = sum(1 for u, t in truth.items() if u in verdicts and (verdicts[u] == "alive") == (t == "alive"))
    exact = sum(1 for u, t in truth.items() if verdicts.get(u) == t)
    return {"urls": len(truth), "answered": got, "alive_match": alive_match, "exact_match": exact,
            "alive_said": sum(1 for u in truth if verdicts.get(u) == "alive"),
            "alive_true": sum(1 for t in truth.values() if t == "alive")}
