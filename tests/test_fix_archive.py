"""`pcheck fix --archive`: a dead link replaced with its archived copy from before it started failing (issue 28,
item 2), asked of a fake of the Wayback Machine's availability API on the local site (pcheck.lab)."""

from __future__ import annotations

import calendar
import re
import sqlite3
import time

from conftest import run_pcheck
from support.fast import FAST
from support.gitrepo import git


def _api(lab) -> list[str]:
    """The options that point --archive at the lab's fake API, on its second address (its requests counted apart)."""
    return ["--archive", "--archive-api", lab.url("wayback/available", host=1)]


def _asked(lab) -> list[str]:
    """The availability API's questions, in the order they came."""
    return [r.target for r in lab.log if r.target.startswith("/wayback/available")]


def _copy_of(lab, url: str, stamp: str) -> str:
    return f"{lab.base(1)}/web/{stamp}/{url}"


def test_a_dead_link_becomes_the_copy_captured_when_the_check_ran_and_its_fragment_stays(lab, tmp_path):
    dead = lab.url("status/404?gone")
    doc = tmp_path / "doc.md"
    doc.write_text(f"A [dead]({dead}#usage) link.\n", encoding="utf-8")
    before = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 1))
    result = run_pcheck("fix", str(doc), "--write", *_api(lab), *FAST)
    after = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 1))
    assert result.returncode == 0, result.stderr
    written = re.fullmatch(r"A \[dead\]\((.*)\) link\.\n", doc.read_text(encoding="utf-8")).group(1)
    stamp = written.split("/web/", 1)[1].split("/", 1)[0]
    assert before <= stamp <= after  # no history, no git: the copy closest to today
    assert written == _copy_of(lab, dead, stamp) + "#usage"
    assert "1 of them to archived copies" in result.stderr


def test_the_time_asked_is_when_the_cache_saw_the_link_start_failing(lab, tmp_path):
    dead = lab.url("status/410?since")
    doc, cache = tmp_path / "doc.md", tmp_path / "cache.db"
    doc.write_text(f"[gone]({dead})\n", encoding="utf-8")
    first = run_pcheck("check", str(doc), "--cache", "--cache-path", str(cache), *FAST)  # a plain run's history
    assert first.returncode == 1, first.stderr
    failing_since = calendar.timegm((2021, 3, 4, 5, 6, 7, 0, 0, 0))
    with sqlite3.connect(cache) as db:
        assert db.execute("UPDATE history SET first_failed = ?", (failing_since,)).rowcount == 1
    result = run_pcheck("fix", str(doc), "--write", "--cache", "--cache-path", str(cache), *_api(lab), *FAST)
    assert result.returncode == 0, result.stderr
    assert doc.read_text(encoding="utf-8") == f"[gone]({_copy_of(lab, dead, '20210304050607')})\n"
    assert [q for q in _asked(lab) if "timestamp=20210304050607" in q]


def test_without_history_the_time_asked_is_the_last_commit_of_the_links_line(lab, tmp_path):
    dead, other = lab.url("status/404?blamed"), lab.url("status/404?uncommitted")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    doc = repo / "doc.md"
    doc.write_text(f"# Title\n\n[old]({dead})\n", encoding="utf-8")
    git(repo, "add", "doc.md")
    git(repo, "commit", "-q", "-m", "doc", env={"GIT_COMMITTER_DATE": "2019-05-06T07:08:09+00:00"})
    with doc.open("a", encoding="utf-8") as f:
        f.write(f"[new]({other})\n")  # not committed: no date of its own, today's copy
    result = run_pcheck("fix", str(doc), *_api(lab), *FAST)
    assert result.returncode == 1, result.stderr
    assert f"+[old]({_copy_of(lab, dead, '20190506070809')})" in result.stdout
    today = time.strftime("%Y%m%d", time.gmtime())
    assert re.search(rf"\+\[new\]\({re.escape(lab.base(1))}/web/{today}\d{{6}}/", result.stdout)


def test_a_link_without_a_usable_copy_stays_and_is_listed_with_why(lab, tmp_path):
    links = {word: lab.url(f"status/404?{word}") for word in ("no-snapshot", "snapshot-later", "snapshot-404",
                                                              "snapshot-dead")}
    doc = tmp_path / "doc.md"
    text = "".join(f"- [{word}]({url})\n" for word, url in links.items())
    doc.write_text(text, encoding="utf-8")
    result = run_pcheck("fix", str(doc), "--write", *_api(lab), *FAST)
    assert result.returncode == 0, result.stderr
    assert doc.read_text(encoding="utf-8") == text
    said = {line.split(": left as written: ")[0].rsplit(": ", 1)[1]: line.split(": left as written: ")[1]
            for line in result.stderr.splitlines() if ": left as written: " in line}
    assert said == {
        links["no-snapshot"]: "dead, and no archived copy from before today: the archive has none",
        links["snapshot-later"]: "dead, and no archived copy from before today: the archive's closest copy is from "
                                 + time.strftime("%Y-%m-%d", time.gmtime(time.time() + 366 * 86400))[:4]
                                 + said[links["snapshot-later"]].split("is from ")[1][4:],
        links["snapshot-404"]: "dead, and no archived copy from before today: "
                               "the archive's closest copy was captured with status 404",
        links["snapshot-dead"]: "dead, and no archived copy from before today: the archive's copy "
                                f"{lab.base(1)}/status/404?copy did not answer (HTTP 404)",
    }
    assert "0 links rewritten in 0 files (4 links checked, 4 left as written)" in result.stderr


