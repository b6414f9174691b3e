"""`check --suggest`: the fix for each link that has one, in the records and the reports; no file touched (issue 28, item 3)."""

from __future__ import annotations

import json

from conftest import run_pcheck
from support.fast import FAST


def _document(lab, tmp_path):
    moved = lab.url("redirect-to?url=/ok&code=301")
    temporary = lab.url("redirect-to?url=/ok&code=302")
    doc = tmp_path / "doc.md"
    doc.write_text(f"A [301]({moved}) link\nand [a 302]({temporary}).\n", encoding="utf-8")
    return doc, moved, temporary


def _records(stdout: str) -> dict[str, dict]:
    return {r["url"]: r for r in map(json.loads, stdout.splitlines()) if "url" in r}


def test_a_301_gets_a_moved_to_suggestion_and_a_302_none(lab, tmp_path):
    doc, moved, temporary = _document(lab, tmp_path)
    before = doc.read_bytes()
    result = run_pcheck("check", str(doc), "--suggest", "--format", "jsonl", *FAST)
    assert result.returncode == 0, result.stderr
    records = _records(result.stdout)
    assert records[moved]["suggestion"] == f"moved to {lab.url('ok')}"
    assert records[temporary]["suggestion"] is None
    assert list(records[moved])[-1] == "suggestion"
    assert doc.read_bytes() == before


def test_without_suggest_the_field_has_no_value(lab, tmp_path):
    doc, moved, _ = _document(lab, tmp_path)
    result = run_pcheck("check", str(doc), "--format", "jsonl", *FAST)
    assert result.returncode == 0, result.stderr
    assert _records(result.stdout)[moved]["suggestion"] is None


def test_the_text_and_markdown_reports_list_the_suggestions(lab, tmp_path):
    doc, moved, temporary = _document(lab, tmp_path)
    text = run_pcheck("check", str(doc), "--suggest", *FAST)
    assert text.returncode == 0, text.stderr
    assert "Suggestions (1):" in text.stdout
    assert f"{doc}:1:9: {moved} -> moved to {lab.url('ok')}" in text.stdout
    assert f"{temporary} -> moved to" not in text.stdout
    plain = run_pcheck("check", str(doc), *FAST)
    assert "Suggestions" not in plain.stdout
    markdown = run_pcheck("check", str(doc), "--suggest", "--format", "markdown", *FAST)
    assert "Suggestions (1)" in markdown.stdout and "moved to" in markdown.stdout


def test_a_jsonl_report_renders_its_suggestions_again(lab, tmp_path):
    doc, moved, _ = _document(lab, tmp_path)
    report = tmp_path / "report.jsonl"
    run_pcheck("check", str(doc), "--suggest", "--format", "jsonl", "-o", str(report), *FAST)
    again = run_pcheck("check", "--render-from", str(report), "--format", "jsonl")
    assert _records(again.stdout)[moved]["suggestion"] == f"moved to {lab.url('ok')}"
