"""What a new user's first day hit (issue 32): the library refuses a lone string and names the options
it takes; `--dump` lists the problems it meets on stderr and exits as `check` would for them."""

from __future__ import annotations

import json

import pytest

import pcheck
from conftest import run_pcheck


def test_check_urls_refuses_a_string_at_the_call_instead_of_checking_its_characters():
    with pytest.raises(TypeError, match=r"not a str: write check_urls\(\['http://x.org/'\]\)"):
        pcheck.check_urls("http://x.org/")
    with pytest.raises(TypeError, match="not a bytes"):
        pcheck.check_urls(b"http://x.org/")


def test_a_misspelt_option_is_named_with_the_likely_one_and_every_valid_one():
    with pytest.raises(TypeError) as raised:
        pcheck.check_urls(["http://x.org/"], timout=3)
    said = str(raised.value)
    assert "'timout' (did you mean 'timeout'?)" in said and "max_per_host" in said and "retries" in said


def test_config_is_exported_with_the_names_check_urls_takes():
    config = pcheck.Config(timeout=3.0, retries=0)
    assert config.timeout == 3.0 and "Config" in pcheck.__all__


def test_check_urls_still_checks_a_list(lab):
    (result,) = pcheck.check_urls([lab.url("ok")], processes=1, retries=0, recheck_after=0.0)
    assert result.ok


def test_dump_lists_invalid_lines_and_missing_files_on_stderr_and_fails_as_check_would(lab, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{lab.url('ok')}\nnot a url\n")
    doc = tmp_path / "a.md"
    doc.write_text("[m](missing.md) [x](mailto:a@b.org)\n")
    proc = run_pcheck(str(listing), str(doc), "--dump")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [lab.url("ok"), (tmp_path / "missing.md").as_uri()]  # local links too (issue 27)
    assert f"{listing}:2:1: invalid: not a url" in proc.stderr
    assert f"{doc}:1:5: broken: {(tmp_path / 'missing.md').as_uri()}" in proc.stderr
    assert "mailto" not in proc.stderr  # excluded, as a run reports it: not a problem


def test_dump_of_a_clean_input_exits_0_with_nothing_on_stderr(lab, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{lab.url('ok')}\n")
    proc = run_pcheck(str(listing), "--dump", "--format", "jsonl")
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["url"] == lab.url("ok")
