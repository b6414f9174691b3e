"""One GET of a sitemap, with the run's settings: the only body pcheck downloads whole, and never more than a cap.

It is a check like any other (the checker's redirects, retries, deadline, --exclude-private's
guard, TLS settings, no proxies or .netrc) that keeps the body of the 2xx answer.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Callable

from pcheck.config import MAX_SITEMAP_BYTES, CheckConfig
from pcheck.models import Outcome, Verdict


def sitemap_fetcher(config: CheckConfig) -> Callable[[str], bytes | Verdict]:
    """How a run fetches a sitemap URL's body (see pcheck.inputs.sitemaps)."""
    return functools.partial(fetch_body, config, cap=MAX_SITEMAP_BYTES)


def fetch_body(config: CheckConfig, url: str, cap: int) -> bytes | Verdict:
    """The body of a 2xx answer to GET `url` (a normalised http(s) URL), or the Verdict saying why there is none.

    A body over `cap` bytes is not returned: an `unchecked` Verdict says so, after reading at most cap + 1 bytes.
    """
    # Imported here: the parent fetches a sitemap rarely, and a run without one never loads requests.
    from pcheck.check.checker import Checker
    from pcheck.check.transport import make_transport

    transport = make_transport(config, per_host=1, pool_hosts=1)
    try:
        verdict, page = Checker(config, transport).fetch_page(url, cap)
    finally:
        transport.close()
    if verdict.outcome is not Outcome.ALIVE:
        return verdict
    if page is None:  # accepted (--accept), but no 2xx: nothing was read
        return replace(verdict, outcome=Outcome.BROKEN, detail=f"HTTP {verdict.status}: no body to read")
    if page.timed_out:
        return replace(verdict, outcome=Outcome.UNCHECKED,
                       detail=f"the body did not all arrive within {config.timeout:g} s (--timeout): not read")
    if not page.complete:
        return replace(verdict, outcome=Outcome.UNCHECKED, detail=f"the body is larger than {cap:,} bytes: not read")
    return page.body
