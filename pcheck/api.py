"""The library entry points: iterables of URLs in, CheckResults out."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator

from .config import Config
from .inputs import ARGS_SOURCE, Source, iter_targets, parse_url
from .models import CheckResult, Outcome, Target, Verdict
from .pool import CheckRun

if TYPE_CHECKING:
    from .cache import VerdictCache
    from .ray_pool import RayRun
    from .resume import ResumeState


def check_urls(urls: Iterable[str], **options: object) -> Iterator[CheckResult]:
    """Check URLs with the process pool; yields one CheckResult per URL, as verdicts arrive.

    Options are `Config`'s fields (processes=4, timeout=5.0, ...). Interrupting
    the caller with Ctrl-C yields `cancelled` results for the rest, then stops.
    """
    config = Config(**options)  # type: ignore[arg-type]
    items = (parse_url(url, ARGS_SOURCE, None) for url in urls)
    with open_run(config) as run:
        yield from run.results(filter_targets(items, config))


def open_run(config: Config) -> CheckRun | RayRun:
    """The distributor the config names: one code path for checking, two for distributing."""
    if config.distributor == "ray":
        from .ray_pool import RayRun

        return RayRun(config)
    return CheckRun(config)


def targets(config: Config, sources: list[Source], stdin: BinaryIO | None = None,
            resume: ResumeState | None = None, cache: VerdictCache | None = None) -> Iterator[Target | CheckResult]:
    """The input side: read, filter, skip what a resumed report holds, answer from the cache."""
    items = filter_targets(iter_targets(sources, stdin), config)
    if resume is not None:
        items = resume.skip_finished(items)
    if cache is not None:
        items = cache.serve(items)
    return items


def pipeline(config: Config, sources: list[Source], run: CheckRun | RayRun, stdin: BinaryIO | None = None,
             resume: ResumeState | None = None, cache: VerdictCache | None = None,
             idle: Callable[[], None] | None = None) -> Iterator[CheckResult]:
    """What the CLI runs: the sources, streamed through an open CheckRun, one result per occurrence."""
    results = run.results(targets(config, sources, stdin, resume, cache), idle)
    return cache.remember(results) if cache is not None else results


def filter_targets(items: Iterable[Target | CheckResult], config: Config) -> Iterator[Target | CheckResult]:
    """Apply --include/--exclude: a skipped URL is an `excluded` result, never a silent drop."""
    if not config.include and not config.exclude:
        yield from items
        return
    include = [re.compile(p) for p in config.include]
    exclude = [re.compile(p) for p in config.exclude]
    for item in items:
        if isinstance(item, Target):
            if include and not any(p.search(item.url) for p in include):
                yield CheckResult.of(item.url, item.source, item.line, _SKIPPED_INCLUDE)
                continue
            if any(p.search(item.url) for p in exclude):
                yield CheckResult.of(item.url, item.source, item.line, _SKIPPED_EXCLUDE)
                continue
        yield item


_SKIPPED_INCLUDE = Verdict(Outcome.EXCLUDED, detail="matches no --include pattern")
_SKIPPED_EXCLUDE = Verdict(Outcome.EXCLUDED, detail="matches an --exclude pattern")
