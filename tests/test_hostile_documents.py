"""Documents and folders a hostile or careless commit can hold (issue 32): links out of the tree,
ignore files that are not files, encodings that hide every link, files too large to read whole,
`..` that climbs out of the site's root, paragraphs that make extraction quadratic."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import pcheck.inputs.walk as walk_module
from pcheck.errors import InputError
from pcheck.inputs.documents import extract
from pcheck.inputs.links import LinkBase, link_item
from pcheck.inputs.sources import iter_document, open_sources
from pcheck.models import Outcome


def walked(root: Path) -> list[str]:
    return sorted(os.path.relpath(p, root) for s in open_sources([str(root)]) for p in [s.name])


# -- symbolic links out of the walked tree ----------------------------------------------------------------

def test_a_walk_reads_no_file_through_a_link_out_of_the_tree(tmp_path, caplog):
    docs = tmp_path / "repo" / "docs"
    docs.mkdir(parents=True)
    (tmp_path / "private.md").write_text("[secret](http://secret.example/)\n")
    (docs / "a.md").write_text("[a](http://a.example/)\n")
    (docs / "env.md").symlink_to("/proc/self/environ")
    (docs / "notes.md").symlink_to(tmp_path / "private.md")
    assert walked(docs) == ["a.md"]
    said = caplog.text
    assert "env.md: a symbolic link out of" in said and "notes.md: a symbolic link out of" in said


def test_a_link_to_a_file_of_the_same_repository_is_read(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "docs").mkdir()
    (repo / "README.md").write_text("[r](http://r.example/)\n")
    (repo / "docs" / "index.md").symlink_to(repo / "README.md")  # a common layout: the docs' index is the README
    assert walked(repo / "docs") == ["index.md"]


# -- ignore files that are not plain files ------------------------------------------------------------------

def test_an_ignore_file_linked_to_an_endless_device_is_not_read(tmp_path, caplog):
    (tmp_path / "a.md").write_text("x\n")
    (tmp_path / ".gitignore").symlink_to("/dev/zero")
    assert walked(tmp_path) == ["a.md"]  # before: read until MemoryError
    assert ".gitignore: a symbolic link, not read as an ignore file" in caplog.text


@pytest.mark.timeout(10)
def test_a_fifo_named_like_an_ignore_file_does_not_hold_the_walk(tmp_path, caplog):
    (tmp_path / "a.md").write_text("x\n")
    os.mkfifo(tmp_path / ".gitignore")  # before: open() waited for a writer for ever
    assert walked(tmp_path) == ["a.md"]
    assert ".gitignore: not a regular file" in caplog.text


def test_an_ignore_file_too_large_to_be_one_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(walk_module, "MAX_IGNORE_FILE_BYTES", 1024)
    (tmp_path / "a.md").write_text("x\n")
    (tmp_path / ".gitignore").write_text("b.md\n" * 1000)
    with pytest.raises(InputError, match=r"\.gitignore: an ignore file over .* --no-ignore"):
        open_sources([str(tmp_path)])


# -- encodings ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_document_with_a_byte_order_mark_has_its_links_read(tmp_path, encoding):
    doc = tmp_path / "a.md"
    text = "# Title\n\n[gone](http://a.example/404) and [é](http://b.example/é)\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc.write_bytes(data)
    urls = [item.url for item in iter_document(str(doc), "markdown")]
    assert urls == ["http://a.example/404", "http://b.example/é"]


def test_a_document_of_nul_bytes_without_a_mark_is_one_record_saying_so(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_bytes("[gone](http://a.example/404)\n".encode("utf-16-le"))  # no BOM
    (record,) = iter_document(str(doc), "markdown")
    assert record.outcome is Outcome.UNCHECKED and "not a text document" in record.detail


def test_an_html_page_is_read_in_the_charset_it_declares(tmp_path):
    page = tmp_path / "a.html"
    page.write_bytes('<meta charset="windows-1252"><a href="http://a.example/caf\xe9">x</a>'.encode("cp1252"))
    (item,) = iter_document(str(page), "html")
    assert item.url == "http://a.example/café"


# -- sizes -------------------------------------------------------------------------------------------------

def test_a_document_too_large_to_read_whole_is_one_record_saying_so(tmp_path, monkeypatch):
    import pcheck.inputs.sources as sources

    monkeypatch.setattr(sources, "MAX_DOCUMENT_BYTES", 1024)
    doc = tmp_path / "big.md"
    doc.write_text("[a](http://a.example/)\n" * 100)
    (record,) = iter_document(str(doc), "markdown")
    assert record.outcome is Outcome.UNCHECKED and "larger than" in record.detail


def test_a_fragment_in_a_local_file_too_large_to_read_is_not_judged_and_the_link_stays_alive(tmp_path, monkeypatch):
    import pcheck.inputs.links as links

    monkeypatch.setattr(links, "MAX_PAGE_BYTES", 1024)
    links._read_anchors.cache_clear()
    (tmp_path / "big.md").write_text("# Top\n\n" + "words " * 1000)
    result = link_item("big.md#top", str(tmp_path / "a.md"), 1, 1, LinkBase(fragments=True))
    assert result.outcome is Outcome.ALIVE and "#top not checked" in result.detail


# -- `..` and the site's root --------------------------------------------------------------------------------

@pytest.mark.parametrize("link", ["/../../../../etc/hostname", "/%2e%2e/%2e%2e/etc/hostname",
                                  "../../../../../etc/hostname"])
def test_no_link_climbs_out_of_the_root_dir(tmp_path, link):
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    result = link_item(link, str(site / "docs" / "a.md"), 1, 1, LinkBase(root_dir=str(site)))
    assert result.outcome is Outcome.BROKEN  # the site has no /etc/hostname; /etc/hostname on this machine exists
    assert result.url == (site / "etc" / "hostname").as_uri()


def test_a_relative_link_up_to_the_roots_own_files_still_resolves(tmp_path):
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "index.md").write_text("x\n")
    result = link_item("../index.md", str(site / "docs" / "a.md"), 1, 1, LinkBase(root_dir=str(site)))
    assert result.outcome is Outcome.ALIVE


# -- cost ----------------------------------------------------------------------------------------------------

def test_links_of_one_long_paragraph_cost_time_linear_in_its_size():
    def seconds(n: int) -> float:
        paragraph = "".join(f"see [x{i}](http://h.example/{i}) and\n" for i in range(n))
        started = time.perf_counter()
        links = list(extract(paragraph, "markdown"))
        assert len(links) == n and links[-1][1] == n
        return time.perf_counter() - started

    small, large = seconds(2000), seconds(16000)
    assert large / small < 16  # 8x the size: about 6x the time; counting lines from the start made it 34x
