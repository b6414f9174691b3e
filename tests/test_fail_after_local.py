"""--fail-after forgives only what it can count: a failure with no streak in the cache fails the run.

A local link (a missing file, a missing #fragment) and a sitemap that cannot be read have no key in the
cache's history; they used to count as "failing for 1 run" on every run, and so never failed one.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_pcheck
from pcheck.models import CheckResult, Outcome, Summary, Verdict

pytestmark = pytest.mark.timeout(60)
FAST = ["--timeout", "3", "--retries", "0", "--no-progress", "-p", "1", "--recheck-after", "0"]


def run(tmp_path, *args):
    return run_pcheck("check", *args, "--cache", "--cache-path", str(tmp_path / "cache.sqlite"),
                      "--fail-after", "3", "--format", "jsonl", *FAST, cwd=tmp_path)


@pytest.mark.parametrize("link", ["missing.md", "here.md#nowhere", "#nowhere"])
def test_a_broken_local_link_fails_every_run_under_fail_after(tmp_path, link):
    (tmp_path / "here.md").write_text("# Here\n")
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Doc\n\n[a]({link})\n")
    for _ in range(2):  # never "1 run" again and again: it fails the run each time
        proc = run(tmp_path, str(doc), "--include-fragments")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        [record] = [json.loads(line) for line in proc.stdout.splitlines()]
        assert record["outcome"] == "broken" and record["failed_runs"] is None


def test_an_unreadable_sitemap_fails_the_run_under_fail_after(lab, tmp_path):
    url = lab.url("status/404/sitemap.xml")  # named a sitemap, answers 404
    for _ in range(2):
        proc = run(tmp_path, url)
        assert proc.returncode == 1, proc.stdout + proc.stderr


def test_an_http_link_is_still_forgiven_while_its_streak_is_short(lab, tmp_path):
    lab.flips["x"] = 404
    proc = run(tmp_path, lab.url("flip/x"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [record] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["failed_runs"] == 1


def test_the_summary_forgives_no_broken_result_without_a_streak():
    summary = Summary(fail_after=3)
    uncounted = CheckResult.of("file:///x", "doc.md", 1, Verdict(Outcome.BROKEN))
    counted = CheckResult.of("http://x/", "doc.md", 1, Verdict(Outcome.BROKEN, status=404))
    from dataclasses import replace
    assert not summary.forgives(uncounted)
    assert summary.forgives(replace(counted, failed_runs=2))
    assert not summary.forgives(replace(counted, failed_runs=3))
