"""A URL's password never reaches a report, a `watch` line or an error message through free text:
a redirect loop's "back to ..." detail, a sitemap's URL as a record's source, a setting quoted in an error."""

from __future__ import annotations

import pytest
from conftest import run_pcheck
from support.fast import FAST_ANY_PROCESSES as FAST

from pcheck.models import CheckResult, Outcome, redact_text

SECRET = "hunter2"


def _with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@", 1)


@pytest.mark.parametrize("fmt", ["text", "jsonl", "json", "csv", "markdown", "junit"])
def test_a_redirect_loop_back_to_a_url_with_a_password_is_reported_without_it(lab, fmt):
    url = _with_password(lab.url("loop/a/secret"))
    proc = run_pcheck(url, "--format", fmt, "-v", *FAST) if fmt == "text" else run_pcheck(url, "--format", fmt, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "loop" in proc.stdout and "alice:***@" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr


def test_a_sitemap_read_with_a_password_is_named_without_it_as_the_source(lab):
    sitemap = _with_password(lab.url("sitemap/sitemap-2.xml"))
    proc = run_pcheck(sitemap, "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 2 and SECRET not in proc.stdout + proc.stderr


def test_an_error_quoting_a_setting_hides_the_password_in_it():
    proc = run_pcheck("http://127.0.0.1:1/", "--base-url", f"ftp://alice:{SECRET}@example.com/", *FAST)
    assert proc.returncode == 2 and "--base-url" in proc.stderr and SECRET not in proc.stderr


def test_every_url_in_free_text_is_redacted_and_the_rest_kept():
    text = f"back to http://alice:{SECRET}@a.example/loop, then https://tok123@github.com/x (see a@b.org)"
    assert redact_text(text) == "back to http://alice:***@a.example/loop, then https://***@github.com/x (see a@b.org)"
    result = CheckResult(url="http://x.example/", outcome=Outcome.BROKEN, detail=text)
    assert SECRET not in result.detail and "tok123" not in result.to_record()["detail"]
