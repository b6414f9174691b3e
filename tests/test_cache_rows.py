"""Rows of the cache file are input from a stranger: SQLite keeps any type in any column.

A row of the wrong type or out of range (a text failed_runs, 2**63-1, first_failed 1e300, a text
checked_at, NULLs, negatives, a blob) is ignored with one warning: the link is checked (or its streak
starts over) and the run ends as it would have without that row, never in a traceback. A cache file
pcheck cannot use (other columns, a folder it cannot make) is one line and exit 2.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from conftest import run_pcheck

pytestmark = pytest.mark.timeout(90)
FAST = ["--timeout", "3", "--retries", "0", "--no-progress", "-p", "1", "--recheck-after", "0"]


def run(cache, *urls, fail_after="2"):
    return run_pcheck("check", *urls, "--cache", "--cache-path", str(cache), "--fail-after", fail_after,
                      "--format", "jsonl", *FAST)


def records(proc):
    return {r["url"]: r for r in map(json.loads, proc.stdout.splitlines())}


def tamper(cache, sql, *params):
    db = sqlite3.connect(cache)
    if "NULL" in sql:  # pcheck's tables refuse NULLs; another program's copy of them need not
        table = sql.split()[1]
        columns = [name for _, name, *_ in db.execute(f"PRAGMA table_info({table})")]
        db.execute(f"CREATE TABLE loose ({columns[0]} PRIMARY KEY, {', '.join(columns[1:])})")
        db.execute(f"INSERT INTO loose SELECT * FROM {table}")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE loose RENAME TO {table}")
    db.execute(sql, params)
    db.commit()
    db.close()


VERDICT_ROWS = [
    ("checked_at", "'x'"), ("checked_at", "NULL"), ("checked_at", "1e300"), ("checked_at", "X'00'"),
    ("status", "'x'"), ("status", "-1"), ("status", "9223372036854775807"), ("status", "404"),
    ("final_url", "X'ff00'"), ("final_url", "12"), ("redirects", "'x'"), ("redirects", "-5"),
    ("redirects", "NULL"), ("method", "X'00'"), ("method", "'DELETE'"), ("attempts", "1e300"),
    ("attempts", "-1"), ("key", "X'00'"),
]


@pytest.mark.parametrize("column,value", VERDICT_ROWS)
def test_a_cached_verdict_of_the_wrong_type_is_checked_again_with_one_warning(lab, tmp_path, column, value):
    cache, url = tmp_path / "cache.sqlite", lab.url("ok?row=1")
    assert run(cache, url).returncode == 0
    tamper(cache, f"UPDATE verdicts SET {column} = {value}")
    proc = run(cache, url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    [record] = records(proc).values()
    assert record["outcome"] == "alive" and "from cache" not in (record["detail"] or "")
    if column != "key" and value != "NULL":  # a key not ours is never found, nor a NULL time
        assert proc.stderr.count("ignored") == 1, proc.stderr


HISTORY_ROWS = [
    ("failed_runs", "'x'"), ("failed_runs", "9223372036854775807"), ("failed_runs", "NULL"),
    ("failed_runs", "-3"), ("failed_runs", "0"), ("failed_runs", "2.5"), ("first_failed", "1e300"),
    ("first_failed", "'x'"), ("first_failed", "-1"), ("first_failed", "NULL"), ("first_failed", "X'00'"),
    ("url", "X'ff'"), ("last_run", "NULL"), ("key", "12"),
]


@pytest.mark.parametrize("column,value", HISTORY_ROWS)
def test_a_history_row_of_the_wrong_type_starts_the_streak_over_with_one_warning(lab, tmp_path, column, value):
    cache = tmp_path / "cache.sqlite"
    lab.flips["h"] = 404
    url = lab.url("flip/h")
    assert run(cache, url).returncode == 0  # 1 run of 2: forgiven
    tamper(cache, f"UPDATE history SET {column} = {value}")
    proc = run(cache, url)
    assert "Traceback" not in proc.stderr, proc.stderr
    [record] = records(proc).values()
    assert record["outcome"] == "broken"
    if column in ("failed_runs", "first_failed"):
        assert record["failed_runs"] == 1 and proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stderr.count("ignored") == 1, proc.stderr
    third = run(cache, url)  # the row written back is sound again
    assert "Traceback" not in third.stderr and records(third)[url]["failed_runs"] >= 2


def test_many_bad_rows_give_one_warning(lab, tmp_path):
    cache = tmp_path / "cache.sqlite"
    urls = [lab.url(f"ok?many={i}") for i in range(5)]
    assert run(cache, *urls).returncode == 0
    tamper(cache, "UPDATE verdicts SET checked_at = 'x'")
    proc = run(cache, *urls)
    assert proc.returncode == 0 and proc.stderr.count("ignored") == 1, proc.stderr


@pytest.mark.parametrize("table", [
    "verdicts (key TEXT PRIMARY KEY, url TEXT, extra BLOB)",
    "verdicts (key TEXT, url TEXT, checked_at REAL, status INTEGER, final_url TEXT, redirects INTEGER, "
    "method TEXT, attempts INTEGER)",  # no key: INSERT OR REPLACE would pile rows up
    "history (key TEXT PRIMARY KEY, failed_runs INTEGER)",
])
def test_a_cache_table_not_shaped_as_pchecks_is_one_line_and_exit_2(lab, tmp_path, table):
    cache = tmp_path / "cache.sqlite"
    tamper(cache, f"CREATE TABLE {table}")
    proc = run(cache, lab.url("ok?cols=1"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert str(cache) in proc.stderr and table.split()[0] in proc.stderr


def test_the_url_column_is_for_people_and_a_blob_there_is_harmless(lab, tmp_path):
    cache, url = tmp_path / "cache.sqlite", lab.url("ok?row=2")
    lab.flips["u"] = 404
    broken = lab.url("flip/u")
    assert run(cache, url, broken).returncode == 0
    tamper(cache, "UPDATE verdicts SET url = X'ff'")
    tamper(cache, "UPDATE history SET url = X'ff'")
    proc = run(cache, url, broken)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert records(proc)[url]["detail"].startswith("from cache") and records(proc)[broken]["failed_runs"] == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_cache_in_a_folder_that_cannot_be_made_is_one_line_and_exit_2(lab, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    proc = run(locked / "sub" / "cache.sqlite", lab.url("ok?folder=1"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_a_cache_under_a_file_is_one_line_and_exit_2(lab, tmp_path):
    (tmp_path / "file").write_text("x")
    proc = run(tmp_path / "file" / "cache.sqlite", lab.url("ok?folder=2"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_cache_path_that_is_a_folder_is_one_line_and_exit_2(lab, tmp_path):
    proc = run(tmp_path, lab.url("ok?folder=3"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
