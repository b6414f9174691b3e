"""The crawl's frontier (run/crawl.py) and page reading (inputs/documents.read_page_links), without a network:
which links of a page are followed, which are only checked, and why."""

from __future__ import annotations

import itertools

from pcheck.config import Config
from pcheck.inputs.documents import PageLinks, read_page_links
from pcheck.models import Outcome, Target, Verdict
from pcheck.run.crawl import CrawlPlan, Frontier
from pcheck.run.ledger import Ledger

START = "https://site.test/docs/"


class Robots:
    """robots.txt that disallows what holds /private/, and says nothing else."""

    said: list[str] = []

    def refusal(self, url: str) -> str | None:
        return "disallowed by https://site.test/robots.txt" if "/private/" in url else None


def _frontier(**plan) -> tuple[Frontier, list]:
    frontier = Frontier(CrawlPlan((START,), **plan), Config(), Robots())
    items = frontier.items(Ledger())
    first = next(items)
    assert isinstance(first, Target) and first.page and first.key == START
    return frontier, items


def _page(frontier: Frontier, key: str, html: bytes, final_url: str | None = None) -> list:
    """The items a page's verdict adds to the input."""
    found = read_page_links(html, "text/html; charset=utf-8")
    before = len(frontier.queue)
    frontier.on_page(key, Verdict(Outcome.ALIVE, 200, final_url=final_url or key, page=found))
    return list(frontier.queue)[before:]


def _followed(items: list) -> dict[str, bool]:
    return {i.url: bool(getattr(i, "page", False)) for i in items}


def test_links_of_the_site_are_followed_and_others_only_checked():
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<a href="guide.html">g</a>\n<a href="https://other.test/x">o</a>\n'
                                   b'<a href="/logo.png">l</a> <a href="http://site.test/docs/">http</a>')
    assert _followed(items) == {"https://site.test/docs/guide.html": True, "https://other.test/x": False,
                                "https://site.test/logo.png": False,  # not a page: checked, not fetched
                                "http://site.test/docs/": False}  # another origin (scheme)
    assert {(i.source, i.line) for i in items} == {(START, 1), (START, 2), (START, 3)}


def test_nofollow_on_a_link_or_in_the_pages_meta_stops_following_but_the_link_is_checked():
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<a href="a.html" rel="external nofollow">a</a> <a href="b.html">b</a>')
    assert _followed(items) == {START + "a.html": False, START + "b.html": True}
    items = _page(frontier, START + "b.html", b'<meta name="robots" content="noindex,nofollow"><a href="c.html">c</a>')
    assert _followed(items) == {START + "c.html": False}


def test_a_page_disallowed_by_robots_txt_is_an_excluded_record_saying_so():
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<a href="private/x.html">x</a>')
    assert [(i.outcome, i.detail, i.line, i.column) for i in items] == [
        (Outcome.EXCLUDED, "disallowed by https://site.test/robots.txt", 1, 10)]


def test_relative_links_resolve_against_where_the_page_ended_and_its_base_href():
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<a href="a.html">a</a>', final_url="https://site.test/docs/index/")
    assert [i.url for i in items] == ["https://site.test/docs/index/a.html"]
    assert items[0].link == "a.html"  # the record says the link as written
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<base href="/v2/"><a href="a.html">a</a>')
    assert "https://site.test/v2/a.html" in [i.url for i in items]


def test_a_page_is_followed_once_however_many_pages_link_it():
    frontier, _ = _frontier()
    first = _page(frontier, START, b'<a href="a.html">1</a>\n<a href="a.html">2</a>')
    again = _page(frontier, START + "x.html", b'<a href="/docs/a.html">3</a>')  # not a page the frontier asked for
    assert [bool(i.page) for i in first] == [True, False]
    assert again == []  # x.html was never a page to follow: what it says is not the crawl's
    frontier.depth[START + "x.html"] = 1
    assert [bool(i.page) for i in _page(frontier, START + "x.html", b'<a href="/docs/a.html">3</a>')] == [False]


