"""The store and the library entry point under hostile use: resume, cache, secrets, unguarded scripts.

Each test names a way a user's file or a verdict could be lost or leaked:
--resume on a file that is not a report, two runs on one report, an input
spelled two ways, a URL twice on one line, passwords in URLs, a corrupt or
failing cache, and check_urls from a script with no __main__ guard.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, run_pcheck, write_list
from support.faults import wait_until
from pcheck.run.session import pipeline
from pcheck.store.cache import VerdictCache
from pcheck.config import Config
from pcheck.inputs.sources import Source
from pcheck.models import CheckResult, Outcome, Verdict
from pcheck.run.pool import CheckRun
from pcheck.errors import ResumeError
from pcheck.store.resume import ResumeState
from support.fast import FAST

pytestmark = pytest.mark.timeout(90)
#: Longest a test waits for a background run to reach a state it polls for.
WAIT_S = 30.0


def record(url, source, line, outcome="alive"):
    return {"url": url, "outcome": outcome, "ok": outcome == "alive", "status": 200, "error": None,
            "final_url": url, "redirects": 0, "method": "HEAD", "attempts": 1, "elapsed_ms": 1.0,
            "source": source, "line": line, "detail": None}


def records_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def resume_args(inputs, report, *extra):
    return ["check", *inputs, "--format", "jsonl", "-o", str(report), "--resume", *FAST, *extra]


# -- --resume never destroys a file that is not its report -------------------------------


@pytest.mark.parametrize("content", [
    b"http://a.example/1\nhttp://a.example/2",  # a URL list without a final newline
    b"http://a.example/only-line",
    (json.dumps(record("http://a.example/", "u.txt", 1)) + "\n# a comment, not a record\n"
     + '{"url": "http://torn').encode(),
], ids=["url-list-without-final-newline", "one-line-list", "records-then-a-stray-line"])
def test_resume_leaves_a_file_that_is_not_a_report_byte_for_byte(lab, tmp_path, content):
    report = tmp_path / "report.jsonl"
    report.write_bytes(content)
    proc = run_pcheck(*resume_args([lab.url("ok")], report))
    assert proc.returncode == 2, proc.stderr
    assert "not a pcheck jsonl" in proc.stderr and "Traceback" not in proc.stderr
    assert report.read_bytes() == content


# -- one report, one run at a time --------------------------------------------------------


def test_a_second_resume_state_on_the_same_report_is_refused_while_the_first_holds_it(tmp_path):
    report = tmp_path / "report.jsonl"
    first = ResumeState(str(report))
    with pytest.raises(ResumeError, match=str(report)):
        ResumeState(str(report))
    first.close()
    ResumeState(str(report)).close()  # free again once the first let go


def test_open_for_append_writes_after_the_last_record_and_keeps_the_lock_until_closed(tmp_path):
    report = tmp_path / "report.jsonl"
    line = json.dumps(record("http://a.example/", "u.txt", 1)) + "\n"
    report.write_text(line + '{"url": "torn', encoding="utf-8")
    state = ResumeState(str(report))
    stream = state.open_for_append()
    stream.write(line.replace("a.example", "b.example"))
    stream.close()
    with pytest.raises(ResumeError, match="another pcheck run"):
        ResumeState(str(report))
    state.close()
    assert [r["url"] for r in records_of(report)] == ["http://a.example/", "http://b.example/"]


def test_a_second_run_resuming_the_same_report_exits_2_and_no_url_is_recorded_twice(lab, tmp_path):
    urls = [lab.url(f"ok?fast={i}") for i in range(4)] + [lab.url("delay/4000?slow=1")]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"
    args = [sys.executable, "-m", "pcheck", *resume_args([str(listing)], report, "--timeout", "20")]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The fast URLs are written while the slow one is still being answered: the first run holds the report.
        wait_until(lambda: report.exists() and report.read_text().count("\n") >= 4, WAIT_S, "4 records written")
        second = run_pcheck(*resume_args([str(listing)], report, "--timeout", "20"))
        assert second.returncode == 2, second.stderr
        assert str(report) in second.stderr and "another pcheck run" in second.stderr
        assert first.poll() is None, "the first run ended too soon to test against"
        _, err = first.communicate(timeout=WAIT_S)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    finals = collections.Counter((r["url"], r["line"]) for r in records_of(report))
    assert finals == collections.Counter((url, n) for n, url in enumerate(urls, start=1))


# -- the same occurrence, however it is spelled; two occurrences, two records -----------------


def test_resume_recognises_the_same_list_however_its_path_is_spelled(lab, tmp_path):
    urls = [lab.url(f"ok?spell={i}") for i in range(3)]
    write_list(tmp_path / "urls.txt", urls)
    (tmp_path / "link.txt").symlink_to(tmp_path / "urls.txt")
    report = tmp_path / "report.jsonl"
    first = run_pcheck(*resume_args(["urls.txt"], report), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    requests = len(lab.log)
    for spelling in ["./urls.txt", str(tmp_path / "urls.txt"), "../" + tmp_path.name + "/urls.txt", "link.txt"]:
        again = run_pcheck(*resume_args([spelling], report), cwd=tmp_path)
        assert again.returncode == 0, (spelling, again.stderr)
    assert len(lab.log) == requests  # nothing checked again
    assert [r["source"] for r in records_of(report)] == ["urls.txt"] * 3  # the report keeps the spelling used


def test_a_url_twice_on_one_line_or_twice_on_the_command_line_gets_a_record_each_after_resume(lab, tmp_path):
    url = lab.url("ok?twice=1")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[one]({url}) and [two]({url})\n", encoding="utf-8")
    report = tmp_path / "report.jsonl"
    # A killed run left one final record for each pair of identical occurrences.
    report.write_text(json.dumps(record(url, str(doc), 1)) + "\n" + json.dumps(record(url, "<args>", None)) + "\n",
                      encoding="utf-8")
    proc = run_pcheck(*resume_args([str(doc), url, url], report))
    assert proc.returncode == 0, proc.stderr
    finals = collections.Counter((r["source"], r["line"]) for r in records_of(report))
    assert finals == {(str(doc), 1): 2, ("<args>", None): 2}


# -- private files, no secrets in them -----------------------------------------------------


def test_records_and_resume_keys_redact_url_passwords_and_lone_tokens(lab, tmp_path):
    with_password = lab.url("ok?pw=1").replace("http://", "http://alice:s3cret@")
    with_token = lab.url("ok?tok=1").replace("http://", "http://ghp_T0KEN@")
    report = tmp_path / "report.jsonl"
    proc = run_pcheck(*resume_args([with_password, with_token], report))
    assert proc.returncode == 0, proc.stderr
    text = report.read_text(encoding="utf-8")
    assert "s3cret" not in text and "ghp_T0KEN" not in text
    assert {r["url"] for r in records_of(report)} == {
        lab.url("ok?pw=1").replace("http://", "http://alice:***@"), lab.url("ok?tok=1").replace("http://", "http://***@")}
    requests = len(lab.log)
    again = run_pcheck(*resume_args([with_password, with_token], report))
    assert again.returncode == 0, again.stderr
    assert len(lab.log) == requests  # the redacted records still match their occurrences


def test_a_new_resume_report_and_a_new_cache_are_created_private(lab, tmp_path):
    report = tmp_path / "report.jsonl"
    cache = tmp_path / "store" / "cache.sqlite"
    proc = run_pcheck(*resume_args([lab.url("ok")], report, "--cache", "--cache-path", str(cache)))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    held = VerdictCache(str(cache), Config(processes=1))  # while open, SQLite's -wal and -shm exist too
    try:
        for side in ("-wal", "-shm"):
            assert stat.S_IMODE(os.stat(str(cache) + side).st_mode) == 0o600, side
    finally:
        held.close()


def test_the_cache_stores_no_url_password(lab, tmp_path):
    url = lab.url("ok?cachepw=1").replace("http://", "http://bob:hunter2@")
    cache = tmp_path / "cache.sqlite"
    proc = run_pcheck("check", url, "--cache", "--cache-path", str(cache), *FAST)
    assert proc.returncode == 0, proc.stderr
    db = sqlite3.connect(cache)
    rows = db.execute("SELECT * FROM verdicts").fetchall()
    db.close()
    assert len(rows) == 1 and "hunter2" not in repr(rows)
    for side in ("", "-wal"):
        path = str(cache) + side
        assert not os.path.exists(path) or b"hunter2" not in open(path, "rb").read()


# -- a cache that cannot be used is one line and exit 2; one that fails mid-run costs nothing --------


def _make_cache(path, kind):
    if kind == "garbage":
        path.write_bytes(b"not a database at all\n" * 200)
    elif kind == "another-programs-database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE invoices (id INTEGER)")
        db.commit()
        db.close()
    elif kind == "read-only":
        VerdictCache(str(path), Config(processes=1)).close()
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("needs chattr +i (as root, a file's mode does not make it read-only)")


@pytest.mark.parametrize("kind", ["garbage", "another-programs-database", "read-only"])
def test_an_unusable_cache_file_is_one_line_and_exit_2_and_is_left_as_it_was(lab, tmp_path, kind):
    cache = tmp_path / "cache.sqlite"
    _make_cache(cache, kind)
    before = cache.read_bytes()
    listing = write_list(tmp_path / "urls.txt", [lab.url(f"ok?unusable={i}") for i in range(20)])
    try:
        proc = run_pcheck("check", str(listing), "--cache", "--cache-path", str(cache), "--format", "jsonl", *FAST)
    finally:
        if kind == "read-only":
            subprocess.run(["chattr", "-i", str(cache)])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert str(cache) in proc.stderr
    assert cache.read_bytes() == before
    assert not any("unusable" in r.target for r in lab.log)  # nothing was checked


def test_a_cache_that_fills_the_disk_mid_run_is_dropped_with_one_warning_and_no_record_lost(
        lab, tmp_path, pcheck_warnings):
    urls = [lab.url(f"ok?full={i}", i % 4) for i in range(700)]  # more than one flush of 500
    listing = write_list(tmp_path / "urls.txt", urls)
    config = Config(processes=1, threads=16, timeout=3.0, retries=0)
    cache = VerdictCache(str(tmp_path / "cache.sqlite"), config)
    pages = cache.db.execute("PRAGMA page_count").fetchone()[0]
    cache.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers "database or disk is full"
    try:
        with CheckRun(config) as run:
            results = list(pipeline(config, [Source(str(listing), "file")], run, cache=cache))
    finally:
        cache.close()
    assert sorted(r.line for r in results) == list(range(1, len(urls) + 1))
    assert all(r.outcome is Outcome.ALIVE for r in results)
    assert len(pcheck_warnings) == 1 and "going on without the cache" in pcheck_warnings[0]


def test_a_cache_whose_connection_breaks_while_serving_passes_every_item_through(tmp_path, pcheck_warnings):
    from pcheck.inputs.sources import parse_url

    cache = VerdictCache(str(tmp_path / "cache.sqlite"), Config(processes=1))
    cache.db.close()  # the file's connection is gone: every query now raises sqlite3.ProgrammingError
    items = [parse_url(f"http://a.example/{i}", "<args>", None) for i in range(5)]
    assert list(cache.serve(items)) == items
    alive = [CheckResult.of(t.url, t.source, t.line, Verdict(Outcome.ALIVE, 200)) for t in items]
    assert list(cache.remember(alive)) == alive
    cache.close()
    assert len(pcheck_warnings) == 1


# -- check_urls from a script -----------------------------------------------------------------


@pytest.mark.parametrize("start_method", [None, "spawn"])
def test_check_urls_works_from_a_script_without_a_main_guard(lab, tmp_path, start_method):
    urls = [lab.url(f"ok?script={i}") for i in range(6)]
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import pcheck
        print("script body ran", flush=True)
        options = {{"processes": 2, "timeout": 3.0, "retries": 0}}
        if {start_method!r}:
            options["start_method"] = {start_method!r}
        for result in pcheck.check_urls({urls!r}, **options):
            print(result.outcome.value, result.error)
    """), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count("script body ran") == 1  # the workers never re-ran the script
    assert proc.stdout.count("alive None") == len(urls), proc.stdout


def test_the_readme_library_example_carries_the_main_guard():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("### From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert 'if __name__ == "__main__":' in example
    assert example.index("__main__") < example.index("check_urls")
