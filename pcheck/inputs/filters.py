"""--include, --exclude and `.pcheckignore`'s patterns: a URL left out is an `excluded` result, never a silent
drop; then --remap."""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from pcheck.config import Config
from pcheck.inputs.remaps import remap_targets
from pcheck.models import CheckResult, Outcome, Target, Verdict


def filter_targets(items: Iterable[Target | CheckResult], config: Config) -> Iterator[Target | CheckResult]:
    """--include/--exclude on the links as written, then --remap on those kept (inputs/remaps.py)."""
    kept = _include_exclude(items, config)
    return remap_targets(kept, config.remap) if config.remap else kept


def _include_exclude(items: Iterable[Target | CheckResult], config: Config) -> Iterator[Target | CheckResult]:
    """Apply --include/--exclude: a skipped URL is an `excluded` result, never a silent drop.

    A pattern matches a URL as written or in its normal form (`https://X.org` is matched by
    `https://x\\.org/`), so a pattern need not guess how each document spells a link.
    """
    if not config.include and not config.exclude and not config.ignore_rules:
        yield from items
        return
    include = [re.compile(p) for p in config.include]
    exclude = [re.compile(p) for p in config.exclude]
    listed = [(re.compile(p), Verdict(Outcome.EXCLUDED, detail=f"matches {where}")) for p, where in config.ignore_rules]
    for item in items:
        if isinstance(item, Target):
            # The normal form is tried only when it differs: most URLs are their own key (normalise's fast path).
            other = item.key if item.key != item.url else None
            if include and not any(p.search(item.url) or (other and p.search(other)) for p in include):
                yield CheckResult.of(item.url, item.source, item.line, _SKIPPED_INCLUDE, item.key, item.host, item.column,
                                     item.link)
                continue
            if any(p.search(item.url) or (other and p.search(other)) for p in exclude):
                yield CheckResult.of(item.url, item.source, item.line, _SKIPPED_EXCLUDE, item.key, item.host, item.column,
                                     item.link)
                continue
            verdict = next((v for p, v in listed if p.search(item.url) or (other and p.search(other))), None)
            if verdict is not None:  # a line of an ignore file: its record names the file and line
                yield CheckResult.of(item.url, item.source, item.line, verdict, item.key, item.host, item.column,
                                     item.link)
                continue
        yield item


_SKIPPED_INCLUDE = Verdict(Outcome.EXCLUDED, detail="matches no --include pattern")
_SKIPPED_EXCLUDE = Verdict(Outcome.EXCLUDED, detail="matches an --exclude pattern")
