"""`pcheck crawl URL...`: options -> a CrawlPlan and a session whose input is the crawl -> exit code."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import typer

from pcheck.cli import options as opt
from pcheck.cli.declare import CRAWL, command
from pcheck.cli.exits import ending_code, fail
from pcheck.cli.prepare import ignore_files, prepare
from pcheck.config import Config, HostPolicy, parse_duration
from pcheck.errors import ConfigError, PcheckError
from pcheck.urls import host_of


def run_crawl(ctx: typer.Context, **values: Any) -> None:
    """Crawl a site: follow its pages from the start URLs, check every link once; exit 0 if none failed, 1 if some did.

    A page is followed when it is on a start URL's origin (or matches a --scope REGEX), robots.txt allows
    it, and no nofollow says otherwise, within --max-depth and --max-pages. Every link of every page
    fetched is checked and reported where it is written (the page, line and column); links to other
    sites are checked, never followed.
    """
    from pcheck.run.crawl import CrawlPlan, Crawler
    from pcheck.run.session import Plan, Session
    from pcheck.run.soft404 import Soft404Judge

    soft404 = crawler = None
    try:
        starts = start_urls(tuple(values.get("inputs") or ()))
        given: set[str] = set()
        o, config, _ = prepare(ctx, values, given)
        if config.distributor != "multiprocessing":
            raise ConfigError("pcheck crawl runs on this machine's processes: --distributor ray is not supported "
                              "(a crawl's next links come from the pages it has just fetched)")
        for pattern in o.scope:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"--scope {pattern!r}: not a regular expression ({exc})") from None
        for name, bound in (("--max-depth", o.max_depth), ("--max-pages", o.max_pages)):
            if bound is not None and bound < (0 if name == "--max-depth" else 1):
                raise ConfigError(f"{name} {bound}: at least {0 if name == '--max-depth' else 1}")
        if o.suggest and config.redirects == "allow":  # a redirected link's detail says if it moved for good
            config = dataclasses.replace(config, redirects="warn")
        if "host_interval" not in given:
            config = unpaced_start_hosts(config, starts)
        crawl = CrawlPlan(starts, o.scope, o.max_depth, o.max_pages, not o.no_robots, o.sitemap, o.dump)
        listing = o.dump and o.format == "text"  # --dump: the pages, one a line
        fmt, output = ("jsonl", os.devnull) if listing else (o.format, o.output)
        soft404 = Soft404Judge(config) if o.soft_404 else None
        crawler = Crawler(crawl, config, output if fmt == "jsonl" and output not in (None, os.devnull) else None,
                          resume=o.resume)
        plan = Plan(
            (), fmt=fmt, output=output, host_stats=o.host_stats, progress=not o.no_progress, verbosity=o.verbosity,
            color=o.color, resume=o.resume, cache_path=o.cache_path if o.cache else None,
            max_cache_age_s=parse_duration(o.max_cache_age, "--max-cache-age") if o.cache else 0.0,
            suggest=o.suggest, crawler=crawler, soft404=soft404,
            other_inputs=tuple(p for p in (o.config_path, o.ca_bundle, o.cookie_jar, *ignore_files(config)) if p),
        )
        on_result = (lambda result: typer.echo(result.url)) if listing else None
        ending = Session(config, plan, on_result=on_result).run()
    except PcheckError as exc:
        fail(exc)
    finally:
        if soft404 is not None:
            soft404.close()
        if crawler is not None:
            crawler.close()  # a run that never started (the report could not be opened): the journal stays
    if listing or fmt != "text" or output is not None:  # else the report's Hints say it
        for line in crawler.said():
            typer.echo(f"pcheck: {line}", err=True)
    raise typer.Exit(ending_code(ending, config.fail_on_blocked))


def unpaced_start_hosts(config: Config, starts: tuple[str, ...]) -> Config:
    """The site a crawl is asked to crawl (often the user's own) gets no interval between requests: its pages
    are most of the crawl's URLs, and at the default 50 ms a 5,000-page site would take minutes however fast
    it answers. --max-per-host still caps what it gets at once, and its 429s and 503s still slow it down. A
    --host-interval given, or a [hosts] table's host_interval for it, is kept; every other host is paced."""
    hosts = dict(config.hosts)
    for url in starts:
        host = host_of(url)
        if host is not None and (hosts.get(host) is None or hosts[host].host_interval is None):
            hosts[host] = dataclasses.replace(hosts.get(host) or HostPolicy(), host_interval=0.0)
    return dataclasses.replace(config, hosts=tuple(hosts.items()))


def start_urls(inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The start URLs given: at least one, each an http(s) URL (a usage error names the first that is not)."""
    if not inputs:
        raise ConfigError("pcheck crawl needs a URL to start from: pcheck crawl https://example.org/")
    for url in inputs:
        if not re.match(r"(?i)https?://[^/?#\s]+", url):
            raise ConfigError(f"{url!r}: pcheck crawl starts from http(s) URLs (documents and lists: pcheck check)")
    return tuple(inputs)


#: The command typer sees: `run_crawl` with a parameter for every option declared for crawl (cli.options).
crawl = command(opt.Options, CRAWL, run_crawl, opt.leading_parameters())
