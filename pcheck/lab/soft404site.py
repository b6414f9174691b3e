"""A host that serves soft 404s (issue 30): every missing page under `/soft/` answers 200 "Page not found".

Why: `--soft-404` asks a host for a page that cannot exist and compares its 200 answers with that one;
its tests need a site that does what such hosts do, deterministically. Routes (see also pcheck.lab):

/soft/real                a real page: its own title and text
/soft/deep/old            301 to `/` (a deep page moved to the home page: a soft 404 too)
/soft/binary              200 with bytes that are no text (application/octet-stream)
/soft/huge                200 with an HTML page of 1 MiB, no title
/soft/<anything else>     200 with the site's not-found page: title "Page not found", the path asked
                          echoed in its text, as many sites do
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcheck.lab.connection import Connection

SOFT_ROUTE = "soft"
HTML = [("Content-Type", "text/html; charset=utf-8")]

_NOT_FOUND = """<!doctype html>
<html><head><title>Page not found</title></head>
<body><nav><a href="/">Home</a> <a href="/soft/real">About us</a> <a href="/soft/blog">Blog</a></nav>
<h1>Sorry, we could not find that page</h1>
<p>The page {path} does not exist on this site, or it has moved. Check the address for typos, or go back to
the home page and use the search box to find what you were looking for. If you followed a link from another
site, please let its owner know that the link is out of date.</p>
<footer>Example Soft Site, 12 Sample Street. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>
"""

REAL_PAGE = b"""<!doctype html>
<html><head><title>About the Example Soft Site</title></head>
<body><nav><a href="/">Home</a> <a href="/soft/real">About us</a> <a href="/soft/blog">Blog</a></nav>
<h1>About us</h1>
<p>We are a small team writing about gardens, tools and the weather since 2009. This page tells our story:
how the site began as a notebook, how it grew, and who writes it today. Our editors answer every letter.</p>
<p>Write to us at the address below; we read everything, and we publish the best questions every month.</p>
<footer>Example Soft Site, 12 Sample Street. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>
"""


def not_found_page(path: str) -> bytes:
    return _NOT_FOUND.format(path=html.escape(path)).encode()


def respond(conn: Connection, method: str, args: list[str], path: str) -> None:
    """Answer a request under /soft/ (`args`: the path's segments after `soft`)."""
    head = method == "HEAD"
    if args == ["real"]:
        conn.simple(200, head, HTML, REAL_PAGE)
    elif args == ["deep", "old"]:
        conn.simple(301, head, [("Location", "/")])
    elif args == ["binary"]:
        conn.simple(200, head, [("Content-Type", "application/octet-stream")], bytes(range(256)) * 64)
    elif args == ["huge"]:
        conn.simple(200, head, HTML, b"<html><body>" + b"<p>word soup " * 80_000 + b"</body></html>")
    else:
        conn.simple(200, head, HTML, not_found_page(path))
