"""A resumed report that ends holds one record per occurrence: the `unchecked` records its run gave a
new record are dropped (a copy and an atomic rename); until then the last record for an occurrence wins."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import run_pcheck, write_list
from support.fast import FAST_ANY_PROCESSES as FAST

from pcheck.models import Target
from pcheck.store.resume import ResumeState


def record(url: str, source: str, line: int, outcome: str) -> str:
    return json.dumps({"url": url, "outcome": outcome, "source": source, "line": line}) + "\n"


def test_a_report_interrupted_twice_ends_with_one_record_per_occurrence(lab, tmp_path):
    urls = [lab.url(f"ok?n={i}") for i in range(4)]
    listing = str(write_list(tmp_path / "urls.txt", urls))
    report = tmp_path / "report.jsonl"
    # two interrupted runs: line 1 done; lines 2-4 cancelled, then line 2 done and 3-4 cancelled again
    report.write_text(record(urls[0], listing, 1, "alive")
                      + "".join(record(u, listing, i, "unchecked") for i, u in enumerate(urls[1:], 2))
                      + record(urls[1], listing, 2, "alive")
                      + "".join(record(u, listing, i, "unchecked") for i, u in enumerate(urls[2:], 3)))
    report.chmod(0o640)
    proc = run_pcheck("check", listing, "--format", "jsonl", "-o", str(report), "--resume", "-p", "1", *FAST)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted((r["line"], r["outcome"]) for r in lines) == [(1, "alive"), (2, "alive"), (3, "alive"), (4, "alive")]
    assert stat.S_IMODE(report.stat().st_mode) == 0o640  # the copy keeps the report's mode


def test_an_unchecked_record_of_an_occurrence_this_run_does_not_hold_is_kept(tmp_path):
    report = tmp_path / "report.jsonl"
    report.write_text(record("http://a.example/", "old.txt", 1, "unchecked")
                      + record("http://b.example/", "urls.txt", 1, "unchecked"))
    with ResumeState(str(report)) as state:
        items = list(state.skip_finished([Target("http://b.example/", "http://b.example/", "b.example", "urls.txt", 1)]))
        assert len(items) == 1  # b is checked again: its new record supersedes its unchecked one
        with state.open_for_append() as out:
            out.write(record("http://b.example/", "urls.txt", 1, "alive"))
        assert state.compact() == 1
    assert [json.loads(x)["url"] for x in report.read_text().splitlines()] == ["http://a.example/", "http://b.example/"]


def test_the_same_url_twice_on_one_line_keeps_a_record_for_each(tmp_path):
    report = tmp_path / "report.jsonl"
    report.write_text(record("http://a.example/", "a.md", 3, "alive") + record("http://a.example/", "a.md", 3, "unchecked"))
    with ResumeState(str(report)) as state:
        again = list(state.skip_finished([Target("http://a.example/", "http://a.example/", "a.example", "a.md", 3)] * 2))
        assert len(again) == 1
        with state.open_for_append() as out:
            out.write(record("http://a.example/", "a.md", 3, "broken"))
        state.compact()
    outcomes = [json.loads(x)["outcome"] for x in report.read_text().splitlines()]
    assert outcomes == ["alive", "broken"]


def test_a_compaction_that_fails_leaves_the_report_whole_and_no_copy_behind(tmp_path, monkeypatch):
    report = tmp_path / "report.jsonl"
    before = record("http://a.example/", "u.txt", 1, "unchecked")
    report.write_text(before)
    with ResumeState(str(report)) as state:
        list(state.skip_finished([Target("http://a.example/", "http://a.example/", "a.example", "u.txt", 1)]))
        with state.open_for_append() as out:
            out.write(record("http://a.example/", "u.txt", 1, "alive"))

        def full_disk(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", full_disk)
        with pytest.raises(OSError):
            state.compact()
    assert report.read_text().startswith(before) and len(report.read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.jsonl"]

