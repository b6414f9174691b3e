"""`pcheck crawl`: a site's pages followed from its start URLs, every link of every page checked once per run.

  start URLs, --sitemap's URLs --> pages to follow (Targets with `page`) --> the distributor: each page
  fetched and read in a worker --> ledger.on_page: its verdict and links --> the frontier: each link a
  Target (source: the page, its line and column), itself a page to follow when it is in scope, allowed
  by robots.txt, not nofollow, within --max-depth and --max-pages --> back into the distributor's input

The frontier is the distributor's input: a live one, that says NOTHING_YET while pages are on their way
and ends when none is left. Each URL is checked once, as every run does (the ledger); a page is fetched
once (its own slot in the ledger), and a plain link to it takes its verdict. What a bound left uncrawled
is counted (`Bounds`) and said. A jsonl report's journal (store/crawljournal.py) lets a killed crawl
resume without fetching a page twice.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from pcheck.config import Config
from pcheck.inputs.documents import PageLinks
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.links import LinkBase, link_item
from pcheck.inputs.targets import parse_url
from pcheck.models import ARGS_SOURCE, CheckResult, Outcome, Target, Verdict
from pcheck.run.distributor import NOTHING_YET
from pcheck.run.ledger import remember_page
from pcheck.urls import normalise, origin

from pcheck.store.crawljournal import journal_path

if TYPE_CHECKING:
    from pcheck.run.distributor import Distributor
    from pcheck.run.ledger import Ledger
    from pcheck.store.cache import VerdictCache
    from pcheck.run.robots import Robots
    from pcheck.store.crawljournal import Journal, JournaledPage
    from pcheck.store.resume import ResumeState

#: Paths that name no HTML page: a link to one is checked, never fetched to be followed.
NOT_PAGES = frozenset("""7z apk avi bin bmp bz2 css csv dmg doc docx eot epub exe flac gif gz ico iso jar jpeg jpg js
json m4a map mjs mov mp3 mp4 mpeg ogg otf pdf png ppt pptx rar rss svg tar tgz tif tiff ttf txt wasm wav webm
webp woff woff2 xls xlsx xml xz zip""".split())


@dataclass(frozen=True)
class CrawlPlan:
    """What to crawl: the start URLs, the scope (None: the start URLs' origins), the bounds, robots.txt."""

    starts: tuple[str, ...]
    scope: tuple[str, ...] = ()  #: --scope REGEX: a page is in scope when one matches its URL
    max_depth: int | None = None
    max_pages: int | None = None
    robots: bool = True
    #: --sitemap: more start pages, read from these sitemaps' URLs.
    sitemaps: tuple[str, ...] = ()
    #: --dump: the pages only (their links are not checked), each reported as its check.
    dump: bool = False


@dataclass
class Bounds:
    """What the crawl did and what its bounds left: pages fetched, pages found but not crawled (by bound)."""

    fetched: int = 0
    beyond_depth: set[str] = dataclasses.field(default_factory=set)
    beyond_pages: set[str] = dataclasses.field(default_factory=set)
    disallowed: int = 0

    def said(self, plan: CrawlPlan, crawled: set[str]) -> list[str]:
        """The crawl's own lines for the report: pages crawled, and each bound that stopped it."""
        lines = [f"crawled {self.fetched} page{'s' * (self.fetched != 1)}"]
        depth, pages = self.beyond_depth - crawled, self.beyond_pages - crawled
        if depth:
            lines.append(f"stopped at --max-depth {plan.max_depth}: {len(depth)} pages found but not crawled")
        if pages:
            lines.append(f"stopped at --max-pages {plan.max_pages}: {len(pages)} pages found but not crawled")
        if self.disallowed:
            lines.append(f"{self.disallowed} links not checked: robots.txt disallows them (--no-robots checks them)")
        return lines


class Frontier:
    """The crawl's live input and its bookkeeping; `on_page` is the ledger's callback."""

    def __init__(self, plan: CrawlPlan, config: Config, robots: Robots | None, journal: Journal | None = None,
                 resume: ResumeState | None = None) -> None:
        self.plan, self.config, self.robots, self.journal, self.resume = plan, config, robots, journal, resume
        self.scope = [re.compile(p) for p in plan.scope]
        self.origins = {_origin(url) for url in plan.starts}
        self.queue: collections.deque[Target | CheckResult] = collections.deque()
        self.depth: dict[str, int] = {}  # each page to follow, by key: its depth (the start pages: 0)
        self.told: set[str] = set()  # the pages whose verdict has come (or a journal held)
        self.outstanding = 0  # pages handed to the distributor, their verdict not come yet
        self.bounds = Bounds()

    # -- the input -------------------------------------------------------------------------------------------
    def items(self, ledger: Ledger, replayed: Iterable[JournaledPage] = (),
              seeds: Iterable[Target | CheckResult] = ()) -> Iterator[Target | CheckResult | object]:
        """Every item of the crawl, NOTHING_YET while pages are on their way; ends when none is left."""
        for page in replayed:  # a resumed crawl: what its journal holds is not fetched again
            remember_page(ledger, page.key, page.verdict)
            self.depth.setdefault(page.key, page.depth)
            self.told.add(page.key)
            if page.links is not None:
                self._expand(page.key, page.depth, page.verdict, PageLinks(*page.links))
        for url in self.plan.starts:
            self._add(parse_url(url, ARGS_SOURCE, None), -1, follow=True, start=True)
        for item in seeds:  # --sitemap's URLs: start pages too, when in scope and allowed
            self._add(item, -1, follow=True)
        while True:
            while self.queue:
                item = self.queue.popleft()
                if self.resume is not None and not any(True for _ in self.resume.skip_finished([item])):
                    continue  # its record is in the report already
                if isinstance(item, Target) and item.page:
                    if item.key in self.told:  # a journal's page: its verdict answers, no fetch
                        item = dataclasses.replace(item, page=False)
                    else:
                        self.outstanding += 1
                yield item
            if self.outstanding <= 0:
                return
            yield NOTHING_YET

    # -- the ledger's callback ---------------------------------------------------------------------------------
    def on_page(self, key: str, verdict: Verdict) -> None:
        """A page's verdict: its links, if it was read, join the input."""
        if key in self.told or key not in self.depth:
            return
        self.told.add(key)
        self.outstanding -= 1
        depth = self.depth[key]
        if self.journal is not None:
            self.journal.add(key, depth, dataclasses.replace(verdict, page=None, anchors=None), verdict.page)
        if isinstance(verdict.page, PageLinks):
            self.bounds.fetched += 1
            final = verdict.final_url or key
            if depth == 0 and not self.scope:
                self.origins.add(_origin(final))  # a start page that moved (http to https, to www.): its site too
            if final != key:  # the page it moved to is read now: a link to it is a plain check, not another fetch
                self.depth.setdefault(_key_of(final), depth)
            if self.in_scope(final):  # a page that redirected off the site is not the site's: its links are not read
                self._expand(key, depth, verdict, verdict.page)

    def _expand(self, key: str, depth: int, verdict: Verdict, found: PageLinks) -> None:
        final = verdict.final_url or key
        base = LinkBase(base_url=urljoin(final, found.base) if found.base else final,
                        fragments=self.config.include_fragments)
        anchors = set(found.anchors)
        for link, line, column, nofollow in found.links:
            item = link_item(link, key, line, column, base, lambda: anchors)
            self._add(item, depth, follow=not (nofollow or found.nofollow))

    def _add(self, item: Target | CheckResult, parent_depth: int, follow: bool, start: bool = False) -> None:
        """One link found (or a start URL): filtered as every run's are, then a page to follow or a plain check."""
        for kept in filter_targets([item], self.config):
            if isinstance(kept, Target):
                kept = self._as_page(kept, parent_depth + 1, follow, start)
            if not self.plan.dump or (isinstance(kept, Target) and kept.page):  # --dump: the pages alone
                self.queue.append(kept)

    def _as_page(self, target: Target, depth: int, follow: bool, start: bool) -> Target | CheckResult:
        """The target as a page to follow, a plain check, or an `excluded` record (robots.txt)."""
        key = target.key
        in_scope = start or self.in_scope(key)
        if in_scope and not start and self.robots is not None:
            refused = self.robots.refusal(key)
            if refused is not None:
                self.bounds.disallowed += 1
                return CheckResult.of(target.url, target.source, target.line, Verdict(Outcome.EXCLUDED, detail=refused),
                                      key, target.host, target.column, target.link)
        page = in_scope and (follow or start) and key not in self.depth and _may_be_a_page(key)
        if page and self.plan.max_depth is not None and depth > self.plan.max_depth:
            self.bounds.beyond_depth.add(key)
            page = False
        elif page and self.plan.max_pages is not None and len(self.depth) >= self.plan.max_pages:
            self.bounds.beyond_pages.add(key)
            page = False
        if page:
            self.depth[key] = depth
            return dataclasses.replace(target, page=True)
        return target

    def in_scope(self, key: str) -> bool:
        if self.scope:
            return any(p.search(key) for p in self.scope)
        return _origin(key) in self.origins

    def said(self) -> list[str]:
        return self.bounds.said(self.plan, set(self.depth)) + (self.robots.said if self.robots is not None else [])


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """urls.origin, asked of every link a crawl reads: worked out once per site (scheme://authority)."""
    return _origin_of("/".join(url.split("/", 3)[:3]))


_origin_of = functools.lru_cache(maxsize=4096)(origin)


def _key_of(url: str) -> str:
    try:
        return normalise(url)[0]
    except ValueError:
        return url


def _may_be_a_page(key: str) -> bool:
    """Not a path that names a file of another kind (.pdf, .png...): such a link is checked, not followed."""
    extension = posixpath.splitext(urlsplit(key).path)[1].lower().lstrip(".")
    return extension not in NOT_PAGES


class Crawler:
    """A crawl as a run's input (the session's Plan holds it): robots.txt, the journal beside a jsonl report,
    the frontier wired to the distributor's ledger, and what the crawl says of itself at the end.

    The journal is read and opened here, when the crawl is made, before the session opens the report: a
    journal that cannot be read or written (a folder in its place, a full disk) stops the run while the
    report is still as it was."""

    def __init__(self, plan: CrawlPlan, config: Config, report: str | None = None, resume: bool = False) -> None:
        from pcheck.store.crawljournal import Journal, read_journal

        self.plan, self.config = plan, config
        path = journal_path(report) if report else None  # beside a jsonl report: the one --resume carries on
        self.replayed = read_journal(path) if resume and path else []
        self.journal = Journal(path, carry_on=resume) if path else None
        self.frontier: Frontier | None = None

    def results(self, run: Distributor, resume: ResumeState | None, cache: VerdictCache | None,
                idle: Callable[[], None] | None) -> Iterator[CheckResult]:
        from pcheck.check.fetch import sitemap_fetcher
        from pcheck.inputs.sitemaps import iter_sitemap
        from pcheck.run.robots import Robots

        robots = Robots(self.config) if self.plan.robots else None
        frontier = self.frontier = Frontier(self.plan, self.config, robots, self.journal, resume)
        ledger = run.ledger  # type: ignore[attr-defined]
        ledger.on_page = frontier.on_page
        fetch = sitemap_fetcher(self.config)
        seeds = (item for sitemap in self.plan.sitemaps for item in iter_sitemap(sitemap, fetch))
        items: Iterator = frontier.items(ledger, self.replayed, seeds)
        if cache is not None:
            items = cache.serve(items)
        results = run.results(items, idle)
        finished = False
        try:
            yield from cache.remember(results) if cache is not None else results
            finished = not run.interrupted
        finally:
            ledger.on_page = None
            self.close(finished)

    def close(self, finished: bool = False) -> None:
        """Close the journal (removed when the crawl `finished`); safe to call again."""
        if self.journal is not None:
            self.journal.close(finished)
            self.journal = None

    def said(self) -> list[str]:
        return self.frontier.said() if self.frontier is not None else []
