"""`pcheck fix`'s editor (pcheck/fix/edits.py): exact edits of a document's text, and nothing else changed (issue 28)."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcheck.fix.edits import (
    Edit,
    apply_edits,
    definition_of,
    moved_target,
    relative_target,
    reference_label,
    unified_diff,
)
from pcheck.models import CheckResult, Outcome
from pcheck.run.fixing import rewrite_bytes


def test_an_edit_changes_only_the_target_at_its_line_and_column():
    text = "a\r\n[x](http://old/a)  \r\n\tsee http://old/a\r\n"
    new, applied = apply_edits(text, [Edit(2, 5, "http://old/a", "http://new/b")])
    assert new == "a\r\n[x](http://new/b)  \r\n\tsee http://old/a\r\n"
    assert applied == (Edit(2, 5, "http://old/a", "http://new/b"),)


def test_an_edit_whose_old_text_is_not_at_its_place_is_not_applied():
    text = "[x](http://old/a)\n"
    assert apply_edits(text, [Edit(1, 4, "http://old/a", "http://new/")]) == (text, ())
    assert apply_edits(text, [Edit(3, 1, "http://old/a", "http://new/")]) == (text, ())


def test_the_same_edit_twice_is_made_once():
    text = "[r]: http://old/a\n"
    edit = Edit(1, 6, "http://old/a", "http://new/a")
    assert apply_edits(text, [edit, edit]) == ("[r]: http://new/a\n", (edit,))


def test_the_moved_target_keeps_the_written_fragment_unless_the_final_url_has_its_own():
    assert moved_target("http://a/old#part", "http://a/new") == "http://a/new#part"
    assert moved_target("http://a/old#part", "http://a/new#other") == "http://a/new#other"
    assert moved_target("http://a/old", "https://a/new") == "https://a/new"


def test_a_redirect_from_https_to_http_is_never_applied_nor_one_to_itself():
    assert moved_target("https://a/old", "http://a/new") is None
    assert moved_target("http://a/same#x", "http://a/same") is None


def test_a_reference_use_names_its_label_and_its_definition_is_found_outside_code():
    text = "see [the docs][Docs  Page] and [Other]\n\n```\n[docs page]: http://old/\n```\n\n[docs page]: <http://old/>\n"
    assert reference_label(text, text.index("[the")) == "docs page"
    assert reference_label(text, text.index("[Other")) == "other"
    assert definition_of(text, "docs page", "http://old/", {4}) == (7, 15)
    assert definition_of(text, "docs page", "http://elsewhere/", {4}) is None


def test_the_diff_names_a_and_b_paths_and_says_a_missing_last_newline():
    diff = unified_diff("docs/x.md", "one\n[x](http://old/)", "one\n[x](http://new/)")
    assert diff.splitlines()[:2] == ["--- a/docs/x.md", "+++ b/docs/x.md"]
    assert "-[x](http://old/)\n\\ No newline at end of file\n+[x](http://new/)\n\\ No newline at end of file\n" in diff
    assert unified_diff("x.md", "same\n", "same\n") == ""


_PIECES = st.sampled_from(["plain ", "é ", "日本 ", "\t", "  ", "\r\n", "\n", "`code` ", "[", "]", "(", ")", "\ufeff",
                           "\n```\n[c](http://old.example/moved)\n```\n", "    http://old.example/moved"])
_ENCODINGS = [(b"", "utf-8"), (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
              (codecs.BOM_UTF16_BE, "utf-16-be")]


@settings(max_examples=150, deadline=None)
@given(before=st.lists(_PIECES, max_size=12), after=st.lists(_PIECES, max_size=12),
       new=st.sampled_from(["https://new.example/é", "http://n/#f", "https://x/a\tb"]),
       encoded=st.sampled_from(_ENCODINGS))
def test_documents_come_out_byte_identical_outside_the_edited_targets(before, after, new, encoded):
    bom, codec = encoded
    old = "http://old.example/moved"
    head, tail = "".join(before) + "\n", "".join(after)
    text = f"{head}[l]({old}){tail}\r\n"
    data = bom + text.encode(codec)
    line, column = head.count("\n") + 1, 5
    moved = CheckResult(outcome=Outcome.ALIVE, url=old, source="doc.md", line=line, column=column)
    rewrite, missed = rewrite_bytes("doc.md", "markdown", data, [(moved, new)])
    assert rewrite is not None and not missed and rewrite.edits == (Edit(line, column, old, new),)
    at = len(bom) + len(text[:len(head) + 4].encode(codec))
    old_bytes, new_bytes = old.encode(codec), new.encode(codec)
    assert data[at:at + len(old_bytes)] == old_bytes
    assert rewrite.before == data
    assert rewrite.after == data[:at] + new_bytes + data[at + len(old_bytes):]


def test_a_document_whose_bytes_do_not_survive_decoding_is_not_rewritten():
    data = b"[l](http://old/) \xff\n"
    moved = CheckResult(outcome=Outcome.ALIVE, url="http://old/", source="doc.md", line=1, column=5)
    rewrite, missed = rewrite_bytes("doc.md", "markdown", data, [(moved, "http://new/")])
    assert rewrite is None and [kept.why for kept in missed] == ["the file's bytes do not decode and encode back as they are"]
    assert rewrite_bytes("doc.md", "markdown", data.replace(b"\xff", b"\xc3\xa9"), [(moved, "http://new/")]).rewrite.after == (
        b"[l](http://new/) \xc3\xa9\n")


def test_a_document_reached_through_a_symbolic_link_is_written_where_it_lives_and_the_link_stays(tmp_path):
    from pcheck.fix.files import replace_file

    real = tmp_path / "real.md"
    real.write_bytes(b"[a](http://old.example/)\n")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    replace_file(str(link), b"[a](http://new.example/)\n", b"[a](http://old.example/)\n")
    assert link.is_symlink() and real.read_bytes() == b"[a](http://new.example/)\n"


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_cut_short_leaves_the_file_as_it_was_and_no_copy_beside_it(tmp_path, monkeypatch, failure):
    """A full disk, or Ctrl-C while `pcheck fix --write` writes: the document is whole and no temporary remains."""
    import os

    from pcheck.errors import InputError
    from pcheck.fix.files import replace_file

    doc = tmp_path / "a.md"
    doc.write_bytes(b"[a](http://old.example/)\n")

    def cut(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise failure

    monkeypatch.setattr(os, "replace", cut)
    with pytest.raises(InputError if isinstance(failure, OSError) else KeyboardInterrupt):
        replace_file(str(doc), b"[a](http://new.example/)\n", b"[a](http://old.example/)\n")
    assert doc.read_bytes() == b"[a](http://old.example/)\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]


@pytest.mark.parametrize(("written", "final", "new"), [
    ("guide.html", "https://s.org/docs/v2/guide.html", "v2/guide.html"),
    ("guide.html#part", "https://s.org/docs/v2/", "v2/#part"),
    ("../a", "https://s.org/b/", "../b/"),
    ("a", "https://s.org/docs/", "./"),
    ("x", "https://s.org/docs/a:b", "./a:b"),  # `a:b` alone would read as a scheme
    ("/docs/a", "https://s.org/b?q=1", "/b?q=1"),
    ("a", "https://other.org/a", None),  # another site
    ("a", "http://s.org/docs/a2", None),  # another scheme
    ("a", "https://s.org:8443/docs/a2", None),  # another port
    ("a", "https://s.org:443/docs/a2", "a2"),  # the default port spelled out: the same site
    ("//s.org/docs/a", "https://s.org/docs/a2", None),  # protocol-relative: not written from the site's root
])
def test_a_relative_link_is_written_relative_the_way_it_was_or_not_at_all(written, final, new):
    from urllib.parse import urljoin, urlsplit

    from pcheck.urls import changes_origin

    base = "https://s.org/docs/index.html"
    assert relative_target(written, base, final) == new
    if new is not None:
        joined = urljoin(base, new).split("#")[0]  # the same page: its site (default ports alike), path and query
        assert not changes_origin(joined, final) and urlsplit(joined)[2:4] == urlsplit(final)[2:4]
