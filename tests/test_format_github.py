"""`--format github` (issue 26): a GitHub workflow command per problem, which the runner shows on its line.

The lines are read back as the runner reads them (actions/runner, ActionCommand.TryParseV2 and its
unescaping), so a file named `a,b:c.md`, a URL holding `%41` and a name carrying `::` or a newline are
held to what GitHub would see, not to a string this test would also have to escape.
"""

from __future__ import annotations

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.repos import ODD_NAME, docs_repo
from support.review import commands

pytestmark = pytest.mark.timeout(60)

@pytest.fixture
def repo(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    root = tmp_path / "repo"
    return root, docs_repo(root, lab)


def test_each_problem_is_one_escaped_error_or_warning_command_with_its_file_line_and_column(repo):
    root, links = repo
    proc = run_pcheck("check", ".", "--format", "github", *FAST, cwd=root)
    assert proc.returncode == 1, proc.stderr
    *annotations, notice = proc.stdout.splitlines()
    broken, blocked, odd = links["broken"], links["blocked"], links["odd"]
    assert sorted(annotations) == sorted([
        f"::error file=docs/a.md,line={broken.line},col={broken.column},title=pcheck%3A broken link::"
        f"{broken.url} (404 Not Found)",
        f"::error file=a%2Cb%3Ac.md,line={odd.line},col={odd.column},title=pcheck%3A broken link::"
        f"{odd.url.replace('%', '%25')} (404 Not Found)",
        f"::warning file=docs/a.md,line={blocked.line},col={blocked.column},title=pcheck%3A blocked link::"
        f"{blocked.url} (403 Forbidden)",
    ])
    assert notice == "::notice title=pcheck::4 links: 1 alive, 2 broken, 1 blocked; 2 errors, 1 warning"


def test_a_file_named_with_a_comma_and_a_colon_and_a_url_holding_percent_41_reach_github_as_they_are(repo):
    root, links = repo
    proc = run_pcheck("check", ".", "--format", "github", *FAST, cwd=root)
    [(name, properties, message)] = [c for c in commands(proc.stdout) if c[1].get("file") == ODD_NAME]
    assert name == "error" and message == f"{links['odd'].url} (404 Not Found)" and "%41" in message
    assert properties == {"file": ODD_NAME, "line": str(links["odd"].line), "col": str(links["odd"].column),
                          "title": "pcheck: broken link"}


def test_files_are_named_relative_to_github_workspace_when_it_is_set(repo, monkeypatch):
    root, links = repo
    monkeypatch.setenv("GITHUB_WORKSPACE", str(root))
    proc = run_pcheck("check", "repo", "--format", "github", *FAST, cwd=root.parent)
    assert proc.returncode == 1, proc.stderr
    files = sorted(c[1]["file"] for c in commands(proc.stdout) if "file" in c[1])
    assert files == ["a,b:c.md", "docs/a.md", "docs/a.md"]


def test_a_document_outside_the_workspace_keeps_its_path_as_given(lab, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere.md"
    outside.write_text(f"[x]({lab.url('status/404')})\n", encoding="utf-8")
    (tmp_path / "ws").mkdir()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "ws"))
    proc = run_pcheck("check", str(outside), "--format", "github", *FAST)
    [(name, properties, _), notice] = commands(proc.stdout)
    assert name == "error" and properties["file"] == str(outside) and notice[0] == "notice"


def test_a_url_list_is_a_file_and_urls_from_the_command_line_or_stdin_have_none(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "urls.txt").write_text(f"{lab.url('ok')}\n{lab.url('status/410')}\nnot a url\n", encoding="utf-8")
    proc = run_pcheck("check", "urls.txt", lab.url("status/404"), "--format", "github", *FAST)
    assert proc.returncode == 1, proc.stderr
    found = sorted(commands(proc.stdout)[:-1], key=str)
    assert found == sorted([
        ("error", {"file": "urls.txt", "line": "2", "col": "1", "title": "pcheck: broken link"},
         f"{lab.url('status/410')} (410 Gone)"),
        ("error", {"file": "urls.txt", "line": "3", "col": "1", "title": "pcheck: invalid link"},
         "not a url (not a valid URL: holds whitespace (U+0020))"),
        ("error", {"title": "pcheck: broken link"}, f"{lab.url('status/404')} (404 Not Found)"),
    ], key=str)
    piped = run_pcheck("check", "-", "--format", "github", *FAST, stdin=lab.url("status/404") + "\n")
    assert [properties for _, properties, _ in commands(piped.stdout)[:-1]] == [{"title": "pcheck: broken link"}]


def test_what_does_not_fail_the_run_is_a_warning_and_the_exit_code_is_the_runs(lab):
    proc = run_pcheck("check", lab.url("status/500"), lab.url("status/403", 1), "--accept-transient",
                      "--format", "github", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert sorted(name for name, _, _ in commands(proc.stdout)) == ["notice", "warning", "warning"]
    strict = run_pcheck("check", lab.url("status/403", 1), "--fail-on-blocked", "--format", "github", *FAST)
    assert strict.returncode == 1 and [c[0] for c in commands(strict.stdout)] == ["error", "notice"]


def test_alive_and_excluded_links_write_nothing(lab):
    proc = run_pcheck("check", lab.url("ok"), lab.url("status/404?skip=1"), "--exclude", "skip=1",
                      "--format", "github", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_names_and_urls_carrying_workflow_commands_or_newlines_raise_no_command_of_their_own(lab, tmp_path):
    evil_name = "x::error::pwned\n::warning file=y::z%0A,.md"
    evil = tmp_path / evil_name
    evil.write_text(f"[gone]({lab.url('status/404')}?a=::error::b)\n[::error::link text](::add-mask::c.md)\n",
                    encoding="utf-8")
    listing = tmp_path / "urls.txt"
    listing.write_text(f"::error::pwned\n{lab.url('status/404')}?x=%0A::warning::y\n", encoding="utf-8")
    proc = run_pcheck("check", str(evil), str(listing), "--format", "github", *FAST, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = commands(proc.stdout)
    assert [name for name, _, _ in found] == ["error"] * 4 + ["notice"]
    assert sorted(p["file"] for _, p, _ in found[:-1]) == sorted([evil_name, evil_name, "urls.txt", "urls.txt"])
    messages = {m.split(" (")[0] for _, _, m in found[:-1]}
    assert messages == {f"{lab.url('status/404')}?a=::error::b", "::add-mask::c.md", "::error::pwned",
                        f"{lab.url('status/404')}?x=%0A::warning::y"}
