"""`pcheck demo`: a mixed URL list over the local site, with the verdict each URL must get."""

from __future__ import annotations

from pcheck.lab import Lab
from pcheck.models import Outcome

A, BR, BL, IN = Outcome.ALIVE, Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID


def demo_cases(lab: Lab, fast_urls: int = 200) -> list[tuple[str, Outcome]]:
    """(line, expected outcome) pairs; the lab is known to serve each of them so."""
    hosts = len(lab.addresses)
    cases = [(lab.url(f"ok?page={i}", i % hosts), A) for i in range(fast_urls)]
    cases += [
        (lab.url("redirect/3", 1 % hosts), A),
        (lab.url("head-refused"), A),
        (lab.url("reset-on-head", 2 % hosts), A),
        (lab.url("retry-after/1/demo"), A),
        (lab.url("bytes/1073741824"), A),
        (lab.url("status/404"), BR),
        (lab.url("status/410", 1 % hosts), BR),
        (lab.url("status/500"), BR),
        (lab.url("loop/a/demo"), BR),
        (lab.url("redirect/15"), BR),
        (lab.url("hang", 3 % hosts), BR),
        (lab.url("drip-headers", 3 % hosts), BR),
        ("http://127.0.0.1:1/refused", BR),
        (lab.url("challenge"), BL),
        (lab.url("status/403", 1 % hosts), BL),
        (lab.url("status/401"), BL),
        ("this is not a URL", IN),
        ("ftp://example.com/file.txt", IN),
        ("http://exa\u0007mple.com/", IN),
        (lab.url("ok?page=0"), A),  # a duplicate: checked once, reported twice
    ]
    return cases