def test_the_input_says_nothing_yet_while_a_page_is_on_its_way_and_ends_when_none_is():
    from pcheck.run.distributor import NOTHING_YET

    frontier, items = _frontier()
    assert next(items) is NOTHING_YET  # the start page is on its way
    frontier.on_page(START, Verdict(Outcome.BROKEN, 404, final_url=START))  # no links: nothing more
    assert list(items) == []


def test_a_page_that_cannot_be_parsed_still_gives_what_was_read_and_never_raises():
    hostile = (b"<a href='a.html'>a</a><!DOCTYPE x [ <!ENTITY e 'x'> ]>\xff\xfe<a href=b.html>" * 50
               + b"<![CDATA[ <a href='c'> ]]><a href=\"" + b"x" * 100_000)
    found = read_page_links(hostile, "text/html; charset=bogus-charset")
    assert isinstance(found, PageLinks) and found.links[0][:2] == ("a.html", 1)


def test_the_content_types_charset_decides_how_the_page_is_read():
    page = '<a href="caf\u00e9.html">c</a>'.encode("latin-1")
    assert read_page_links(page, "text/html; charset=ISO-8859-1").links[0][0] == "caf\u00e9.html"
    assert read_page_links(page, "text/html; charset=rot13").links[0][0] != "caf\u00e9.html"  # not a text codec


def test_a_sitemap_seed_outside_the_scope_is_checked_not_followed():
    frontier = Frontier(CrawlPlan((START,)), Config(), Robots())
    seeds = [Target("https://other.test/a", "https://other.test/a", "other.test", "sitemap.xml", 3),
             Target(START + "b.html", START + "b.html", "site.test", "sitemap.xml", 4)]
    from pcheck.run.distributor import NOTHING_YET

    items = list(itertools.takewhile(lambda item: item is not NOTHING_YET, frontier.items(Ledger(), seeds=seeds)))
    assert {i.url: i.page for i in items} == {START: True, "https://other.test/a": False, START + "b.html": True}


def test_robots_txt_answering_404_allows_all_and_one_that_cannot_be_read_disallows_its_origin(monkeypatch):
    """RFC 9309: no robots.txt (4xx) allows every page; an unreachable one (5xx, no answer) none, and it is said."""
    import pcheck.check.fetch as fetch
    from pcheck.run.robots import Robots as RealRobots

    asked = []

    def fetch_body(config, url, cap):  # type: ignore[no-untyped-def]
        asked.append(url)
        status = 404 if "allows" in url else 503
        return Verdict(Outcome.BROKEN, status, final_url=url)

    monkeypatch.setattr(fetch, "fetch_body", fetch_body)
    robots = RealRobots(Config())
    assert robots.refusal("https://allows.test/a") is None and robots.refusal("https://allows.test/b") is None
    said = "https://down.test/robots.txt could not be read (HTTP 503): its pages are not followed (RFC 9309)"
    assert robots.refusal("https://down.test/a") == said and robots.refusal("https://down.test/b") == said
    assert asked == ["https://allows.test/robots.txt", "https://down.test/robots.txt"]  # once per origin
    assert robots.said == [said]


def test_robots_txt_rules_are_read_as_scrapy_reads_them(monkeypatch):
    import pcheck.check.fetch as fetch
    from pcheck.run.robots import Robots as RealRobots

    rules = {"a.test": b"User-agent: *\nDisallow: /*/private/\nAllow: /docs/private/ok$\n",
             "b.test": b"User-agent: *\nDisallow: /\n\nUser-agent: pcheck\nDisallow: /no-pcheck/\n"}
    monkeypatch.setattr(fetch, "fetch_body", lambda config, url, cap: rules[url.split("/")[2]])
    robots = RealRobots(Config())
    assert robots.refusal("https://a.test/docs/private/x") == "disallowed by https://a.test/robots.txt"  # a wildcard
    assert robots.refusal("https://a.test/docs/private/ok") is None  # the longest match wins
    assert robots.refusal("https://a.test/docs/public") is None
    # A group naming pcheck is the one pcheck obeys (RFC 9309), not `*`'s.
    assert robots.refusal("https://b.test/no-pcheck/x") is not None and robots.refusal("https://b.test/docs") is None


