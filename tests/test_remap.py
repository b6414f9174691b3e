"""--remap 'REGEX REPLACEMENT' (issue 27): a link is checked where a rule sends it, reported as written.

The record keeps `url` as written and gains `checked_url` (what was requested; null when no rule matched);
the host scheduler, the cache and the local site see the rewritten URL. lychee's `$1` groups are taken.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_pcheck
from pcheck.models import RECORD_FIELDS
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)

PRODUCTION = "https://docs.example.org/guide/"


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def to_lab(lab) -> str:
    """The rule that sends the production docs to the local site, in lychee's spelling."""
    return rf"^https://docs\.example\.org/guide/(.*)$ {lab.base()}/$1"


def test_a_production_url_is_checked_on_the_local_site_and_the_record_shows_both(lab):
    proc = run_pcheck("check", PRODUCTION + "ok", "--remap", to_lab(lab), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    (record,) = jsonl(proc)
    assert record["url"] == PRODUCTION + "ok"
    assert record["checked_url"] == lab.url("ok")
    assert record["outcome"] == "alive"
    assert [entry.target for entry in lab.log] == ["/ok"]


def test_checked_url_follows_the_older_fields_and_is_null_without_a_rule(lab):
    assert RECORD_FIELDS[-2:] == ("checked_url", "suggestion")  # each field added later goes last
    proc = run_pcheck("check", lab.url("ok"), "--remap", to_lab(lab), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    (record,) = jsonl(proc)
    assert list(record)[-2] == "checked_url" and record["checked_url"] is None


def test_the_first_matching_rule_wins(lab):
    rules = ["--remap", rf"^https://docs\.example\.org/guide/ok$ {lab.base()}/status/404", "--remap", to_lab(lab)]
    proc = run_pcheck("check", PRODUCTION + "ok", PRODUCTION + "status/410", *rules, "--format", "jsonl", *FAST)
    by_url = {r["url"]: r for r in jsonl(proc)}
    assert by_url[PRODUCTION + "ok"]["checked_url"] == lab.url("status/404")
    assert by_url[PRODUCTION + "ok"]["status"] == 404
    assert by_url[PRODUCTION + "status/410"]["checked_url"] == lab.url("status/410")


def test_the_text_report_shows_the_link_as_written_and_where_it_was_checked(lab):
    proc = run_pcheck("check", PRODUCTION + "status/404", "--remap", to_lab(lab), "--color", "never", *FAST)
    assert proc.returncode == 1
    (line,) = [line for line in proc.stdout.splitlines() if "404" in line and "docs.example.org" in line]
    assert PRODUCTION + "status/404" in line and lab.url("status/404") in line


def test_the_config_file_takes_a_list_of_rules(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text(f"remap = [{json.dumps(to_lab(lab))}]\n")
    proc = run_pcheck("check", PRODUCTION + "ok", "--format", "jsonl", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert jsonl(proc)[0]["checked_url"] == lab.url("ok")


@pytest.mark.parametrize("value, why", [("^https://only-a-pattern", "no replacement"), ("   ", "no replacement"),
                                        ("(unclosed https://x/", "not a regular expression")])
def test_a_rule_without_a_replacement_or_with_a_bad_regex_is_a_usage_error_naming_it(value, why):
    proc = run_pcheck("check", PRODUCTION, "--remap", value, *FAST)
    assert proc.returncode == 2
    assert f"--remap {value!r}" in proc.stderr and why in proc.stderr


def test_a_rule_that_makes_no_url_of_a_link_gives_an_invalid_record_saying_so(lab):
    proc = run_pcheck("check", PRODUCTION + "ok", "--remap", r"^https://(.*)$ ftp://$1", "--format", "jsonl", *FAST)
    assert proc.returncode == 1
    (record,) = jsonl(proc)
    assert (record["outcome"], record["url"]) == ("invalid", PRODUCTION + "ok")
    assert "--remap made it 'ftp://docs.example.org/guide/ok'" in record["detail"]
    assert not list(lab.log)


def test_dump_jsonl_says_what_a_remapped_link_would_request(lab, tmp_path):
    import json

    from conftest import run_pcheck

    listing = tmp_path / "urls.txt"
    listing.write_text("https://docs.example.org/guide/a\nhttps://other.example.org/b\n")
    rule = f"^https://docs\\.example\\.org/(.*)$ {lab.url('')}$1"
    proc = run_pcheck(str(listing), "--dump", "--format", "jsonl", "--remap", rule)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records[0]["url"] == "https://docs.example.org/guide/a" and records[0]["checked_url"] == lab.url("guide/a")
    assert "checked_url" not in records[1]
    assert list(lab.log) == []
