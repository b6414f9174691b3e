"""The library's entry point: `pcheck.check_urls`, URLs checked with the process pool, results as they arrive."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Iterable, Iterator

from pcheck.config import Config
from pcheck.inputs.filters import filter_targets
from pcheck.inputs.sources import parse_url
from pcheck.models import ARGS_SOURCE, CheckResult
from pcheck.run import procs
from pcheck.run.session import open_distributor


def check_urls(urls: Iterable[str], **options: object) -> Iterator[CheckResult]:
    """Check URLs with the process pool; yields one CheckResult per URL, as verdicts arrive.

    Options are `Config`'s fields (processes=4, timeout=5.0, ...): a name that is not one is a
    TypeError naming the valid ones, and so is a lone string for `urls` (it would be checked
    character by character). Both are raised here, at the call, not at the first result.
    Interrupting the caller with Ctrl-C yields `cancelled` results for the rest, then stops.
    Works from a script with or without an `if __name__ == "__main__":` guard:
    the workers never import the caller's main module (see procs.workers_skip_main).
    """
    if isinstance(urls, (str, bytes)):
        raise TypeError(f"check_urls() takes an iterable of URLs, not a {type(urls).__name__}: "
                        f"write check_urls([{urls!r}])")
    return _checked(urls, config_of(options))


def config_of(options: dict[str, object]) -> Config:
    """The Config of a library call's keywords; TypeError naming the valid ones for any that is not."""
    valid = [f.name for f in dataclasses.fields(Config) if not f.name.startswith("_")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        near = {name: difflib.get_close_matches(name, valid, n=1) for name in unknown}
        said = ", ".join(f"{name!r}" + (f" (did you mean {near[name][0]!r}?)" if near[name] else "") for name in unknown)
        raise TypeError(f"unknown option{'s' if len(unknown) > 1 else ''} {said}; the options are Config's fields: "
                        + ", ".join(valid))
    return Config(**options)  # type: ignore[arg-type]


def _checked(urls: Iterable[str], config: Config) -> Iterator[CheckResult]:
    items = (parse_url(url, ARGS_SOURCE, None) for url in urls)
    with open_distributor(config) as run:
        results = run.results(filter_targets(items, config))
        try:
            while True:
                # Workers start (and restart after a crash) only inside next(): hide the
                # main module there, and give it back before the caller's code runs again.
                with procs.workers_skip_main():
                    result = next(results, None)
                if result is None:
                    return
                yield result
        finally:
            results.close()