def test_only_links_gone_for_good_are_replaced_never_a_5xx_a_timeout_or_a_block(lab, tmp_path):
    gone = lab.url("status/410?only")
    doc = tmp_path / "doc.md"
    text = (f"[5xx]({lab.url('status/503')}) [slow]({lab.url('delay/3000')}) [403]({lab.url('status/403')}) "
            f"[challenge]({lab.url('challenge')}) [gone]({gone})\n")
    doc.write_text(text, encoding="utf-8")
    result = run_pcheck("fix", str(doc), *_api(lab), *FAST, "--timeout", "1")
    assert result.returncode == 1, result.stderr
    assert len(_asked(lab)) == 1 and "status%2F410" in _asked(lab)[0]
    kept = text.replace(f"({gone})\n", "")
    assert re.search(re.escape(f"\n+{kept}") + rf"\({re.escape(lab.base(1))}/web/\d{{14}}/{re.escape(gone)}\)\n",
                     result.stdout)
    assert "left as written" not in result.stderr  # they are broken, not dead: nothing to say about a copy


def test_a_dead_url_written_twice_is_asked_of_the_archive_once_and_both_are_replaced(lab, tmp_path):
    dead = lab.url("status/404?twice")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[one]({dead})\n[two]({dead})\n", encoding="utf-8")
    result = run_pcheck("fix", str(doc), "--write", *_api(lab), *FAST)
    assert result.returncode == 0, result.stderr
    assert len(_asked(lab)) == 1
    assert doc.read_text(encoding="utf-8").count(f"{lab.base(1)}/web/") == 2
    assert "2 links rewritten in 1 file, 2 of them to archived copies" in result.stderr


def test_the_archive_gets_none_of_the_runs_credentials(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"[dead]({lab.url('status/404?secret')})\n", encoding="utf-8")
    result = run_pcheck("fix", str(doc), *_api(lab), *FAST, "--header", "Authorization: Bearer s3cret",
                        "--header", "X-Team: t0ken")
    assert result.returncode == 1, result.stderr
    to_archive = [r for r in lab.log if r.address == "127.0.0.2"]
    assert len(to_archive) == 2  # the question and the copy's check
    assert all("s3cret" not in value and "t0ken" not in value for r in to_archive for _, value in r.headers)
    sent = [value for r in lab.log if r.address == "127.0.0.1" for _, value in r.headers]
    assert "Bearer s3cret" in sent  # the link's own host gets them, as the user asked


def test_check_archive_says_each_dead_links_copy_as_its_suggestion_and_touches_nothing(lab, tmp_path):
    import json

    dead, none = lab.url("status/404?suggested"), lab.url("status/404?no-snapshot")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[dead]({dead}) [none]({none}) [ok]({lab.url('ok')})\n", encoding="utf-8")
    before = doc.read_bytes()
    result = run_pcheck("check", str(doc), "--format", "jsonl", *_api(lab), *FAST)
    assert result.returncode == 1, result.stderr
    records = {r["url"]: r for r in map(json.loads, result.stdout.splitlines()) if "url" in r}
    assert len(records) == 3
    assert records[dead]["suggestion"].startswith(f"archived copy: {lab.base(1)}/web/")
    assert records[none]["suggestion"] is None and records[lab.url("ok")]["suggestion"] is None
    assert doc.read_bytes() == before


def test_an_archive_api_that_is_not_a_url_stops_the_run_before_any_check(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"[dead]({lab.url('status/404')})\n", encoding="utf-8")
    for command in ("fix", "check"):
        result = run_pcheck(command, str(doc), "--archive", "--archive-api", "archive.org/wayback", *FAST)
        assert result.returncode == 2 and "--archive-api 'archive.org/wayback': not an http(s) URL" in result.stderr
    assert not lab.log


def test_ctrl_c_while_the_archive_is_asked_writes_nothing_and_does_not_wait_for_every_question(
        lab, tmp_path, cli_processes):
    import signal
    import subprocess
    import sys

    from support import faults as fh

    doc = tmp_path / "doc.md"
    text = "".join(f"[{i}]({lab.url(f'status/404?i={i}')})\n" for i in range(24))
    doc.write_text(text, encoding="utf-8")
    hang = lab.url("hang", host=1)  # an API that never answers: each question lasts --timeout
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "fix", str(doc), "--write", "--archive", "--archive-api",
                             hang, "--timeout", "4", "--retries", "0", "--no-progress", "-p", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    cli_processes.append(proc)
    fh.wait_until(lambda: sum(r.target.startswith("/hang") for r in lab.log) >= 4, fh.MAX_WAIT_S, "questions asked")
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert time.monotonic() - asked < 4 + 3  # the questions under way, not the 20 queued (5 rounds of 4 s)
    assert proc.returncode == 130, proc.stderr.read()
    assert doc.read_text(encoding="utf-8") == text
    assert sum(r.target.startswith("/hang") for r in lab.log) == 4
