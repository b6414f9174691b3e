"""The `pcheck` command end to end (in process, or as a subprocess where a process is the point): exit codes,
formats, streams."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import run_pcheck, write_list
from support.fast import FAST

pytestmark = pytest.mark.timeout(90)


def test_all_alive_exits_0(lab, tmp_path):
    path = write_list(tmp_path / "urls.txt", [lab.url(f"ok?i={i}", i % 4) for i in range(30)])
    proc = run_pcheck("check", str(path), *FAST, "-p", "2")
    assert proc.returncode == 0, proc.stderr
    summary, *counts = proc.stdout.splitlines()
    # a rate only for a run of a second or more (output/overview.py): this one may take less
    assert re.fullmatch(r"pcheck: 30 links in [\d.]+ s: 30 checked(?: \(\d+/s\))?", summary), proc.stdout
    assert [line.split() for line in counts] == [["alive", "30"]], proc.stdout  # and no other outcome


def test_one_broken_url_exits_1_and_is_named(lab, tmp_path):
    broken = lab.url("status/404")
    path = write_list(tmp_path / "urls.txt", ["# list", lab.url("ok"), broken])
    proc = run_pcheck("check", str(path), *FAST, "-p", "2")
    assert proc.returncode == 1
    assert f"\n  {path}:3:1: {broken}  (404 Not Found)\n" in proc.stdout  # the line alone says what and where


def test_invalid_line_exits_1_with_its_line(lab, tmp_path):
    path = write_list(tmp_path / "urls.txt", [lab.url("ok"), "", "not-a-url"])
    proc = run_pcheck("check", str(path), "--format", "jsonl", *FAST, "-p", "2")
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    [bad] = [r for r in records if r["outcome"] == "invalid"]
    assert (bad["url"], bad["line"], bad["error"]) == ("not-a-url", 3, "invalid_url")


def test_blocked_fails_only_with_fail_on_blocked(lab):
    url = lab.url("status/403")
    assert run_pcheck("check", url, *FAST, "-p", "2").returncode == 0
    assert run_pcheck("check", url, "--fail-on-blocked", *FAST, "-p", "2").returncode == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "missing-file.txt"], "missing-file.txt: no such file"),
        (["check"], "no INPUT"),
        (["check", "http://127.0.0.1:1/", "--format", "xml"], "--format"),
        (["check", "http://127.0.0.1:1/", "--accept", "abc"], "--accept"),
        (["check", "http://127.0.0.1:1/", "--threads", "0"], "--threads"),
        (["check", "http://127.0.0.1:1/", "--header", "no colon"], "--header"),
    ],
)
def test_usage_errors_exit_2_before_checking_anything(args, message):
    proc = run_pcheck(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_processes_env_var_is_validated(lab):
    proc = run_pcheck("check", lab.url("ok"), "--no-progress", env={"PCHECK_PROCESSES": "many"})
    assert proc.returncode == 2 and "PCHECK_PROCESSES" in proc.stderr
    assert run_pcheck("check", lab.url("ok"), "--no-progress", env={"PCHECK_PROCESSES": "1"}).returncode == 0


def test_jsonl_csv_and_json_reports_parse_and_agree(lab, tmp_path):
    urls = [lab.url("ok"), lab.url("status/500", 1), lab.url("redirect/2", 2), "bad url", lab.url("ok")]
    path = write_list(tmp_path / "urls.txt", urls)
    outputs = {}
    for fmt in ("jsonl", "csv", "json"):
        out = tmp_path / f"report.{fmt}"
        proc = run_pcheck("check", str(path), "--format", fmt, "-o", str(out), *FAST, "-p", "2")
        assert proc.returncode == 1 and proc.stdout == ""
        outputs[fmt] = out.read_text(encoding="utf-8")
    jsonl = [json.loads(line) for line in outputs["jsonl"].splitlines()]
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    document = json.loads(outputs["json"])

    def key(r):
        return (r["url"], str(r["line"]), r["outcome"], str(r["status"] or ""), r["error"] or "", str(r["redirects"]))

    assert len(jsonl) == len(rows) == len(document["results"]) == 5
    assert sorted(map(key, jsonl)) == sorted(map(key, rows)) == sorted(map(key, document["results"]))
    assert document["summary"]["total"] == 5 and document["summary"]["broken"] == 1
    assert {r["line"]: r["outcome"] for r in jsonl} == {1: "alive", 2: "broken", 3: "alive", 4: "invalid", 5: "alive"}
    assert set(jsonl[0]) >= {"url", "outcome", "ok", "status", "error", "final_url", "redirects", "method",
                             "attempts", "elapsed_ms", "source", "line"}


def test_stdin_and_arguments_are_inputs(lab):
    proc = run_pcheck("check", "-", lab.url("ok", 1), "--format", "jsonl", *FAST, "-p", "2", stdin=lab.url("ok") + "\n")
    assert proc.returncode == 0, proc.stderr
    sources = [(r["source"], r["line"]) for r in map(json.loads, proc.stdout.splitlines())]
    assert sorted(sources, key=str) == [("-", 1), ("<args>", None)]


def test_stdout_holds_only_the_report_and_no_bar_frames_without_a_terminal(lab):
    proc = run_pcheck("check", lab.url("ok"), lab.url("status/404"), "--format", "jsonl", "--timeout", "2", "--retries", "0")
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]  # every line of stdout is a record
    assert sorted((r["url"], r["outcome"]) for r in records) == [(lab.url("ok"), "alive"),
                                                                 (lab.url("status/404"), "broken")]
    assert "\r" not in proc.stderr


def test_no_process_outlives_the_command(lab, tmp_path):
    path = write_list(tmp_path / "urls.txt", [lab.url(f"ok?i={i}") for i in range(20)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "pcheck", "check", str(path), *FAST, "-p", "2", "--format", "jsonl"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    # pcheck leads its own session here: every process it started (workers, forkserver) is in it
    assert _session_members(proc.pid) == []


def test_demo_runs_offline_and_its_verdicts_match():
    proc = run_pcheck("demo", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verdicts match" in proc.stderr and "alive" in proc.stdout


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # fields after the command: state, ppid, pgrp, session
            members.append(int(entry))
    return members


# The CLI runs under a child subreaper: whatever it leaves behind (workers, the forkserver, the
# resource tracker, zombies) is re-parented to the reaper, which lists its children the moment
# the CLI has exited, before reaping them.
_REAPER = r"""
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
code = subprocess.run([sys.executable, "-m", "pcheck", *sys.argv[1:]], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, timeout=60).returncode
left = []
for task in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{task}/children") as f:
        left += [int(pid) for pid in f.read().split()]
print(json.dumps({"code": code, "left": left}))
for pid in left:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreapers are a Linux feature")
@pytest.mark.parametrize("args, code", [
    (["check", "{ok}", "--no-progress"], 0),
    (["check", "{ok}", "--threads", "0"], 2),  # refused after the worker server was started early
    (["check", "{ok}", "--format", "xml"], 2),
    (["check", "--help"], 0),
    (["watch", "{ok}", "--rounds", "1", "--every", "1s"], 0),
])
def test_no_process_outlives_the_cli(lab, args, code):
    args = [a.replace("{ok}", lab.url("ok")) for a in args]
    proc = subprocess.run([sys.executable, "-c", _REAPER, *args], capture_output=True, text=True, timeout=80)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome == {"code": code, "left": []}
