"""Reports a person acts on (issue 26, item 5): local links named as written, skipped links that look like
mistakes said once, counts that read as they add up, one hint per cause, redirects shown, JUnit places."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import run_pcheck, write_list
from pcheck.models import CheckResult, ErrorKind, HostBackoff, Outcome, Summary
from pcheck.output.hosttable import backoff_hints
from pcheck.output.problems import TextReporter
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


def _site(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "usage.md").write_text("# Usage\n\n## Other\n")
    (docs / "install.md").write_text(
        "# Install\n\nSee [x](usage.md#proxy-settings) and [y](missing.md)\n"
        "and [z](/abs/root.md) [z2](/abs/two.md) [a](#nowhere) [b](//cdn.example.org/x).\n"
        "[ok](usage.md#other) [mail](mailto:a@b.test)\n")
    return docs


# -- local links, as written and relative ------------------------------------------------------------

def test_a_local_links_problem_is_named_as_written_and_relative_to_the_working_directory(tmp_path):
    _site(tmp_path)
    text = run_pcheck("check", "docs", "--include-fragments", *FAST, cwd=tmp_path)
    assert text.returncode == 1, text.stderr
    lines = {line.strip() for line in text.stdout.splitlines()}
    assert "docs/install.md:3:9: usage.md#proxy-settings  (no #proxy-settings in docs/usage.md)" in lines, text.stdout
    assert "docs/install.md:3:42: missing.md  (no such file or folder)" in lines, text.stdout
    assert "file:" not in text.stdout and str(tmp_path) not in text.stdout
    for fmt in ("markdown", "junit"):
        out = run_pcheck("check", "docs", "--include-fragments", *FAST, "--format", fmt, cwd=tmp_path).stdout
        assert "file:" not in out and str(tmp_path) not in out, out
        assert "proxy-settings" in out and "docs/usage.md" in out
    records = [json.loads(line) for line in run_pcheck(
        "check", "docs", "--include-fragments", *FAST, "--format", "jsonl", cwd=tmp_path).stdout.splitlines()]
    proxy = next(r for r in records if r["link"] == "usage.md#proxy-settings")
    assert proxy["url"].startswith("file:///") and proxy["detail"] == "no #proxy-settings in docs/usage.md"
    missing = next(r for r in records if r["link"] == "missing.md")
    assert str(tmp_path) not in missing["detail"] and "docs/missing.md" in missing["detail"]


# -- skipped links that look like mistakes -----------------------------------------------------------

def test_skipped_links_that_look_like_mistakes_are_said_once_with_what_to_pass(tmp_path):
    _site(tmp_path)
    out = run_pcheck("check", "docs", *FAST, cwd=tmp_path).stdout
    said = [line for line in out.splitlines() if "not checked" in line]
    assert any(re.search(r"2 root-relative links .*--root-dir DIR.*-v", line) for line in said), out
    assert any(re.search(r"1 #anchor.*--include-fragments", line) for line in said), out
    assert any(re.search(r"1 protocol-relative link.*--base-url", line) for line in said), out
    assert len(said) == 3 and "mailto" not in out, out  # a mailto: link is no mistake; each kind said once
    with_them = run_pcheck("check", "docs", *FAST, "--root-dir", ".", "--include-fragments",
                           "--base-url", "http://127.0.0.1:1/", cwd=tmp_path).stdout
    assert "not checked" not in with_them


# -- the first lines ---------------------------------------------------------------------------------

def _report(results, elapsed_s, **options) -> str:
    stream = io.StringIO()
    reporter = TextReporter(stream, **options)
    for r in results:
        reporter.write(r)
    reporter.finish(elapsed_s, False)
    return stream.getvalue()


def _rows(text: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r"^  ([a-z]+) +(\d+)", text, re.M)}


def test_every_count_in_the_header_has_its_row_and_the_checked_ones_add_up_to_theirs(tmp_path):
    _site(tmp_path)
    out = run_pcheck("check", "docs", *FAST, cwd=tmp_path).stdout
    head, rows = out.splitlines()[0], _rows(out)
    parts = dict((name, int(n)) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?: \(\d+/s\))?(?:, |$)",
                                                          head.split(": ", 2)[2]))
    for name, n in parts.items():
        if name != "checked":
            assert rows.get(name) == n, (name, out)
    assert parts["checked"] == rows.get("alive", 0) + rows.get("broken", 0) + rows.get("blocked", 0), out


def test_a_rate_only_where_the_run_was_busy_checking():
    def alive(i, url="http://a.test/"):
        return CheckResult(url=f"{url}{i}", outcome=Outcome.ALIVE, status=200)

    busy = _report([alive(i) for i in range(200)], 8.0)
    assert re.search(r"200 checked \(25/s\)", busy.splitlines()[0]), busy
    assert "/s)" not in _report([alive(i) for i in range(5)], 0.2)  # under a second: no rate worth a number
    local = [CheckResult(url=f"file:///d/{i}.md", link=f"{i}.md", outcome=Outcome.ALIVE) for i in range(100)]
    assert "/s)" not in _report(local + [alive(1)], 4.0)  # files looked at on disk are no requests
    cached = Summary(cached=90)
    assert "/s)" not in _report([alive(i) for i in range(100)], 4.0, summary=cached)


# -- hints -------------------------------------------------------------------------------------------

def _failed(host, i, **verdict):
    outcome = verdict.pop("outcome", Outcome.BROKEN)
    return CheckResult(url=f"http://{host}/{i}", host=host, outcome=outcome, **verdict)


def test_hints_are_one_per_cause_and_the_advice_fits_it():
    results = [_failed("slow.test", i, error=ErrorKind.TIMEOUT) for i in range(3)]
    results += [_failed("down.test", i, error=ErrorKind.CONNECTION, detail="ConnectionRefusedError: refused")
                for i in range(2)]
    results += [_failed(host, 0, outcome=Outcome.BLOCKED, status=403) for host in ("a.test", "b.test")]
    out = _report(results, 5.0, timeout_s=2.0)
    hints = out.split("\nHints:\n", 1)[1].splitlines()
    [timeouts] = [h for h in hints if "timeout" in h]
    assert "--timeout" in timeouts and "--max-per-host" not in timeouts and "slow.test" in timeouts, hints
    [refused] = [h for h in hints if "refused" in h and "down.test" in h]
    assert "down" in refused.split("down.test", 1)[1] and "--" not in refused, refused
    [robots] = [h for h in hints if "403" in h]
    assert "a.test" in robots and "b.test" in robots, hints  # one cause, one line


def test_backoff_hints_round_their_numbers_and_never_pause_longer_than_the_run():
    [hint] = backoff_hints([HostBackoff("a.test", 40, 55.123, 1, 0.25671, 61.7, "most of its URLs refused")],
                           run_s=20.0)
    assert "--host-interval 0.26s" in hint, hint
    seconds = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?) s\b", hint)]
    assert seconds and max(seconds) <= 20.0, hint


# -- redirects ---------------------------------------------------------------------------------------

def test_redirects_are_counted_and_verbose_shows_where_each_went(lab, tmp_path):
    away = lab.url("ok").replace("127.0.0.1", "127.0.0.2")
    urls = [lab.url("redirect/2"), lab.url(f"redirect-to?url={away}"), lab.url("ok")]
    listing = write_list(tmp_path / "urls.txt", urls)
    out = run_pcheck("check", str(listing), *FAST).stdout
    assert re.search(r"^Redirected 2: 1 to another host", out, re.M), out
    verbose = run_pcheck("check", str(listing), *FAST, "-v").stdout
    assert f"{urls[1]} -> {away}  (alive: 200 OK after 1 redirect)" in verbose, verbose
    assert f"{urls[0]} -> {lab.url('redirect/0')}  (alive: 200 OK after 2 redirects)" in verbose, verbose
    assert f"{urls[2]}  (alive)" in verbose


# -- JUnit places ------------------------------------------------------------------------------------

def test_junit_test_cases_carry_file_and_line(lab, tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(f"# A\n\n[gone]({lab.url('status/404')})\n[ok]({lab.url('ok')})\n")
    out = run_pcheck("check", "a.md", lab.url("status/410"), *FAST, "--format", "junit", cwd=tmp_path).stdout
    cases = {c.get("name"): c for c in ET.fromstring(out).iter("testcase")}
    assert (cases[lab.url("status/404")].get("file"), cases[lab.url("status/404")].get("line")) == ("a.md", "3")
    assert (cases[lab.url("ok")].get("file"), cases[lab.url("ok")].get("line")) == ("a.md", "4")
    assert "file" not in cases[lab.url("status/410")].attrib  # a command-line URL has no file


def test_a_watch_line_names_a_local_link_as_written():
    from pcheck.output.changes import Change, change_line

    gone = CheckResult(url="file:///home/me/docs/a.md", link="a.md", source="docs/b.md", line=3,
                       outcome=Outcome.BROKEN, error=ErrorKind.MISSING_FILE, detail="No such file: docs/a.md")
    line = change_line(Change(2, 0.0, gone, Outcome.ALIVE), "text")
    assert " a.md alive -> broken" in line and "file:/" not in line, line
    assert json.loads(change_line(Change(2, 0.0, gone, Outcome.ALIVE), "jsonl"))["url"] == gone.url
