"""The text report people read: plain words, one self-contained line per problem, counts that add up."""

from __future__ import annotations

import datetime
import json
import os
import pty
import re
import ssl
import subprocess
import sys

import pytest
import trustme

from conftest import run_pcheck, write_list
from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.config import Config
from pcheck.lab import Lab
from pcheck.models import CheckResult, ErrorKind, Outcome, Verdict
from pcheck.output.reasons import reason, where
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)
#: What a user should never have to read: Python's exception names and errno numbers.
INTERNALS = re.compile(r"Error\b|Errno|gaierror|Exception|Traceback|_ssl\.c|urllib3|requests\.")


@pytest.fixture
def mixed(lab, tmp_path):
    """A document with a link of every kind a report must word: found, gone, walled, refused, timed out."""
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# Guide\n\n"
        f"[ok]({lab.url('ok')}) [gone]({lab.url('status/404')})\n"
        f"[wall]({lab.url('status/403')}) [login]({lab.url('status/401')})\n"
        "[refused](http://127.0.0.1:1/x) [mail](mailto:a@b.test)\n"
        f"[slow]({lab.url('hang')}) [loop]({lab.url('loop/a/t')})\n", encoding="utf-8")
    return doc


def place(doc, url: str) -> str:
    """`file:line:col` of the first `(url` in `doc`, counted here as an editor would."""
    for number, text in enumerate(doc.read_text(encoding="utf-8").split("\n"), start=1):
        if "(" + url + ")" in text:
            return f"{doc}:{number}:{text.index('(' + url + ')') + 2}"
    raise AssertionError(url)


def test_every_problem_is_one_line_with_its_place_url_and_reason_so_grep_keeps_all_three(lab, mixed):
    proc = run_pcheck("check", str(mixed), *FAST, "--timeout", "0.5")
    assert proc.returncode == 1, proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if "404" in line]
    assert line == f"  {place(mixed, lab.url('status/404'))}: {lab.url('status/404')}  (404 Not Found)"
    expected = {
        f"{place(mixed, 'http://127.0.0.1:1/x')}: http://127.0.0.1:1/x  (connection refused; transient)",
        f"{place(mixed, lab.url('hang'))}: {lab.url('hang')}  (timed out after 0.5 s; transient)",
        f"{place(mixed, lab.url('loop/a/t'))}: {lab.url('loop/a/t')}  (redirect loop after 1 hop)",
        f"{place(mixed, lab.url('status/403'))}: {lab.url('status/403')}  (403 Forbidden)",
        f"{place(mixed, lab.url('status/401'))}: {lab.url('status/401')}  (401 Unauthorized)",
    }
    assert expected <= {line.strip() for line in proc.stdout.splitlines()}, proc.stdout
    assert not INTERNALS.search(proc.stdout), proc.stdout


def test_the_machine_formats_keep_the_raw_detail(lab, mixed):
    proc = run_pcheck("check", str(mixed), *FAST, "--timeout", "2", "--format", "jsonl")
    refused = next(r for r in map(json.loads, proc.stdout.splitlines()) if r.get("url") == "http://127.0.0.1:1/x")
    assert refused["error"] == "connection" and "ConnectionRefusedError" in refused["detail"]


def test_the_counts_add_up_to_the_input_and_the_rate_counts_checked_links_only(lab, tmp_path):
    urls = [lab.url(f"ok?i={i}") for i in range(4)] + [lab.url("ok?skip=1"), "not a url"]
    listing = write_list(tmp_path / "urls.txt", urls)
    doc = tmp_path / "a.md"
    doc.write_text(f"[m](mailto:x@y.test) [h](#here) [again]({lab.url('ok?i=0')})\n")
    cache = str(tmp_path / "cache.sqlite")
    common = ["--exclude", "skip=1", "--cache", "--cache-path", cache, *FAST]
    run_pcheck("check", str(listing), *common)  # fills the cache
    proc = run_pcheck("check", str(listing), str(doc), *common, "--format", "text")
    head = proc.stdout.splitlines()[0]
    match = re.fullmatch(r"pcheck: 9 links in [\d.]+ s: (.*)", head)
    assert match, head
    parts = dict((name, int(n)) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?: \(\d+/s\))?(?:, |$)", match.group(1)))
    assert parts == {"from cache": 5, "excluded": 3, "invalid": 1}, head  # excluded: 2 of them skipped
    assert sum(parts.values()) == 9
    summary = json.loads(run_pcheck("check", str(listing), str(doc), *common, "--format", "json").stdout)["summary"]
    assert (summary["checked"], summary["cached"], summary["skipped"], summary["cancelled"]) == (0, 5, 2, 0)


