"""`--format sarif` (issue 26): SARIF 2.1.0 for code scanning, held to the official schema.

tests/data/sarif-schema-2.1.0.json is OASIS's schema as published in oasis-tcs/sarif-spec
(Documents/CommitteeSpecifications/2.1.0/sarif-schema-2.1.0.json). The runs are real runs over a git
repository of documents (support.repos) and the local site.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.repos import ODD_NAME, docs_repo
from support.review import sarif_validator

from pcheck.models import ErrorKind, Outcome

pytestmark = pytest.mark.timeout(60)

@pytest.fixture(scope="module")
def validator():
    return sarif_validator()


def sarif(validator, *args: str, **where) -> tuple[int, dict]:
    """The exit code and the log of a run, which must validate."""
    proc = run_pcheck("check", *args, "--format", "sarif", *FAST, **where)
    log = json.loads(proc.stdout)
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return proc.returncode, log


def results(log: dict) -> list[dict]:
    [run] = log["runs"]
    return run["results"]


def place(result: dict) -> tuple[str, int, int]:
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    uri = physical["artifactLocation"]["uri"]
    assert not urlsplit(uri).scheme and not uri.startswith("/"), uri  # a relative reference
    return unquote(uri), physical["region"]["startLine"], physical["region"]["startColumn"]


@pytest.fixture
def repo(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    root = tmp_path / "repo"
    return root, docs_repo(root, lab)


def test_each_problem_is_a_result_at_its_relative_place_with_its_rule_level_and_words(validator, repo):
    root, links = repo
    code, log = sarif(validator, ".", cwd=root)
    assert code == 1
    assert log["version"] == "2.1.0" and log["runs"][0]["tool"]["driver"]["name"] == "pcheck"
    found = {place(r): (r["ruleId"], r["level"], r["message"]["text"]) for r in results(log)}
    broken, blocked, odd = links["broken"], links["blocked"], links["odd"]
    assert found == {
        (broken.file, broken.line, broken.column): ("broken", "error", f"{broken.url} (404 Not Found)"),
        (odd.file, odd.line, odd.column): ("broken", "error", f"{odd.url} (404 Not Found)"),
        (blocked.file, blocked.line, blocked.column): ("blocked", "warning", f"{blocked.url} (403 Forbidden)"),
    }
    assert "%41" in odd.url and odd.file == ODD_NAME
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results(log)}
    assert uris == {"docs/a.md", "a%2Cb%3Ac.md"}  # percent-encoded: the colon cannot read as a scheme
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == root.resolve().as_uri() + "/"


def test_fingerprints_are_the_same_on_a_second_run_and_tell_links_apart(validator, repo):
    root, _ = repo
    first = {place(r): r["partialFingerprints"] for r in results(sarif(validator, ".", cwd=root)[1])}
    second = {place(r): r["partialFingerprints"] for r in results(sarif(validator, ".", cwd=root)[1])}
    assert first == second and len(first) == 3
    assert len({json.dumps(f, sort_keys=True) for f in first.values()}) == 3


def test_the_same_fingerprint_whether_the_run_starts_in_the_workspace_or_above_it(validator, repo, monkeypatch):
    root, _ = repo
    inside = {place(r): r["partialFingerprints"] for r in results(sarif(validator, ".", cwd=root)[1])}
    monkeypatch.setenv("GITHUB_WORKSPACE", str(root))
    above = {place(r): r["partialFingerprints"] for r in results(sarif(validator, "repo", cwd=root.parent)[1])}
    assert above == inside


def test_there_is_a_rule_per_error_kind_and_per_outcome_that_is_not_alive_each_described(validator, lab):
    _, log = sarif(validator, lab.url("status/404"))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert sorted(ids) == sorted([o.value for o in Outcome if o is not Outcome.ALIVE] + [k.value for k in ErrorKind])
    assert all(rule["shortDescription"]["text"] and rule["help"]["text"] for rule in rules)
    for result in results(log):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_a_url_list_is_a_location_and_urls_from_the_command_line_have_none(validator, lab, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    (tmp_path / "urls.txt").write_text(f"{lab.url('ok')}\n{lab.url('status/410')}\nnot a url\n", encoding="utf-8")
    code, log = sarif(validator, "urls.txt", lab.url("status/404"), cwd=tmp_path)
    assert code == 1
    listed = sorted((place(r), r["ruleId"]) for r in results(log) if "locations" in r)
    assert listed == [(("urls.txt", 2, 1), "broken"), (("urls.txt", 3, 1), "invalid_url")]
    [argument] = [r for r in results(log) if "locations" not in r]
    assert argument["message"]["text"] == f"{lab.url('status/404')} (404 Not Found)"
    assert argument["partialFingerprints"]


def test_what_does_not_fail_the_run_is_a_warning(validator, lab):
    code, log = sarif(validator, lab.url("status/500"), "--accept-transient")
    assert code == 0 and [r["level"] for r in results(log)] == ["warning"]


def test_a_run_without_problems_is_a_valid_log_without_results(validator, lab):
    code, log = sarif(validator, lab.url("ok"), lab.url("status/404?skip=1"), "--exclude", "skip=1")
    assert code == 0 and results(log) == []


def test_a_document_outside_the_workspace_is_located_by_its_absolute_file_uri(validator, lab, tmp_path, monkeypatch):
    outside = tmp_path / "else where.md"
    outside.write_text(f"[x]({lab.url('status/404')})\n", encoding="utf-8")
    (tmp_path / "ws").mkdir()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "ws"))
    _, log = sarif(validator, "../else where.md", cwd=tmp_path / "ws")
    [result] = results(log)
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": outside.as_uri()}
