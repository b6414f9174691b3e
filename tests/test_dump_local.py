"""--dump lists local links too (issue 27, item 8): their file:// URL with source, line and column.

A broken local link is still a problem said on stderr (and fails the run, as a check would); no request
is made for anything.
"""

from __future__ import annotations

import json

from conftest import run_pcheck


def test_dump_lists_http_and_local_links_in_document_order(lab, tmp_path):
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    doc = tmp_path / "a.md"
    doc.write_text(f"# A\n\n[web]({lab.url('ok')}) [b](b.md)\n[gone](gone.md) [mail](mailto:a@a.test)\n",
                   encoding="utf-8")
    b, gone = (tmp_path / "b.md").as_uri(), (tmp_path / "gone.md").as_uri()
    b_column = len(f"[web]({lab.url('ok')}) [b](") + 1
    proc = run_pcheck("check", str(doc), "--dump", "--no-progress")
    assert proc.returncode == 1 and f"{doc}:4:8: broken: " in proc.stderr, proc.stderr  # said, as before
    assert proc.stdout.splitlines() == [lab.url("ok"), b, gone]
    proc = run_pcheck("check", str(doc), "--dump", "--format", "jsonl", "--no-progress")
    assert proc.returncode == 1, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {"url": lab.url("ok"), "source": str(doc), "line": 3, "column": 7},
        {"url": b, "source": str(doc), "line": 3, "column": b_column, "link": "b.md"},
        {"url": gone, "source": str(doc), "line": 4, "column": 8, "link": "gone.md"}]
    assert list(lab.log) == []


def test_dump_leaves_out_local_links_that_are_excluded_or_ignored(tmp_path):
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    doc = tmp_path / "a.md"
    doc.write_text("[b](b.md) <!-- pcheck-disable-line -->\n\n[c](b.md#x)\n", encoding="utf-8")
    proc = run_pcheck("check", str(doc), "--dump", "--no-progress")
    assert proc.returncode == 0 and proc.stdout.splitlines() == [(tmp_path / "b.md").as_uri()], proc.stderr
