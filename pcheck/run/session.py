"""The library entry points: iterables of URLs in, CheckResults out."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator

from pcheck.config import Config
from pcheck.inputs.sources import ARGS_SOURCE, iter_targets, parse_url, Source
from pcheck.models import CheckResult, Target
from pcheck.run.pool import CheckRun
from pcheck.inputs.filters import filter_targets
from pcheck.run.procs import workers_skip_main

if TYPE_CHECKING:
    from pcheck.store.cache import VerdictCache
    from pcheck.run.ray import RayRun
    from pcheck.store.resume import ResumeState


def check_urls(urls: Iterable[str], **options: object) -> Iterator[CheckResult]:
    """Check URLs with the process pool; yields one CheckResult per URL, as verdicts arrive.

    Options are `Config`'s fields (processes=4, timeout=5.0, ...). Interrupting
    the caller with Ctrl-C yields `cancelled` results for the rest, then stops.
    Works from a script with or without an `if __name__ == "__main__":` guard:
    the workers never import the caller's main module (see _workers_skip_main).
    """
    config = Config(**options)  # type: ignore[arg-type]
    items = (parse_url(url, ARGS_SOURCE, None) for url in urls)
    with open_run(config) as run:
        results = run.results(filter_targets(items, config))
        try:
            while True:
                # Workers start (and restart after a crash) only inside next(): hide the
                # main module there, and give it back before the caller's code runs again.
                with workers_skip_main():
                    result = next(results, None)
                if result is None:
                    return
                yield result
        finally:
            results.close()


def open_run(config: Config) -> CheckRun | RayRun:
    """The distributor the config names: one code path for checking, two for distributing."""
    if config.distributor == "ray":
        from pcheck.run.ray import RayRun

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