def test_a_crawled_pages_anchors_judge_the_fragments_of_links_to_it_and_it_is_fetched_once():
    from pcheck.models import PageAnchors

    ledger = Ledger(fragments=True)
    told = []
    ledger.on_page = lambda key, verdict: told.append(key)
    page = "https://site.test/docs/a.html"
    task = ledger.admit(Target(page, page, "site.test", START, 1, page=True))
    assert ledger.admit(Target(page + "#b", page, "site.test", START, 2)) is None  # joins the page's fetch
    assert ledger.admit(Target(page + "#zz", page, "site.test", START, 3)) is None
    found = PageLinks((), False, None, frozenset({"a", "b"}))
    verdict = Verdict(Outcome.ALIVE, 200, final_url=page, anchors=PageAnchors(frozenset({"a", "b"})), page=found)
    results = {r.url: r for r in ledger.resolve(task, verdict)}
    assert told == [page] and len(ledger.tasks) == 0
    assert results[page + "#b"].outcome is Outcome.ALIVE
    assert (results[page + "#zz"].outcome, results[page + "#zz"].detail) == (Outcome.BROKEN, "no #zz in the page")
    later = ledger.admit(Target(page + "#a", page, "site.test", START, 4))  # after: answered by the page, no fetch
    assert later.outcome is Outcome.ALIVE


def test_a_page_that_redirected_off_the_site_is_checked_but_its_links_are_not_read():
    frontier, _ = _frontier()
    items = _page(frontier, START, b'<a href="go.html">go</a>')
    assert _followed(items) == {START + "go.html": True}
    assert _page(frontier, START + "go.html", b'<a href="/elsewhere">x</a>', final_url="https://other.test/") == []


def test_a_start_page_that_moved_to_https_brings_its_new_origin_into_the_scope():
    frontier = Frontier(CrawlPlan(("http://site.test/",)), Config(), Robots())
    next(frontier.items(Ledger()))
    items = _page(frontier, "http://site.test/", b'<a href="/a.html">a</a>', final_url="https://site.test/")
    assert _followed(items) == {"https://site.test/a.html": True}


def test_a_journal_with_a_torn_last_line_is_read_and_a_strangers_file_refused(tmp_path):
    import pytest

    from pcheck.errors import StoreError
    from pcheck.store.crawljournal import Journal, read_journal

    path = str(tmp_path / "r.jsonl.pages")
    journal = Journal(path)
    found = read_page_links(b'<a href="a.html">a</a>', "text/html")
    journal.add(START, 0, Verdict(Outcome.ALIVE, 200, final_url=START), found)
    journal.add(START + "a.html", 1, Verdict(Outcome.BROKEN, 404, final_url=START + "a.html"), None)
    journal.close(finished=False)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"key": "https://site.test/docs/b.ht')  # a kill mid-write
    pages = read_journal(path)
    assert [(p.key, p.depth, p.verdict.status) for p in pages] == [(START, 0, 200), (START + "a.html", 1, 404)]
    assert PageLinks(*pages[0].links) == found and pages[1].links is None
    (tmp_path / "other").write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
    with pytest.raises(StoreError, match="not a pcheck crawl journal"):
        read_journal(str(tmp_path / "other"))
    assert read_journal(str(tmp_path / "none")) == []


def test_the_page_a_start_url_redirects_to_is_read_once_not_fetched_again_when_linked():
    frontier, _ = _frontier()
    _page(frontier, START, b'<a href="index.html">self</a> <a href="b.html">b</a>', final_url=START + "index.html")
    assert {i.url: bool(i.page) for i in frontier.queue} == {START + "index.html": False, START + "b.html": True}
