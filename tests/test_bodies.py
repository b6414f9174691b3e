"""Bodies are never downloaded and nothing is decompressed (issue 5): endless and compressed bodies cost
neither memory nor time."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3.response
from conftest import run_pcheck
from support.runs import jsonl
from support.servers import RawSite, headers_of

from pcheck.models import Outcome

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent


# -- bodies are never downloaded, nothing is decompressed ---------------------------------------------------

BODY_SCRIPT = """
import json, resource, sys, time
from pcheck.check.checker import Checker
from pcheck.config import Config, parse_accept
from pcheck.check.transport import Transport
base, cases = sys.argv[1], json.loads(sys.argv[2])
transport = Transport(pool_maxsize=4)
def checker(method="head", accept="200-299"):
    return Checker(Config(processes=1, timeout=3.0, retries=0, method=method, accept=parse_accept(accept)), transport)
checker().check(base + "/ok")  # imports and first connection before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = []
for path, options in cases:
    started = time.monotonic()
    v = checker(**options).check(base + path)
    out.append({"path": path, "outcome": v.outcome.value, "status": v.status, "method": v.method,
                "redirects": v.redirects, "attempts": v.attempts, "elapsed": time.monotonic() - started})
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
transport.close()
print(json.dumps({"grown_kib": grown, "results": out}))
"""


def test_endless_bodies_cost_neither_memory_nor_time(lab):
    cases = [
        ("/endless", {"method": "get"}),
        ("/bytes/1073741824", {"method": "get"}),
        ("/redirect-endless-body", {"method": "get"}),
        ("/endless", {"accept": "201"}),  # HEAD's 200 is not accepted: the GET fallback meets the endless body
        ("/redirect-endless-body", {"accept": "201"}),  # GET fallback through a hop with an endless body
    ]
    proc = subprocess.run([sys.executable, "-c", BODY_SCRIPT, lab.base(), json.dumps(cases)],
                          capture_output=True, text=True, timeout=25, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    got = [(r["outcome"], r["status"], r["method"], r["redirects"], r["attempts"]) for r in out["results"]]
    assert got == [
        ("alive", 200, "GET", 0, 1),
        ("alive", 200, "GET", 0, 1),
        ("alive", 200, "GET", 1, 2),
        ("broken", 200, "GET", 0, 2),
        ("broken", 200, "GET", 1, 4),
    ]
    # About 5 ms each here; reading the body until the 0.5 s drain budget cuts it would show.
    slow = [(r["path"], round(r["elapsed"], 2)) for r in out["results"] if r["elapsed"] >= 0.3]
    assert not slow
    assert out["grown_kib"] < 20 * 1024, f"max RSS grew by {out['grown_kib']} KiB"


@pytest.mark.timeout(60)
def test_cli_get_does_not_download_endless_bodies(lab):
    urls = [lab.url("endless"), lab.url("bytes/1073741824"), lab.url("redirect-endless-body")]
    started = time.monotonic()
    proc = run_pcheck("check", *urls, "--method", "get", "--format", "jsonl",
                      "--timeout", "8", "--retries", "0", "-p", "1", "--no-progress")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    records = jsonl(proc)
    assert [(r["outcome"], r["method"]) for r in records] == [("alive", "GET")] * 3
    # What the site wrote, not how long it took (a loaded machine slows a good check down too).
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20
    assert all(r["elapsed_ms"] < 4000 for r in records), records  # none ran into the 8 s deadline
    assert elapsed < 8


def test_requests_ask_for_identity_and_nothing_decompresses(monkeypatch, make_checker):
    body = gzip.compress(bytes(8 << 20))  # 8 MiB of zeros in about 8 KiB
    assert len(body) < 16 * 1024
    head = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    calls = []
    real = urllib3.response.GzipDecoder.decompress
    monkeypatch.setattr(urllib3.response.GzipDecoder, "decompress",
                        lambda self, data, *a, **k: calls.append(len(data)) or real(self, data, *a, **k))
    site = RawSite(head, body)
    try:
        for method in ("head", "get"):
            verdict = make_checker(method=method).check(f"http://127.0.0.1:{site.port}/gz")
            assert (verdict.outcome, verdict.method) == (Outcome.ALIVE, method.upper())
    finally:
        site.close()
    assert calls == []
    assert len(site.requests) == 2
    for raw in site.requests:
        lines = raw.decode("latin-1").lower().split("\r\n")
        assert [line for line in lines if line.startswith("accept-encoding:")] == ["accept-encoding: identity"]


def test_every_hop_and_fallback_asks_for_identity(lab, make_checker):
    make_checker().check(lab.url("redirect/2"))
    make_checker().check(lab.url("head-refused"))
    make_checker(method="get").check(lab.url("redirect/1?g=1"))
    assert len(lab.log) == 3 + 2 + 2
    assert all(headers_of(e).get("accept-encoding") == ["identity"] for e in lab.log)