def test_verbose_lists_every_link_and_quiet_only_the_problems(lab, mixed):
    verbose = run_pcheck("check", str(mixed), *FAST, "-v", "--timeout", "0.5").stdout
    assert f"{place(mixed, lab.url('ok'))}: {lab.url('ok')}  (alive)" in verbose
    assert f"{place(mixed, 'mailto:a@b.test')}: mailto:a@b.test  (a mailto: link; pcheck checks http and https links)" \
        in verbose
    quiet = run_pcheck("check", str(mixed), *FAST, "-q", "--timeout", "0.5").stdout
    lines = quiet.splitlines()
    assert lines and all(line.startswith(f"  {mixed}:") for line in lines), quiet  # no counts, headers or hints
    assert len(lines) == 6  # 404, 403, 401, refused, hang, loop
    both = run_pcheck("check", str(mixed), "-v", "-q", *FAST)
    assert both.returncode == 2 and "--verbose and --quiet" in both.stderr


def test_blocked_links_are_said_not_to_fail_the_run_and_hints_name_the_status(lab, mixed):
    out = run_pcheck("check", str(mixed), *FAST, "--timeout", "0.5").stdout
    assert re.search(r"^  blocked +2  \(.*do not fail the run; --fail-on-blocked makes them\)$", out, re.M), out
    hints = out.split("\nHints:\n", 1)[1]
    assert "401 Unauthorized: they need a login" in hints and "--header" in hints
    assert "refused robots (1 403 Forbidden)" in hints
    strict = run_pcheck("check", str(mixed), *FAST, "--timeout", "0.5", "--fail-on-blocked").stdout
    assert re.search(r"^  blocked +2  \(they fail the run: --fail-on-blocked\)$", strict, re.M)


