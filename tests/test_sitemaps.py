"""Sitemaps as inputs: every <loc> ends in one record, indexes are followed, and hostile XML or gzip ends in a record.

Everything runs against files in tmp_path and the local lab on 127.0.0.x; nothing reaches the internet.
"""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib

import pytest

from conftest import run_pcheck, run_pcheck_in_process
from pcheck.check.fetch import fetch_body
from pcheck.config import MAX_SITEMAP_BYTES, Config
from pcheck.inputs import sitemaps
from pcheck.inputs.sitemaps import iter_sitemap
from pcheck.inputs.sources import count_candidates, iter_targets, open_sources
from pcheck.lab import Lab
from pcheck.models import CheckResult, Outcome, Target, Verdict
from support.fast import FAST

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@pytest.fixture(scope="module")
def site():
    with Lab(hosts=2) as lab:
        yield lab


def urlset(*urls: str, ns: str = NS) -> str:
    """A urlset with one <url><loc> a line, the first on line 3."""
    xmlns = f' xmlns="{ns}"' if ns else ""
    body = "".join(f"  <url><loc>{u}</loc></url>\n" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset{xmlns}>\n{body}</urlset>\n'


def index(*urls: str) -> str:
    """A sitemap index with one <sitemap><loc> a line, the first on line 3."""
    body = "".join(f"  <sitemap><loc>{u}</loc></sitemap>\n" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NS}">\n{body}</sitemapindex>\n'


def check(*args: str, **kwargs) -> tuple[int, list[dict]]:
    proc = run_pcheck("check", "--format", "jsonl", *FAST, *args, **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def by_line(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["source"], r["line"] or 0))


def test_local_sitemap_gives_one_record_per_loc_with_its_line_and_column(site, tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_text(urlset(site.url("/ok?a"), site.url("/status/404"), site.url("/ok?a"), "not a url"))
    code, records = check(str(path))
    assert code == 1
    assert [(r["url"], r["outcome"], r["line"], r["column"]) for r in by_line(records)] == [
        (site.url("/ok?a"), "alive", 3, 8),
        (site.url("/status/404"), "broken", 4, 8),
        (site.url("/ok?a"), "alive", 5, 8),  # a repeat is a record of its own
        ("not a url", "invalid", 6, 8),
    ]
    assert {r["source"] for r in records} == {str(path)}


def test_locs_are_found_with_or_without_the_sitemaps_namespace_and_not_in_extensions(site, tmp_path):
    text = (f'<urlset xmlns:s="{NS}" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n'
            f'<s:url><s:loc> {site.url("/ok?ns")}\n</s:loc>'
            f'<image:image><image:loc>{site.url("/status/500")}</image:loc></image:image></s:url>\n</urlset>\n')
    (tmp_path / "a.xml").write_text(text)
    (tmp_path / "b.xml").write_text(urlset(site.url("/ok?bare"), ns=""))
    code, records = check(str(tmp_path / "a.xml"), str(tmp_path / "b.xml"))
    assert code == 0
    assert sorted((r["url"], r["line"]) for r in records) == [(site.url("/ok?bare"), 3), (site.url("/ok?ns"), 2)]


def test_gzipped_sitemap_is_known_by_its_magic_bytes_not_its_name(site, tmp_path):
    named = tmp_path / "sitemap.xml.gz"
    named.write_bytes(gzip.compress(urlset(site.url("/ok?gz1"), site.url("/ok?gz2")).encode()))
    unnamed = tmp_path / "plain-name.xml"
    unnamed.write_bytes(gzip.compress(urlset(site.url("/ok?gz3")).encode()))
    code, records = check(str(named), str(unnamed))
    assert code == 0
    assert sorted((r["url"], r["source"], r["line"]) for r in records) == [
        (site.url("/ok?gz1"), str(named), 3), (site.url("/ok?gz2"), str(named), 4), (site.url("/ok?gz3"), str(unnamed), 3),
    ]


def test_a_url_argument_named_like_a_sitemap_is_fetched_and_read(site):
    plain, gzipped = site.url("/sitemap/sitemap-3.xml"), site.url("/sitemap/News-SiteMap-2.xml.gz")
    code, records = check(plain, gzipped, site.url("/ok?checked"), site.url("/feed.xml"))
    assert code == 1  # /feed.xml: checked as a link (404), not read as a sitemap
    read = sorted((r["source"], r["line"], r["url"]) for r in records if r["source"] != "<args>")
    assert read == sorted([(plain, 3 + i, site.url(f"/ok?s={i}")) for i in range(3)] + [
        (gzipped, 3 + i, site.url(f"/ok?s={i}")) for i in range(2)])
    checked = sorted((r["url"], r["outcome"]) for r in records if r["source"] == "<args>")
    assert checked == [(site.url("/feed.xml"), "broken"), (site.url("/ok?checked"), "alive")]


def test_input_format_sitemap_reads_any_file_url_or_stdin_as_a_sitemap(site, tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(urlset(site.url("/ok?file")))
    url = site.url("/sitemap/2.xml")  # not named like a sitemap: only --input-format says it is one
    code, records = check(str(path), url, "-", "--input-format", "sitemap", stdin=urlset(site.url("/ok?stdin")))
    assert code == 0
    assert sorted((r["source"], r["url"]) for r in records) == sorted([
        (str(path), site.url("/ok?file")), ("-", site.url("/ok?stdin")),
        (url, site.url("/ok?s=0")), (url, site.url("/ok?s=1")),
    ])


def test_sitemap_index_is_followed_and_each_url_names_its_own_sitemap(site):
    top = site.url("/sitemap-index/3/2.xml.gz")
    code, records = check(top, "--input-format", "sitemap")
    assert code == 0
    assert len(records) == 6
    for part in range(3):
        child = site.url(f"/sitemap/2.xml?part={part}")
        assert sorted((r["url"], r["line"]) for r in records if r["source"] == child) == [
            (site.url("/ok?s=0"), 3), (site.url("/ok?s=1"), 4)]


def test_dump_lists_the_urls_of_sitemaps_local_and_fetched(site, tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_text(index(site.url("/sitemap/2.xml")))
    proc = run_pcheck("check", "--dump", "--format", "jsonl", str(path))
    assert proc.returncode == 0, proc.stderr
    dumped = [json.loads(line) for line in proc.stdout.splitlines()]
    assert dumped == [{"url": site.url(f"/ok?s={i}"), "source": site.url("/sitemap/2.xml"), "line": 3 + i, "column": 6}
                      for i in range(2)]


def test_billion_laughs_is_refused_fast_as_one_invalid_record(tmp_path):
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "lol.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY l0 "lol">{entities}]>\n'
                    f'<urlset xmlns="{NS}"><url><loc>http://127.0.0.1/&l9;</loc></url></urlset>\n')
    started = time.monotonic()
    code, records = check(str(path))
    assert time.monotonic() - started < 10
    assert code == 1
    [record] = records
    assert (record["url"], record["outcome"], record["line"]) == (str(path), "invalid", 2)
    assert "refused" in record["detail"] and "DOCTYPE" in record["detail"]


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE urlset SYSTEM "file:///etc/passwd">',
    '<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE urlset PUBLIC "-//x//y" "http://127.0.0.1:9/evil.dtd">',
])
def test_external_entities_and_dtds_are_refused(tmp_path, prolog):
    path = tmp_path / "xxe.xml"
    path.write_text(f'<?xml version="1.0"?>\n{prolog}\n<urlset><url><loc>http://127.0.0.1/&xxe;</loc></url></urlset>\n')
    code, records = check(str(path))
    assert code == 1
    assert [(r["url"], r["outcome"], r["line"]) for r in records] == [(str(path), "invalid", 2)]
    assert records[0]["detail"].startswith("refused")


def test_an_entity_used_without_a_declaration_is_malformed_xml(tmp_path):
    path = tmp_path / "undeclared.xml"
    path.write_text(urlset("http://127.0.0.1/&xxe;"))
    code, records = check(str(path))
    assert code == 1
    assert [(r["outcome"], r["line"], r["detail"]) for r in records] == [
        ("invalid", 3, "not well-formed XML: undefined entity")]


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A gzip of ~200 MB of XML white space inside a urlset: ~200 kB on disk, four times the cap unpacked."""
    path = tmp_path_factory.mktemp("bomb") / "sitemap.xml.gz"
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    parts = [packer.compress(urlset("http://127.0.0.1/first").replace("</urlset>\n", "").encode())]
    parts += [packer.compress(block) for _ in range(200)]
    parts += [packer.compress(b"<url><loc>http://127.0.0.1/after-the-cap</loc></url></urlset>"), packer.flush()]
    path.write_bytes(b"".join(parts))
    return path


def test_gzip_bomb_sitemap_is_cut_at_the_cap_and_says_so(bomb):
    started = time.monotonic()
    code, records = check(str(bomb), "--exclude", "127.0.0.1/first")
    assert time.monotonic() - started < 10
    assert code == 1
    assert [(r["url"], r["outcome"]) for r in records] == [
        ("http://127.0.0.1/first", "excluded"), (str(bomb), "unchecked")]
    assert "larger than 50 MiB" in records[1]["detail"]


def test_gzip_bomb_is_read_in_bounded_memory(bomb):
    tracemalloc.start()
    try:
        items = list(iter_sitemap(str(bomb), None))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [type(i) for i in items] == [Target, CheckResult]
    assert peak < MAX_SITEMAP_BYTES / 10, f"peak {peak} bytes"


def test_malformed_xml_mid_file_keeps_the_earlier_urls_and_adds_one_invalid_record(site, tmp_path):
    path = tmp_path / "sitemap.xml"
    text = urlset(site.url("/ok?1"), site.url("/ok?2"), "BROKEN", site.url("/ok?3"))
    path.write_text(text.replace("<url><loc>BROKEN</loc></url>", "<url><loc>oops</url>"))
    code, records = check(str(path))
    assert code == 1
    assert [(r["url"], r["outcome"], r["line"]) for r in by_line(records)] == [
        (site.url("/ok?1"), "alive", 3), (site.url("/ok?2"), "alive", 4), (str(path), "invalid", 5)]
    assert by_line(records)[-1]["detail"] == "not well-formed XML: mismatched tag"


@pytest.mark.parametrize("content, detail", [
    ("<html><body><a href='http://127.0.0.1/'>x</a></body></html>", "not a sitemap: root element <html>"),
    ("", "not well-formed XML: no element found"),
])
def test_what_is_not_a_sitemap_is_one_invalid_record(tmp_path, content, detail):
    path = tmp_path / "page.xml"
    path.write_text(content)
    code, records = check(str(path))
    assert code == 1
    assert [(r["url"], r["outcome"], r["line"], r["detail"]) for r in records] == [(str(path), "invalid", 1, detail)]


def test_truncated_gzip_keeps_what_was_read_and_says_it_ends_early(tmp_path):
    data = gzip.compress(urlset(*[f"http://127.0.0.1/{i}" for i in range(2000)]).encode())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(iter_sitemap(str(path), None))
    *targets, last = items
    assert targets and all(isinstance(t, Target) for t in targets)
    assert (last.outcome, last.detail) == (Outcome.INVALID, "the gzip data ends early (truncated)")


def test_a_sitemap_met_twice_is_read_once_and_the_repeat_is_excluded(site, tmp_path):
    child = site.url("/sitemap/2.xml?part=0")
    nested = site.url("/sitemap-index/1/2.xml")  # lists `child` again, one level down: a loop of sorts
    path = tmp_path / "index.xml"
    path.write_text(index(child, nested, child))
    site.reset_stats()
    code, records = check(str(path))
    assert code == 0
    excluded = sorted((r["source"], r["line"]) for r in records if r["outcome"] == "excluded")
    assert excluded == sorted([(str(path), 5), (nested, 3)])
    assert all("read already" in r["detail"] for r in records if r["outcome"] == "excluded")
    assert sorted(r["url"] for r in records if r["source"] == child) == [site.url("/ok?s=0"), site.url("/ok?s=1")]
    assert sum(1 for r in site.log if r.target.startswith("/sitemap/2.xml")) == 1


def test_no_more_than_max_sitemaps_are_followed_and_each_other_says_so(site, tmp_path, monkeypatch):
    monkeypatch.setattr(sitemaps, "MAX_SITEMAPS", 3)  # the index itself and two of its four children
    path = tmp_path / "index.xml"
    path.write_text(index(*[site.url(f"/sitemap/1.xml?part={j}") for j in range(4)]))
    proc = run_pcheck_in_process("check", "--format", "jsonl", *FAST, str(path))  # the patch lives in this process
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert sorted(r["source"] for r in records if r["outcome"] == "alive") == [
        site.url("/sitemap/1.xml?part=0"), site.url("/sitemap/1.xml?part=1")]
    refused = [r for r in records if r["outcome"] == "unchecked"]
    assert [(r["url"], r["line"]) for r in refused] == [(site.url(f"/sitemap/1.xml?part={j}"), 3 + j) for j in (2, 3)]
    assert all("3 sitemaps read from this input" in r["detail"] for r in refused)


def test_indexes_nested_deeper_than_the_cap_are_not_followed(site, tmp_path, monkeypatch):
    monkeypatch.setattr(sitemaps, "MAX_SITEMAP_DEPTH", 1)
    path = tmp_path / "index.xml"
    path.write_text(index(site.url("/sitemap-index/2/1.xml")))
    proc = run_pcheck_in_process("check", "--format", "jsonl", *FAST, str(path))
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert [(r["url"], r["outcome"], r["source"]) for r in records] == [
        (site.url(f"/sitemap/1.xml?part={j}"), "unchecked", site.url("/sitemap-index/2/1.xml")) for j in range(2)]
    assert "nested over 1 deep" in records[0]["detail"]


def test_a_child_sitemap_that_is_not_http_is_excluded(tmp_path):
    path = tmp_path / "index.xml"
    path.write_text(index("file:///etc/passwd", "ftp://127.0.0.1/sitemap.xml", "relative/sitemap.xml"))
    code, records = check(str(path))
    assert code == 1  # the relative one is invalid: sitemaps.org asks for absolute URLs
    assert [(r["url"], r["outcome"], r["line"]) for r in records] == [
        ("file:///etc/passwd", "excluded", 3), ("ftp://127.0.0.1/sitemap.xml", "excluded", 4),
        ("relative/sitemap.xml", "invalid", 5)]
    assert "http and https sitemaps only" in records[0]["detail"]
    # Counted as a document's mailto: link is: skipped (pcheck does not check it as written), not excluded by -x.
    assert [r["error"] for r in records[:2]] == ["unsupported", "unsupported"]


def test_a_child_sitemap_that_answers_404_is_one_broken_record_for_its_url(site, tmp_path):
    missing = site.url("/status/404?sitemap")
    path = tmp_path / "index.xml"
    path.write_text(index(site.url("/sitemap/1.xml"), missing))
    code, records = check(str(path))
    assert code == 1
    [broken] = [r for r in records if r["outcome"] != "alive"]
    assert (broken["url"], broken["outcome"], broken["status"], broken["source"], broken["line"], broken["method"]) == (
        missing, "broken", 404, str(path), 4, "GET")
    assert broken["detail"] == "sitemap not read: HTTP 404"
    assert [r["url"] for r in records if r["outcome"] == "alive"] == [site.url("/ok?s=0")]


def test_exclude_private_refuses_to_fetch_a_sitemap_from_a_private_address(site):
    site.reset_stats()
    url = site.url("/sitemap/sitemap-2.xml")
    code, records = check(url, "--exclude-private")
    assert code == 0
    assert [(r["url"], r["outcome"], r["error"], r["source"]) for r in records] == [
        (url, "excluded", "private_address", "<args>")]
    assert not site.log  # no request was made


def test_without_a_fetch_a_child_sitemap_is_unchecked_and_counts_are_unknown(tmp_path):
    path = tmp_path / "index.xml"
    path.write_text(index("http://127.0.0.1:9/sitemap.xml"))
    sources = open_sources([str(path), "http://127.0.0.1:9/news-sitemap.xml"])
    assert [(s.kind, s.fmt) for s in sources] == [("document", "sitemap"), ("sitemap", "sitemap")]
    assert count_candidates(sources) is None
    items = list(iter_targets(sources))
    assert [(i.outcome, i.line) for i in items] == [(Outcome.UNCHECKED, 3), (Outcome.UNCHECKED, None)]
    assert all("could not be fetched" in i.detail for i in items)


def test_a_sitemap_file_gone_once_the_run_started_is_one_unchecked_record(tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_text(urlset("http://127.0.0.1/a"))
    sources = open_sources([str(path)])
    path.unlink()
    [record] = list(iter_targets(sources))
    assert (record.url, record.outcome, record.source) == (str(path), Outcome.UNCHECKED, str(path))
    assert record.detail.startswith("cannot read this file")


def test_fetch_body_refuses_a_body_over_its_cap_and_reports_failures_as_verdicts(site):
    config = Config(processes=1, timeout=5, retries=0)
    assert fetch_body(config, site.url("/bytes/100"), 100) == bytes(100)
    over = fetch_body(config, site.url("/bytes/101"), 100)
    assert isinstance(over, Verdict) and over.outcome is Outcome.UNCHECKED and "larger than 100 bytes" in over.detail
    moved = fetch_body(config, site.url("/redirect/2"), 100)
    assert moved == b"ok"
    slow = fetch_body(Config(processes=1, timeout=0.3), site.url("/hang"), 100)
    assert isinstance(slow, Verdict) and (slow.outcome, slow.error.value) == (Outcome.BROKEN, "timeout")
