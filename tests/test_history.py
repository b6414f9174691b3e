"""--cache's memory across runs, and --fail-after: a broken link fails the run only after N runs in a row.

Each run is a real `pcheck check` against the local site sharing one cache file; `/flip/<key>`
answers `lab.flips[key]`, so a link breaks and recovers between runs without sleeping.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from conftest import run_pcheck, write_list
from pcheck.config import Config
from pcheck.models import CheckResult, Outcome, Verdict
from pcheck.store.cache import VerdictCache
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


def run(cache, *args, fail_after=2, fmt="text"):
    return run_pcheck("check", *args, "--cache", "--cache-path", str(cache), "--fail-after", str(fail_after),
                      "--format", fmt, *FAST)


def history(cache):
    db = sqlite3.connect(cache)
    try:
        return db.execute("SELECT url, first_failed, failed_runs FROM history ORDER BY url").fetchall()
    finally:
        db.close()


def day(when):
    return time.strftime("%Y-%m-%d", time.gmtime(when))


def test_a_new_404_is_reported_but_fails_the_run_only_on_its_second_run_in_a_row(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    lab.flips["a"] = 404
    url, fine = lab.url("flip/a"), lab.url("ok?history=1")
    first = run(cache, url, fine)
    assert first.returncode == 0, first.stdout + first.stderr
    [(_, since, runs)] = history(cache)
    assert runs == 1
    assert f"{url}  (404 Not Found, broken since {day(since)}, 1 run: not failing the run until 2 runs)" in first.stdout

    second = run(cache, url, fine)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"{url}  (404 Not Found, broken since {day(since)}, 2 runs in a row)" in second.stdout
    assert "not failing the run" not in second.stdout
    assert history(cache) == [(url, since, 2)]  # the streak keeps its first day

    third = run(cache, url, fine, fail_after=3)  # a higher bar forgives it again until its third run
    assert third.returncode == 1, third.stdout
    assert "3 runs in a row" in third.stdout


def test_a_link_alive_again_starts_its_count_over(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    url = lab.url("flip/b")
    unserved = [url, "--max-cache-age", "0"]  # else its alive verdict would be served, and nothing asked
    lab.flips["b"] = 404
    assert run(cache, *unserved).returncode == 0
    lab.flips["b"] = 200
    recovered = run(cache, *unserved)
    assert recovered.returncode == 0, recovered.stdout
    assert history(cache) == []
    lab.flips["b"] = 404
    again = run(cache, *unserved)
    assert again.returncode == 0, again.stdout  # one run in a row, not two
    assert "1 run: not failing the run until 2 runs" in again.stdout
    assert [runs for _, _, runs in history(cache)] == [1]
    assert run(cache, *unserved).returncode == 1


def test_a_url_three_times_in_one_run_counts_one_run_and_records_carry_the_streak(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    lab.flips["c"] = 410
    url = lab.url("flip/c")
    listing = write_list(tmp_path / "urls.txt", [url, lab.url("ok?c=1"), url, url])
    streaks = []
    for expected_code in (0, 1):
        proc = run(cache, str(listing), fmt="jsonl")
        assert proc.returncode == expected_code, proc.stdout + proc.stderr
        broken = [json.loads(line) for line in proc.stdout.splitlines() if '"broken"' in line]
        assert len(broken) == 3
        assert {(r["failed_runs"], r["failing_since"]) for r in broken} == {(broken[0]["failed_runs"],
                                                                              broken[0]["failing_since"])}
        streaks.append((broken[0]["failed_runs"], broken[0]["failing_since"]))
    [(_, since, _)] = history(cache)
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    assert streaks == [(1, iso), (2, iso)]
    alive = [json.loads(line) for line in proc.stdout.splitlines() if '"alive"' in line]
    assert alive and alive[0]["failed_runs"] is None and alive[0]["failing_since"] is None


def test_the_markdown_report_says_it_too(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    lab.flips["m"] = 404
    proc = run(cache, lab.url("flip/m"), fmt="markdown")
    assert proc.returncode == 0, proc.stdout
    assert "1 run: not failing the run until 2 runs" in proc.stdout


def test_fail_after_without_cache_is_a_usage_error(lab):
    proc = run_pcheck("check", lab.url("ok"), "--fail-after", "2", *FAST)
    assert proc.returncode == 2
    assert "--fail-after needs --cache" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not lab.log  # nothing was checked
    assert run_pcheck("check", lab.url("ok"), "--fail-after", "1", *FAST).returncode == 0  # the default asks nothing


def test_fail_after_from_the_config_file(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    (tmp_path / "pcheck.toml").write_text("fail_after = 2\n", encoding="utf-8")
    lab.flips["t"] = 404
    args = ["check", lab.url("flip/t"), "--cache", "--cache-path", str(cache), *FAST]
    assert run_pcheck(*args, cwd=tmp_path).returncode == 0
    assert run_pcheck(*args, cwd=tmp_path).returncode == 1
    without = run_pcheck("check", lab.url("flip/t"), *FAST, cwd=tmp_path)
    assert without.returncode == 2 and "fail_after" in without.stderr  # says the file set it


def test_a_cache_written_before_history_existed_gains_it_and_keeps_its_verdicts(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    db = sqlite3.connect(cache)  # the previous version's schema, with one verdict in it
    db.execute("CREATE TABLE verdicts (key TEXT PRIMARY KEY, url TEXT NOT NULL, checked_at REAL NOT NULL, "
               "status INTEGER, final_url TEXT, redirects INTEGER NOT NULL, method TEXT, attempts INTEGER NOT NULL)")
    db.execute("INSERT INTO verdicts VALUES ('old', 'http://old.example/', 1.0, 200, NULL, 0, 'HEAD', 1)")
    db.commit()
    db.close()
    lab.flips["old"] = 404
    url = lab.url("flip/old")
    assert run(cache, url).returncode == 0
    assert run(cache, url).returncode == 1
    assert [runs for _, _, runs in history(cache)] == [2]
    db = sqlite3.connect(cache)
    assert db.execute("SELECT url FROM verdicts WHERE key = 'old'").fetchone() == ("http://old.example/",)
    db.close()


# -- VerdictCache itself: what moves a streak, and failing safe -----------------------------------


def result(n, outcome):
    url = f"http://a.example/{n}"
    return CheckResult.of(url, "u.txt", n, Verdict(outcome, 404 if outcome is Outcome.BROKEN else 200), url, "a.example")


def one_run(path, results, config=Config(processes=1)):
    cache = VerdictCache(str(path), config)
    try:
        return list(cache.remember(results))
    finally:
        cache.close()


def test_only_checked_alive_and_broken_results_move_a_streak(tmp_path):
    path = tmp_path / "cache.sqlite"
    assert [r.failed_runs for r in one_run(path, [result(1, Outcome.BROKEN), result(2, Outcome.BROKEN)])] == [1, 1]
    leave_alone = [CheckResult(url="http://a.example/1", outcome=Outcome.UNCHECKED, key="http://a.example/1"),
                   CheckResult(url="http://a.example/1", outcome=Outcome.BLOCKED, status=403, key="http://a.example/1"),
                   CheckResult(url="http://a.example/2", outcome=Outcome.ALIVE, status=200, detail="from cache, checked 5 s ago",
                               key="http://a.example/2")]
    passed = one_run(path, leave_alone)
    assert passed == leave_alone  # passed through untouched
    assert [runs for _, _, runs in history(path)] == [1, 1]
    later = one_run(path, [result(1, Outcome.BROKEN), result(2, Outcome.ALIVE)])
    assert later[0].failed_runs == 2 and later[1].failed_runs is None
    assert [(url, runs) for url, _, runs in history(path)] == [("http://a.example/1", 2)]


def test_history_fragments_fail_apart_with_include_fragments(tmp_path):
    path = tmp_path / "cache.sqlite"
    config = Config(processes=1, include_fragments=True)
    page = CheckResult(url="http://a.example/p", outcome=Outcome.ALIVE, status=200, key="http://a.example/p")
    missing = CheckResult(url="http://a.example/p#gone", outcome=Outcome.BROKEN, status=200, key="http://a.example/p")
    for runs in (1, 2):
        out = one_run(path, [page, missing], config)
        assert out[1].failed_runs == runs  # the page being alive does not reset its missing anchor


def test_history_that_fills_the_disk_mid_run_is_dropped_with_one_warning_and_no_record_lost(tmp_path, pcheck_warnings):
    cache = VerdictCache(str(tmp_path / "cache.sqlite"), Config(processes=1))
    pages = cache.db.execute("PRAGMA page_count").fetchone()[0]
    cache.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers "database or disk is full"
    results = [result(n, Outcome.BROKEN if n % 2 else Outcome.ALIVE) for n in range(1, 1301)]  # > 2 flushes
    try:
        out = list(cache.remember(results))
    finally:
        cache.close()
    assert [(r.url, r.outcome) for r in out] == [(r.url, r.outcome) for r in results]
    assert len(pcheck_warnings) == 1 and "going on without the cache" in pcheck_warnings[0]


def test_a_history_read_that_fails_passes_the_result_through_with_one_warning(tmp_path, pcheck_warnings):
    broken = [result(n, Outcome.BROKEN) for n in range(5)]
    earlier = VerdictCache(str(tmp_path / "cache.sqlite"), Config(processes=1))
    list(earlier.remember(broken))  # they have a streak: the next run reads it
    earlier.close()
    cache = VerdictCache(str(tmp_path / "cache.sqlite"), Config(processes=1))
    cache.db.close()  # every query now raises sqlite3.ProgrammingError
    assert list(cache.remember(broken)) == broken
    cache.close()
    assert len(pcheck_warnings) == 1


def test_a_corrupt_cache_with_fail_after_is_still_one_line_and_exit_2(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"not a database at all\n" * 200)
    proc = run(cache, lab.url("ok"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(cache) in proc.stderr and not lab.log
