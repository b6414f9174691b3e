"""The library entry points: iterables of URLs in, CheckResults out."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import threading
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
                with _workers_skip_main():
                    result = next(results, None)
                if result is None:
                    return
                yield result
        finally:
            results.close()


@contextlib.contextmanager
def _workers_skip_main() -> Iterator[None]:
    """While workers start, present the main module as pcheck's own `__main__`, which they skip.

    spawn and forkserver children re-run the parent's main script (as
    `__mp_main__`) before unpickling their target. A script that calls
    check_urls with no `if __name__ == "__main__":` guard would then call it
    again in every worker, and multiprocessing kills each one with
    "An attempt has been made to start a new process before the current
    process has finished its bootstrapping phase": every URL `worker_crashed`.
    pcheck's workers need nothing from the caller's script (their target and
    Config are pcheck's), and a main module known by a `__main__` name is not
    imported in the child at all, so the script is never re-run. The CLI does
    the same for the console script (cli._workers_skip_the_console_script).
    """
    global _hidden_depth, _hidden_spec
    main = sys.modules.get("__main__")
    with _hidden_lock:
        if main is None or (_hidden_depth == 0 and
                            getattr(getattr(main, "__spec__", None), "name", "").endswith("__main__")):
            main = None  # already skipped (python -m pcheck, the CLI), or nothing to skip
        else:
            if _hidden_depth == 0:  # several check_urls iterated by several threads: the first hides, the last restores
                _hidden_spec = main.__spec__
                main.__spec__ = _PCHECK_MAIN_SPEC
            _hidden_depth += 1
    try:
        yield
    finally:
        if main is not None:
            with _hidden_lock:
                _hidden_depth -= 1
                if _hidden_depth == 0:
                    main.__spec__ = _hidden_spec


_PCHECK_MAIN_SPEC = importlib.util.find_spec("pcheck.__main__")
_hidden_lock = threading.Lock()
_hidden_depth = 0
_hidden_spec: object = None


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