def test_colour_only_when_asked_or_on_a_terminal_and_never_with_no_color(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url("status/404")])
    assert "\x1b[" in run_pcheck("check", str(listing), *FAST, "--color", "always").stdout
    assert "\x1b[" not in run_pcheck("check", str(listing), *FAST).stdout  # auto, and stdout is not a terminal
    assert "\x1b[" not in run_pcheck("check", str(listing), *FAST, "--color", "never").stdout
    assert "\x1b[" in run_pcheck("check", str(listing), *FAST, "--color", "always", env={"NO_COLOR": "1"}).stdout

    def on_a_terminal(env: dict) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(listing), *FAST], stdout=follower,
                                stderr=subprocess.DEVNULL, env={**os.environ, **env})
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(30)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[31m" in on_a_terminal({"NO_COLOR": "", "TERM": "xterm"})
    assert "\x1b[" not in on_a_terminal({"NO_COLOR": "1", "TERM": "xterm"})
    assert "\x1b[" not in on_a_terminal({"NO_COLOR": "", "TERM": "dumb"})


def test_a_bad_color_value_is_a_usage_error(lab):
    proc = run_pcheck("check", lab.url("ok"), "--color", "sometimes", *FAST)
    assert proc.returncode == 2 and "--color must be one of auto, always, never" in proc.stderr


# -- the words, one kind at a time -------------------------------------------------------------------------

def _result(**verdict) -> CheckResult:
    return CheckResult.of("http://a.test/", "doc.md", 3, Verdict(**verdict), column=7)


def test_a_failure_that_was_rechecked_says_so_in_words():
    verdict = {"outcome": Outcome.BROKEN, "error": ErrorKind.CONNECTION,
               "detail": "ConnectionRefusedError: [Errno 111] refused; failed again on a re-check 10 s later (first: connection)"}
    assert reason(_result(**verdict)) == \
        "connection refused, failed again on a re-check 10 s later (first: connection); transient"


def test_a_failing_proxy_is_named_as_the_proxy_not_the_link():
    verdict = {"outcome": Outcome.BROKEN, "error": ErrorKind.CONNECTION,
               "detail": "ProxyError: proxy http://alice:***@127.0.0.1:9: ConnectionRefusedError: [Errno 111] refused"}
    assert reason(_result(**verdict)) == "the proxy: connection refused; transient"


@pytest.mark.parametrize("verdict, words", [
    ({"outcome": Outcome.BROKEN, "status": 404}, "404 Not Found"),
    ({"outcome": Outcome.BROKEN, "status": 599}, "599; transient"),
    ({"outcome": Outcome.BLOCKED, "status": 999}, "999 Request denied (LinkedIn's bot wall)"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.DNS,
      "detail": "gaierror: [Errno -2] Name or service not known"}, "no such host (DNS)"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.DNS,
      "detail": "gaierror: [Errno -3] Temporary failure in name resolution"}, "DNS lookup failed, temporarily; transient"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.CONNECTION,
      "detail": "ConnectionResetError: [Errno 104] Connection reset by peer"}, "connection reset by the server; transient"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.CONNECTION, "detail": "RemoteDisconnected: Remote end closed"},
     "the server closed the connection without answering; transient"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.TIMEOUT, "attempts": 3}, "timed out after 10 s, 3 attempts; transient"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.TOO_MANY_REDIRECTS, "redirects": 10, "detail": "more than 10"},
     "more than 10 redirects"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.REDIRECT_LOOP, "redirects": 3}, "redirect loop after 3 hops"),
    ({"outcome": Outcome.BROKEN, "error": ErrorKind.MISSING_FILE, "detail": "No such file or directory: /x"},
     "no such file or folder"),
    ({"outcome": Outcome.UNCHECKED, "error": ErrorKind.WORKER_CRASHED, "detail": "died twice"},
     "not checked: its worker process kept crashing"),
    ({"outcome": Outcome.INVALID, "error": ErrorKind.INVALID_URL, "detail": "holds whitespace (U+0020)"},
     "not a valid URL: holds whitespace (U+0020)"),
])
def test_each_kind_of_failure_has_plain_words(verdict, words):
    assert reason(_result(**verdict), timeout_s=10.0) == words


def test_tls_failures_are_named_by_what_is_wrong_with_the_certificate():
    ca = trustme.CA()
    certificates = {
        "TLS certificate expired": ca.issue_cert("127.0.0.1", not_before=datetime.datetime(2020, 1, 1),
                                                 not_after=datetime.datetime(2021, 1, 1)),
        "TLS certificate is for another host name": ca.issue_cert("other.test"),
        "TLS certificate from an unknown authority": trustme.CA().issue_cert("127.0.0.1"),
    }
    for words, certificate in certificates.items():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        with Lab(1, ssl_context=context) as site, ca.cert_pem.tempfile() as bundle:
            transport = Transport(pool_maxsize=2, verify=bundle)
            try:
                verdict = Checker(Config(processes=1, timeout=3, retries=0), transport).check(site.url("ok"))
            finally:
                transport.close()
        assert verdict.error is ErrorKind.TLS
        assert reason(CheckResult.of(site.url("ok"), None, None, verdict)) == words, verdict.detail


def test_a_place_reads_as_compilers_write_it():
    assert where("docs/a.md", 3, 7) == "docs/a.md:3:7"
    assert where("urls.txt", 3, None) == "urls.txt:3"
    assert where("<args>", None, None) == "(command line)"


def test_the_transient_and_definitive_split_sits_under_the_broken_count_it_divides():
    import io

    from pcheck.models import CheckResult, ErrorKind, Outcome
    from pcheck.output.reports import make_reporter

    out = io.StringIO()
    reporter = make_reporter("text", out)
    for outcome, error in [(Outcome.BROKEN, ErrorKind.TIMEOUT), (Outcome.INVALID, ErrorKind.INVALID_URL)]:
        reporter.write(CheckResult(url=f"http://a.example/{outcome.value}", outcome=outcome, error=error, source="x", line=1))
    reporter.finish(1.0, False)
    lines = out.getvalue().splitlines()
    broken = next(i for i, line in enumerate(lines) if line.lstrip().startswith("broken"))
    assert "of them: 1 transient, 0 definitive" in lines[broken + 1]
    assert lines[broken + 2].lstrip().startswith("invalid")
