"""--include-fragments on http(s) links: each page fetched once with GET, each #fragment judged against its anchors."""

from __future__ import annotations

import json
import time

import pytest

from pcheck.anchors import fragment_of, has_anchor
from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.config import Config
from pcheck.models import ErrorKind, Outcome, PageAnchors, Verdict
from pcheck.run.ledger import Ledger, judged
from pcheck.urls import normalise
from conftest import run_pcheck
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


def records(proc) -> list[dict]:
    return [r for r in map(json.loads, proc.stdout.splitlines()) if "url" in r]


def by_link(proc, base: str) -> dict[str, dict]:
    return {r["url"][len(base):]: r for r in records(proc)}


def test_a_page_is_fetched_once_with_get_and_every_fragment_pointing_at_it_is_judged(lab, tmp_path):
    page = lab.url("page/intro,usage,n:legacy")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({page}#usage) [b]({page}#nowhere)\n[c]({page}#legacy) [d]({page}#:~:text=intro)\n"
                   f"[e]({page}) [f]({page}#usage) [g]({page}#%75sage)\n")
    proc = run_pcheck("check", str(doc), "--include-fragments", *FAST, "--format", "jsonl")
    got = [(r["url"][len(page):], r["outcome"], r["error"]) for r in records(proc)]
    assert sorted(got) == sorted([
        ("#usage", "alive", None), ("#nowhere", "broken", "missing_fragment"), ("#legacy", "alive", None),
        ("#:~:text=intro", "alive", None), ("", "alive", None), ("#usage", "alive", None),
        ("#%75sage", "alive", None)])
    assert proc.returncode == 1  # the missing fragment fails the run
    asked = [(entry.method, entry.target) for entry in lab.log if entry.target.startswith("/page/")]
    assert asked == [("GET", "/page/intro,usage,n:legacy")]
    missing = next(r for r in records(proc) if r["url"].endswith("#nowhere"))
    assert missing["detail"] == "no #nowhere in the page" and missing["line"] == 1 and missing["column"] is not None


