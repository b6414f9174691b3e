"""`pcheck fix`: links that moved for good rewritten in place, exactly, and nothing else (issue 28, item 1)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run_pcheck, run_pcheck_in_process
from support.fast import FAST


def _document(lab) -> tuple[str, dict[str, str]]:
    """A Markdown document with a 301, a 308 with a fragment, a reference definition, an HTML href, a 302, a 301 to a
    404 and the moved URL again in code; and the three targets `--write` must make of the permanent ones."""
    moved = lab.url("redirect-to?url=/ok&code=301")
    moved_308 = lab.url("redirect-to?url=/page/a,b&code=308")
    by_reference = lab.url("redirect-to?url=/page/b&code=301")
    by_html = lab.url("redirect-to?url=/ok?html=1&code=301")
    temporary = lab.url("redirect-to?url=/ok&code=302")
    to_dead = lab.url("redirect-to?url=/status/404&code=301")
    text = (
        "\ufeff# Moved links ✓\r\n"
        f"A [301]({moved}) link,  \r\n"
        f"\ta [308 with a fragment]({moved_308}#top).\r\n"
        "See [the reference][ref] and \r\n"
        f'<a href="{by_html}">html</a> and [a 302]({temporary}) and [dead]({to_dead}).\r\n'
        "\r\n"
        f"`{moved}` in a code span\r\n"
        "\r\n"
        "```\r\n"
        f"[in code]({moved})\r\n"
        "```\r\n"
        "\r\n"
        f"[ref]: {by_reference}\r\n"
    )
    fixed = {moved: lab.url("ok"), f"{moved_308}#top": lab.url("page/a,b") + "#top",
             by_reference: lab.url("page/b"), by_html: lab.url("ok?html=1")}
    return text, fixed


def _expected(text: str, fixed: dict[str, str]) -> str:
    lines = text.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith(("`", "[in code]")):
            continue
        for old, new in fixed.items():
            line = line.replace(f"({old})", f"({new})").replace(f'"{old}"', f'"{new}"').replace(f": {old}", f": {new}")
        lines[i] = line
    return "\r\n".join(lines)


def test_the_dry_run_shows_a_diff_exits_1_and_changes_nothing(lab, tmp_path):
    text, fixed = _document(lab)
    doc = tmp_path / "doc.md"
    doc.write_bytes(text.encode("utf-8"))
    result = run_pcheck("fix", str(doc), *FAST)
    assert result.returncode == 1, result.stderr
    assert doc.read_bytes() == text.encode("utf-8")
    assert f"--- a/{doc}" in result.stdout and f"+++ b/{doc}" in result.stdout
    removed = [line for line in result.stdout.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in result.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) == 4, result.stdout  # lines 2, 3, 5 and the definition
    assert all(new in result.stdout for new in fixed.values())


def test_write_changes_exactly_the_permanent_targets_byte_for_byte_and_a_second_run_finds_nothing(lab, tmp_path):
    text, fixed = _document(lab)
    doc = tmp_path / "doc.md"
    doc.write_bytes(text.encode("utf-8"))
    doc.chmod(0o640)
    result = run_pcheck("fix", str(doc), "--write", *FAST)
    assert result.returncode == 0, result.stderr
    expected = _expected(text, fixed)
    assert expected != text
    assert doc.read_bytes() == expected.encode("utf-8")  # BOM, CRLF, trailing spaces, tab, code: all kept
    assert stat.S_IMODE(doc.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["doc.md"]  # no temporary file left
    again = run_pcheck("fix", str(doc), "--write", *FAST)
    assert again.returncode == 0 and doc.read_bytes() == expected.encode("utf-8")
    dry = run_pcheck("fix", str(doc), *FAST)
    assert dry.returncode == 0 and dry.stdout == "", dry.stdout


def test_temporary_redirects_are_applied_only_with_temporary(lab, tmp_path):
    temporary = lab.url("redirect-to?url=/ok&code=307")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[t]({temporary}#here)\n", encoding="utf-8")
    assert run_pcheck("fix", str(doc), *FAST).returncode == 0
    assert run_pcheck("fix", str(doc), "--temporary", "--write", *FAST).returncode == 0
    assert doc.read_text(encoding="utf-8") == f"[t]({lab.url('ok')}#here)\n"


def test_an_html_page_keeps_its_declared_encoding_and_a_relative_link_is_never_touched(lab, tmp_path):
    moved = lab.url("redirect-to?url=/ok&code=308")
    (tmp_path / "local.html").write_text("x")
    page = tmp_path / "page.html"
    data = (f'<meta charset="latin-1"><p>caf\xe9</p><a href="{moved}">m</a> <a href="local.html">l</a>\n'
            ).encode("latin-1")
    page.write_bytes(data)
    assert run_pcheck("fix", str(page), "--write", *FAST).returncode == 0
    assert page.read_bytes() == data.replace(moved.encode(), lab.url("ok").encode())


def test_a_file_changed_since_it_was_read_is_not_written(lab, tmp_path, monkeypatch):
    import pcheck.fix.files as files

    moved = lab.url("redirect-to?url=/ok&code=301")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[m]({moved})\n", encoding="utf-8")
    real = files.replace_file

    def meddle(path: str, data: bytes, read: bytes) -> None:
        Path(path).write_text("changed meanwhile\n", encoding="utf-8")
        real(path, data, read)

    monkeypatch.setattr(files, "replace_file", meddle)
    result = run_pcheck_in_process("fix", str(doc), "--write", *FAST)
    assert result.returncode == 2 and str(doc) in result.stderr and "changed" in result.stderr
    assert doc.read_text(encoding="utf-8") == "changed meanwhile\n"
    assert sorted(os.listdir(tmp_path)) == ["doc.md"]


def test_the_moved_url_in_a_code_span_before_the_link_on_its_line_stays(lab, tmp_path):
    moved = lab.url("redirect-to?url=/ok&code=301")
    doc = tmp_path / "doc.md"
    doc.write_text(f"Not `{moved}` nor ``{moved}`` but [this]({moved}) and {moved}\n", encoding="utf-8")
    assert run_pcheck("fix", str(doc), "--write", *FAST).returncode == 0
    ok = lab.url("ok")
    assert doc.read_text(encoding="utf-8") == f"Not `{moved}` nor ``{moved}`` but [this]({ok}) and {ok}\n"


def test_a_relative_link_that_moved_on_its_site_stays_relative_and_one_that_left_it_is_listed(lab, tmp_path):
    """Under --base-url a relative link is checked as a URL: its new target is written relative, as it was."""
    doc = tmp_path / "doc.md"
    away = f"../../redirect-to?url={lab.url('ok', host=1)}&code=301"
    text = ("[dir](../../redirect-to?url=/page/intro&code=301#intro)\n"
            "[root](/redirect-to?url=/ok?root&code=308)\n"
            f"[away]({away})\n")
    doc.write_text(text, encoding="utf-8")
    result = run_pcheck("fix", str(doc), "--write", "--base-url", lab.url("sub/dir/"), *FAST)
    assert result.returncode == 0, result.stderr
    assert doc.read_text(encoding="utf-8") == f"[dir](../../page/intro#intro)\n[root](/ok?root)\n[away]({away})\n"
    assert (f"{doc}:3:8: {away}: left as written: it moved to {lab.url('ok', host=1)}, another site: "
            "a relative link is left as written") in result.stderr
    again = run_pcheck("fix", str(doc), "--base-url", lab.url("sub/dir/"), *FAST)
    assert again.returncode == 0 and again.stdout == ""


def test_a_link_that_moved_from_https_to_http_is_listed_not_rewritten():
    from pcheck.fix.moves import move_of
    from pcheck.models import CheckResult, Outcome

    result = CheckResult(url="https://a.example/old", outcome=Outcome.ALIVE, redirects=1, final_url="http://a.example/new",
                         detail="permanent redirect (301) to http://a.example/new", line=1, column=1)
    assert move_of(result) == (None, "it moved to http://a.example/new: an https link is never made http")


def test_a_hostile_servers_redirect_cannot_write_markup_into_the_document(lab, tmp_path):
    """A Location of `/ok?x="><script>)` is written percent-encoded: the same URL to a server, inert in the file."""
    hostile = lab.url("redirect-to?url=/ok%3Fx%3D%22%3E%3Cscript%3E%29%27&code=301")
    for name, template in (("doc.md", "[a]({}) end\n"), ("page.html", '<a href="{}">a</a> <a href=\'{}\'>b</a>\n')):
        doc = tmp_path / name
        doc.write_text(template.format(hostile, hostile), encoding="utf-8")
        result = run_pcheck("fix", str(doc), "--write", *FAST)
        assert result.returncode == 0, result.stderr
        safe = lab.url("ok?x=%22%3E%3Cscript%3E%29%27")
        assert doc.read_text(encoding="utf-8") == template.format(safe, safe)
        assert "<script>" not in doc.read_text(encoding="utf-8")


def test_balanced_parentheses_stay_as_written_and_unbalanced_ones_are_encoded():
    from pcheck.fix.edits import safe_target

    assert safe_target("https://en.wikipedia.org/wiki/Go_(language)") == "https://en.wikipedia.org/wiki/Go_(language)"
    assert safe_target("https://a/x)(") == "https://a/x%29%28"
    assert safe_target("https://a/x(") == "https://a/x%28"
    assert safe_target("https://a/b c\t`{|}^\\") == "https://a/b%20c%09%60%7B%7C%7D%5E%5C"
