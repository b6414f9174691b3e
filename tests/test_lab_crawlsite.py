"""The lab's sites to crawl (pcheck.lab.crawlsite): what a crawler's tests and benchmark rely on.

Every figure here (pages reachable, pages per depth, links in all, which links lead where) is one a
crawler test will assert against, so each is checked over HTTP on a started lab, with the stdlib's
HTML parser, as a crawler would see it.
"""

from __future__ import annotations

import collections
import urllib.robotparser
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import protego
import pytest
import requests

from pcheck.lab import Lab, crawlsite


class Links(HTMLParser):
    """The <a href> of a page: (href, rel, line); and whether a robots meta says nofollow."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, int]] = []
        self.meta_nofollow = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href") is not None:
            self.links.append((a["href"] or "", a.get("rel") or "", self.getpos()[0]))
        if tag == "meta" and (a.get("name") or "").lower() == "robots" and "nofollow" in (a.get("content") or ""):
            self.meta_nofollow = True


def parse(body: str) -> Links:
    parser = Links()
    parser.feed(body)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def site():
    """One lab of two hosts for the module: the crawl routes keep no state but their counters."""
    with Lab(hosts=2) as lab:
        yield lab


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


def get(http: requests.Session, url: str, **kw) -> requests.Response:  # type: ignore[no-untyped-def]
    return http.get(url, timeout=10, allow_redirects=False, **kw)


def crawl(http: requests.Session, start: str, honour_nofollow: bool = False) -> tuple[dict[str, int], int, set[str]]:
    """A minimal crawler: breadth first from `start`, following same-origin links outside /private/.

    Returns ({page URL answering 200: depth}, link occurrences on those pages, every distinct URL linked).
    A followed link that answers 404 (the missing pages) is no page; any other answer fails the test."""
    origin = urlsplit(start)[:2]
    depth, queue, links, linked = {start: 0}, collections.deque([start]), 0, set()
    while queue:
        url = queue.popleft()
        answer = get(http, url)
        assert answer.status_code in (200, 404), (url, answer.status_code)
        if answer.status_code == 404:
            del depth[url]
            continue
        page = parse(answer.text)
        links += len(page.links)
        for href, rel, _ in page.links:
            target = urljoin(url, href)
            linked.add(target)
            follow = not (honour_nofollow and (page.meta_nofollow or "nofollow" in rel))
            if follow and urlsplit(target)[:2] == origin and "/private/" not in target and target not in depth:
                depth[target] = depth[url] + 1
                queue.append(target)
    return depth, links, linked


@pytest.fixture(scope="module")
def tree255(site, http):
    return crawl(http, site.url("/tree/255/1.html"))


@pytest.fixture(scope="module")
def tree2047(site, http):
    """The benchmark tree, crawled once for the module (about 2 s)."""
    return crawl(http, site.url("/tree/2047/1.html"))


# -- the tree -------------------------------------------------------------------------------

def test_the_tree_of_255_has_exactly_its_255_pages_reachable_from_the_root(site, tree255):
    depth, _, _ = tree255
    assert set(depth) == {site.url(f"/tree/255/{i}.html") for i in range(1, 256)}


def test_pages_per_depth_double_so_7_pages_lie_within_depth_2_of_255(tree255):
    depth, _, _ = tree255
    per_depth = collections.Counter(depth.values())
    assert per_depth == {d: 2 ** d for d in range(8)}
    assert sum(1 for d in depth.values() if d <= 2) == 7
    assert all(d == i.bit_length() - 1 for url, d in depth.items() for i in [int(url.rsplit("/", 1)[1][:-5])])


def test_the_benchmark_tree_of_2047_holds_the_6644_links_to_2555_urls_its_docstring_claims(tree2047):
    depth, links, linked = tree2047
    assert len(depth) == 2047 and max(depth.values()) == 10
    assert links == crawlsite.tree_links(2047) == 6644
    assert len(linked) == 2555
    assert "6,644" in crawlsite.__doc__ and "2,555 distinct" in crawlsite.__doc__
    assert crawlsite.tree_links(255) == 820 and "n=255: 820 links" in crawlsite.__doc__


def test_a_page_links_its_children_then_its_parent_then_the_root(site, http):
    page = parse(get(http, site.url("/tree/255/5.html")).text)
    assert [href for href, _, _ in page.links] == ["10.html", "11.html", "/tree/255/2.html", "/tree/255/1.html"]
    root = parse(get(http, site.url("/tree/255/1.html")).text)
    assert [href for href, _, _ in root.links] == ["2.html", "3.html"]  # no parent, no link to itself
    leaf = parse(get(http, site.url("/tree/255/200.html")).text)
    assert [href for href, _, _ in leaf.links] == ["/tree/255/100.html", "/tree/255/1.html"]


def test_every_16th_page_and_only_those_carry_the_four_extra_links(site, http):
    second = site.base(1)
    page = parse(get(http, site.url("/tree/255/48.html")).text)
    assert [href for href, _, _ in page.links][-4:] == [
        "/tree/255/missing-48.html", f"{second}/status/404?from=48", f"{second}/tree/255/48.html",
        "/tree/255/private/48.html"]
    for i in (47, 49, 8):
        hrefs = [href for href, _, _ in parse(get(http, site.url(f"/tree/255/{i}.html")).text).links]
        assert not any("missing" in h or "private" in h or h.startswith("http") for h in hrefs), (i, hrefs)


def test_the_extra_links_answer_404_404_200_html_and_200_html(site, http):
    second = site.base(1)
    assert get(http, site.url("/tree/255/missing-48.html")).status_code == 404
    assert get(http, f"{second}/status/404?from=48").status_code == 404
    elsewhere = get(http, f"{second}/tree/255/48.html")
    private = get(http, site.url("/tree/255/private/48.html"))
    assert (elsewhere.status_code, private.status_code) == (200, 200)
    assert elsewhere.headers["Content-Type"] == private.headers["Content-Type"] == "text/html; charset=utf-8"
    # the second host's copy links further (a crawler following it would wander off): relative children
    assert [h for h, _, _ in parse(elsewhere.text).links][:2] == ["96.html", "97.html"]
    assert [h for h, _, _ in parse(private.text).links] == ["/tree/255/48.html", "/tree/255/1.html"]


def test_the_second_hosts_urls_are_few_and_named_so_a_scoped_crawl_sends_no_more(site, tree2047):
    _, _, linked = tree2047
    elsewhere = {u for u in linked if urlsplit(u).hostname == "127.0.0.2"}
    assert len(elsewhere) == 2 * (2047 // 16) == 254
    assert all(u.startswith(site.base(1) + "/status/404?from=") or u.startswith(site.base(1) + "/tree/2047/")
               for u in elsewhere)


def test_the_trees_folder_redirects_to_its_root_page_so_a_prefix_scoped_crawler_can_start_there(site, http):
    for path in ("/tree/255/", "/tree/255"):
        entry = get(http, site.url(path))
        assert (entry.status_code, entry.headers["Location"]) == (302, "/tree/255/1.html"), path
    assert get(http, site.url("/tree/0/")).status_code == 404


def test_every_crawl_answer_opts_in_to_linkcheckers_higher_rates(site, http):
    for path in ("/robots.txt", "/tree/255/", "/tree/255/3.html", "/tree/255/private/3.html", "/tree/255/missing-16.html",
                 "/trap/loop/a", "/trap/cal"):
        assert get(http, site.url(path)).headers.get("LinkChecker"), path


def test_pages_outside_the_tree_answer_404(site, http):
    for path in ("/tree/255/0.html", "/tree/255/256.html", "/tree/255/01.html", "/tree/255/5", "/tree/x/5.html",
                 "/tree/255/private/256.html", "/tree/255/other/5.html", "/trap/nothing"):
        assert get(http, site.url(path)).status_code == 404, path


def test_pages_are_utf8_html_and_head_answers_like_get_without_a_body(site, http):
    for path in ("/tree/255/16.html", "/tree/255/private/3.html", "/trap/index.html", "/trap/cal?month=2"):
        full, head = get(http, site.url(path)), http.head(site.url(path), timeout=10)
        assert full.headers["Content-Type"] == head.headers["Content-Type"] == "text/html; charset=utf-8", path
        assert full.content.startswith(b"<!doctype html>") and head.content == b"", path
        assert int(head.headers["Content-Length"]) == len(full.content), path


def test_links_stand_one_a_line_so_their_line_numbers_differ(site, http):
    for path in ("/tree/255/16.html", "/trap/index.html", "/trap/cal?month=0"):
        lines = [line for _, _, line in parse(get(http, site.url(path)).text).links]
        assert len(set(lines)) == len(lines) > 1, path


def test_nofollow_is_on_the_last_page_and_one_parent_link_and_changes_no_page_count(site, http):
    last, before = parse(get(http, site.url("/tree/255/255.html")).text), parse(get(http, site.url("/tree/255/254.html")).text)
    assert last.meta_nofollow and not before.meta_nofollow
    assert [(h, rel) for h, rel, _ in before.links if rel] == [("/tree/255/127.html", "nofollow")]
    depth, _, _ = crawl(http, site.url("/tree/255/1.html"), honour_nofollow=True)
    assert len(depth) == 255


# -- robots.txt ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [255, 2047, 100])
def test_robots_txt_disallows_every_trees_private_section_and_allows_the_rest(site, http, n):
    for host in (0, 1):
        answer = get(http, site.url("/robots.txt", host))
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
        rules = protego.Protego.parse(answer.text)
        assert not rules.can_fetch(site.url(f"/tree/{n}/private/16.html", host), "pcheck")
        for allowed in (f"/tree/{n}/1.html", f"/tree/{n}/16.html", f"/tree/{n}/missing-16.html", "/trap/index.html", "/ok"):
            assert rules.can_fetch(site.url(allowed, host), "pcheck"), allowed


@pytest.mark.parametrize("n", [255, 2047])
def test_a_parser_without_wildcards_still_keeps_out_of_the_private_sections_of_2_to_the_k_minus_1(site, http, n):
    rules = urllib.robotparser.RobotFileParser()
    rules.parse(get(http, site.url("/robots.txt")).text.splitlines())
    assert not rules.can_fetch("pcheck", site.url(f"/tree/{n}/private/16.html"))
    assert rules.can_fetch("pcheck", site.url(f"/tree/{n}/16.html"))


# -- traps -----------------------------------------------------------------------------------

def test_the_trap_index_links_every_trap(site, http):
    hrefs = [h for h, _, _ in parse(get(http, site.url("/trap/index.html")).text).links]
    assert hrefs == ["/trap/loop/a", "/trap/self.html", "/trap/cal?month=0"]


def test_the_loop_pages_redirect_to_each_other_for_ever(site, http):
    a, b = get(http, site.url("/trap/loop/a")), get(http, site.url("/trap/loop/b"))
    assert (a.status_code, a.headers["Location"]) == (302, "/trap/loop/b")
    assert (b.status_code, b.headers["Location"]) == (302, "/trap/loop/a")
    with pytest.raises(requests.TooManyRedirects):
        http.get(site.url("/trap/loop/a"), timeout=10)


def test_the_self_page_links_to_itself_10000_times(site, http):
    page = parse(get(http, site.url("/trap/self.html")).text)
    assert len(page.links) == crawlsite.SELF_LINKS == 10_000
    assert {urljoin(site.url("/trap/self.html"), h) for h, _, _ in page.links} == {site.url("/trap/self.html")}


@pytest.mark.parametrize("month, before, after", [("7", 6, 8), ("-1", -2, 0), ("", -1, 1)])
def test_the_calendar_of_month_n_links_n_minus_1_and_n_plus_1(site, http, month, before, after):
    query = f"?month={month}" if month else ""
    hrefs = [h for h, _, _ in parse(get(http, site.url(f"/trap/cal{query}")).text).links]
    assert hrefs == [f"/trap/cal?month={before}", f"/trap/cal?month={after}"]


def test_a_calendar_month_that_is_not_a_number_answers_404(site, http):
    for month in ("x", "--1", "1.5", "99999999999"):
        assert get(http, site.url(f"/trap/cal?month={month}")).status_code == 404, month


# -- counters --------------------------------------------------------------------------------

def test_the_crawl_counters_count_requests_per_address_method_and_kind_and_reset_with_the_stats():
    with Lab(hosts=2) as lab, requests.Session() as s:
        s.get(lab.url("/robots.txt"), timeout=10)
        s.get(lab.url("/tree/15/3.html"), timeout=10)
        s.head(lab.url("/tree/15/3.html"), timeout=10)
        s.get(lab.url("/tree/15/private/3.html", 1), timeout=10)
        s.get(lab.url("/tree/15/missing-3.html"), timeout=10)
        counts = s.get(lab.url("/__lab/crawl"), timeout=10).json()
        assert counts == {"127.0.0.1": {"GET robots": 1, "GET tree": 1, "HEAD tree": 1, "GET missing": 1},
                          "127.0.0.2": {"GET private": 1}}
        lab.reset_stats()
        assert s.get(lab.url("/__lab/crawl"), timeout=10).json() == {"127.0.0.1": {}, "127.0.0.2": {}}