def test_without_include_fragments_a_page_is_checked_with_head_and_fragments_are_not_judged(lab, tmp_path):
    page = lab.url("page/intro")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({page}#intro) [b]({page}#nowhere)\n")
    proc = run_pcheck("check", str(doc), *FAST, "--format", "jsonl")
    assert [r["outcome"] for r in records(proc)] == ["alive", "alive"]
    assert [entry.method for entry in lab.log] == ["HEAD"]


def test_a_fragment_of_a_page_that_is_not_html_is_alive_and_says_it_was_not_checked(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({lab.url('ok')}#top)\n")
    proc = run_pcheck("check", str(doc), "--include-fragments", *FAST, "--format", "jsonl")
    (record,) = records(proc)
    assert record["outcome"] == "alive" and "not an HTML page (text/plain)" in record["detail"]
    assert proc.returncode == 0


def test_a_fragment_of_a_missing_page_is_the_page_s_404_not_a_missing_fragment(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({lab.url('status/404')}#top)\n")
    (record,) = records(run_pcheck("check", str(doc), "--include-fragments", *FAST, "--format", "jsonl"))
    assert (record["outcome"], record["status"], record["error"]) == ("broken", 404, None)


def test_a_fragment_after_redirects_is_looked_up_in_the_final_page(lab, tmp_path):
    target = "/page/there"
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({lab.url('redirect-to?url=' + target)}#there) [b]({lab.url('redirect-to?url=' + target)}#gone)\n")
    got = sorted((r["url"].rpartition("#")[2], r["outcome"]) for r in records(
        run_pcheck("check", str(doc), "--include-fragments", *FAST, "--format", "jsonl")))
    assert got == [("gone", "broken"), ("there", "alive")]


def test_github_user_content_ids_answer_the_fragment_github_links_use(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({lab.url('page/user-content-install')}#install)\n")
    (record,) = records(run_pcheck("check", str(doc), "--include-fragments", *FAST, "--format", "jsonl"))
    assert record["outcome"] == "alive"


def test_the_cache_does_not_answer_a_fragment_it_never_saw(lab, tmp_path):
    page = lab.url("page/intro")
    doc = tmp_path / "doc.md"
    doc.write_text(f"[a]({page})\n")
    cache = str(tmp_path / "cache.sqlite")
    first = run_pcheck("check", str(doc), "--cache", "--cache-path", cache, "--include-fragments", *FAST, "--format", "jsonl")
    assert [r["outcome"] for r in records(first)] == ["alive"]
    doc.write_text(f"[a]({page}) [b]({page}#nowhere)\n")
    second = run_pcheck("check", str(doc), "--cache", "--cache-path", cache, "--include-fragments", *FAST, "--format", "jsonl")
    got = sorted((r["url"][len(page):], r["outcome"], (r["detail"] or "").startswith("from cache")) for r in records(second))
    assert got == [("", "alive", True), ("#nowhere", "broken", False)]


def test_the_fragments_of_a_page_given_with_base_url_are_judged_too(lab, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("[a](page/intro#intro) [b](page/intro#nope)\n")
    proc = run_pcheck("check", str(doc), "--include-fragments", "--base-url", lab.url("") , *FAST, "--format", "jsonl")
    got = sorted((r["link"], r["outcome"], r["error"]) for r in records(proc))
    assert got == [("page/intro#intro", "alive", None), ("page/intro#nope", "broken", "missing_fragment")]


# -- the checker and the ledger, one piece at a time -------------------------------------------------------

@pytest.fixture
def checker():
    transports = []

    def make(**options) -> Checker:
        transport = Transport(pool_maxsize=4, verify=True)
        transports.append(transport)
        return Checker(Config(**{"processes": 1, "timeout": 2.0, "retries": 0, **options}), transport)

    yield make
    for transport in transports:
        transport.close()


def test_a_page_larger_than_the_cap_is_read_only_to_the_cap_and_a_fragment_past_it_is_not_judged(lab, checker,
                                                                                                   monkeypatch):
    monkeypatch.setattr("pcheck.check.checker.MAX_PAGE_BYTES", 4096)
    url = lab.url("big-page/1000000/early")
    verdict = checker().check(url, anchors=True)
    assert verdict.outcome is Outcome.ALIVE and verdict.anchors is not None
    assert not verdict.anchors.complete and verdict.anchors.ids == frozenset()
    later = judged(verdict, url + "#early")
    assert later.outcome is Outcome.ALIVE and "not judged" in later.detail
    small = checker().check(lab.url("big-page/100/early"), anchors=True)
    assert small.anchors == PageAnchors(frozenset({"early"}), complete=True)


def test_a_page_whose_body_never_ends_is_alive_read_in_part_within_the_deadline(lab, checker):
    started = time.monotonic()
    verdict = checker(timeout=0.5).check(lab.url("drip-body"), anchors=True)
    # issue 32: the status decides alive; the body, cut at its own bound, only leaves fragments not judged
    assert verdict.outcome is Outcome.ALIVE and verdict.error is None and not verdict.anchors.complete
    assert time.monotonic() - started < 3


def test_a_plain_check_of_a_page_brings_back_no_anchors(lab, checker):
    verdict = checker().check(lab.url("page/a"))
    assert verdict.method == "HEAD" and verdict.anchors is None


def test_a_plain_occurrence_joins_a_waiting_anchored_fetch_and_a_later_fragment_reuses_its_verdict():
    ledger = Ledger(fragments=True)
    key, host = normalise("http://a.test/p")

    def target(url):
        from pcheck.models import Target
        return Target(url, key, host, "doc.md", 1)

    first = ledger.admit(target("http://a.test/p#x"))
    assert isinstance(first, int) and ledger.tasks[first].anchors
    assert ledger.admit(target("http://a.test/p")) is None  # joined: one fetch serves both
    verdict = Verdict(Outcome.ALIVE, 200, anchors=PageAnchors(frozenset({"x"})))
    assert [r.outcome for r in ledger.resolve(first, verdict)] == [Outcome.ALIVE, Outcome.ALIVE]
    later = ledger.admit(target("http://a.test/p#y"))
    assert later.outcome is Outcome.BROKEN and later.error is ErrorKind.MISSING_FRAGMENT


def test_fragments_are_decoded_and_text_fragments_are_not_judged():
    assert fragment_of("http://a.test/p#%C3%BCber") == "über"
    assert fragment_of("http://a.test/p#:~:text=x") is None and fragment_of("http://a.test/p") is None
    assert fragment_of("http://a.test/p#") is None
    assert has_anchor({"user-content-x"}, "x") and not has_anchor({"x"}, "X")


class _FakeResponse:
    """A body of `size` bytes produced as it is read: what a socket gives, without holding it."""

    def __init__(self, size: int, head: bytes, content_type: str = "text/html") -> None:
        self.headers = {"Content-Type": content_type}
        self.left, self.head = size, head

    def read(self, amt: int, decode_content: bool = False) -> bytes:
        if self.head:
            chunk, self.head = self.head[:amt], self.head[amt:]
        else:
            chunk = b" " * min(amt, self.left)
        self.left -= len(chunk)
        return chunk if self.left >= 0 else chunk[: len(chunk) + self.left]


def test_a_page_read_for_anchors_is_parsed_as_it_arrives_never_held_whole():
    import tracemalloc

    from pcheck.anchors import MAX_PAGE_BYTES, AnchorReader
    from pcheck.check.pages import read_page

    head = '<h1 id="top">T</h1><p id="über">'.encode()
    tracemalloc.start()
    try:
        page = read_page(_FakeResponse(MAX_PAGE_BYTES * 2, head), MAX_PAGE_BYTES, AnchorReader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not page.complete and page.body == b""
    assert page.sink.result() == (frozenset({"top", "über"}), None)
    assert peak < MAX_PAGE_BYTES // 4, f"{peak:,} bytes held to read a {MAX_PAGE_BYTES:,}-byte page"


def test_anchors_split_across_pieces_and_multibyte_characters_are_found():
    from pcheck.anchors import AnchorReader

    reader = AnchorReader("text/html; charset=utf-8", "identity")
    data = '<h2 id="größe">x</h2><a name="n">'.encode()
    for i in range(len(data)):  # one byte at a time: every tag and character split
        reader.feed(data[i:i + 1])
    assert reader.result() == (frozenset({"größe", "n"}), None)
    latin = AnchorReader('text/html; charset="iso-8859-1"', "identity")
    latin.feed('<p id="café">'.encode("latin-1"))
    assert latin.result() == (frozenset({"café"}), None)
    assert AnchorReader("application/pdf", "identity").result()[0] is None
    assert "gzip-encoded" in AnchorReader("text/html", "gzip").result()[1]


def test_a_page_with_more_anchors_than_are_kept_leaves_the_rest_unjudged(monkeypatch):
    from pcheck.anchors import AnchorReader

    monkeypatch.setattr("pcheck.anchors.MAX_PAGE_ANCHORS", 3)
    reader = AnchorReader("text/html", "identity")
    reader.feed(b"".join(b'<p id="a%d">' % i for i in range(10)))
    ids, _ = reader.result()
    assert len(ids) == 3 and reader.capped
    verdict = Verdict(Outcome.ALIVE, 200, anchors=PageAnchors(ids, complete=not reader.capped))
    assert judged(verdict, "http://a.test/p#a9").outcome is Outcome.ALIVE  # not judged: said in its detail
    assert "not judged" in judged(verdict, "http://a.test/p#a9").detail

