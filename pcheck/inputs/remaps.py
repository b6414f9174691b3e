"""--remap 'REGEX REPLACEMENT': a link checked where a rule sends it (staging for production), as lychee's.

A rule is read once (`parse_remap`: lychee's `$1`, `${1}`, `${name}` groups become Python's); each
Target is rewritten by the first rule whose regex matches its URL as written (else its normal form). The
rewritten URL is what is requested: the Target's `key` and `host` are its, so the host scheduler and the
cache see it; `url` stays as written, and `checked_url` says what was requested instead.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from pcheck.errors import ConfigError
from pcheck.inputs.targets import invalid_result
from pcheck.models import CheckResult, Target
from pcheck.urls import normalise

#: lychee's (Rust regex's) group references: `$$`, `${name}`, `$name` (a name of letters, digits, `_`).
_GROUP = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\w+))")


def parse_remap(spec: str) -> tuple[str, str]:
    """'REGEX REPLACEMENT' -> (REGEX, the replacement in Python's spelling); ConfigError naming the rule."""
    parts = spec.split()
    if len(parts) != 2:
        why = "no replacement: write 'REGEX REPLACEMENT'" if len(parts) < 2 else \
            "more than a REGEX and a REPLACEMENT (write a space in the regex as \\s)"
        raise ConfigError(f"--remap {spec!r}: {why}")
    pattern, replacement = parts
    python = _GROUP.sub(lambda m: "$" if m[1] else f"\\g<{m[2] or m[3]}>", replacement.replace("\\", "\\\\"))
    try:
        re.compile(pattern).sub(python, "")  # a group the regex does not have is an error now, not per link
    except (re.error, IndexError) as exc:
        raise ConfigError(f"--remap {spec!r}: not a regular expression, or a group it does not have ({exc})") from None
    return pattern, python


def remap_targets(items: Iterable[Target | CheckResult],
                  rules: tuple[tuple[str, str], ...]) -> Iterator[Target | CheckResult]:
    """Each Target rewritten by the first rule that matches it (a rewrite that is no URL: an `invalid` record)."""
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]
    for item in items:
        if isinstance(item, Target):
            for pattern, replacement in compiled:
                written = item.url if pattern.search(item.url) else item.key if pattern.search(item.key) else None
                if written is None:
                    continue
                rewritten = pattern.sub(replacement, written)
                try:
                    key, host = normalise(rewritten)
                except ValueError as exc:
                    item = invalid_result(item.url, item.source, item.line, f"--remap made it {rewritten!r}: {exc}",
                                          item.column, item.link)
                else:
                    item = Target(item.url, key, host, item.source, item.line, item.column, item.link, checked_url=key)
                break
        yield item
