"""Sites to crawl (issue 29): a deterministic tree of HTML pages, robots.txt, and crawler traps.

Why a generated site: a crawler's tests and benchmarks need a site whose every page, link and answer
is known in advance (so a test can say "exactly 255 pages fetched"), that costs nothing to serve, and
that holds the things a real site holds: dead links, links to other hosts, a section robots.txt
forbids, nofollow, and pages that never end. Routes (see also pcheck.lab):

/tree/<n>/<i>.html, i in 1..n: page i of a heap-numbered binary tree (depth of page i: floor(log2 i)).
  Its links, one a line, in this order:
    children    `<2i>.html`, `<2i+1>.html` (relative), those <= n
    parent      `/tree/<n>/<i//2>.html`, for i > 1
    root        `/tree/<n>/1.html`, for i > 3 (for 2 and 3 the parent is the root)
    on every 16th page (i % 16 == 0), four more:
      `/tree/<n>/missing-<i>.html`                   a missing page here: 404
      `http://127.0.0.2:PORT/status/404?from=<i>`    a 404 on the second host
      `http://127.0.0.2:PORT/tree/<n>/<i>.html`      the same page on the second host: check, do not follow
      `/tree/<n>/private/<i>.html`                   a page robots.txt disallows (it answers 200 HTML)
  nofollow: page n (a leaf, for n >= 2) carries `<meta name="robots" content="nofollow">`, and page n-1's
  parent link carries rel="nofollow" (n >= 3). Both point only at pages reachable by other links, so a
  crawler honouring them fetches the same pages as one ignoring them.
  Links in all (occurrences, every page of the tree): see tree_links(); n=2047 (the benchmark size,
  depth 0..10): 2,046 child + 2,046 parent + 2,044 root + 127 x 4 extra = 6,644, to 2,555 distinct URLs
  (2,047 pages, 127 missing, 127 + 127 on the second host, 127 private). n=255: 820 links, 7 pages at depth <= 2.
/tree/<n>/: 302 to /tree/<n>/1.html, an entry for crawlers whose scope is the start URL as a prefix (linkinator).
/tree/<n>/private/<i>.html: 200 HTML linking to /tree/<n>/<i>.html and the root (what a crawler must not fetch).
/robots.txt (every host): `User-agent: *`, `Disallow: /tree/*/private/` and, for parsers without
  wildcards (urllib.robotparser), the same prefix spelled out for n = 2^k - 1, k = 1..16.
/trap/index.html: links to every trap below.
/trap/loop/a, /trap/loop/b: 302 to each other, for ever.
/trap/self.html: links to itself SELF_LINKS (10,000) times, one a line.
/trap/cal?month=N: a calendar page (N an integer of up to 10 digits, 0 if not given; else 404) linking to month
  N-1 and N+1: endless.
Every answer here carries `LinkChecker: any rate` (see OPT_IN).
/__lab/crawl: requests to these routes as JSON, {address: {"GET tree": k, "HEAD private": k, ...}}.
"""

from __future__ import annotations

import collections
import html
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from pcheck.lab.connection import Connection

CRAWL_ROUTES = frozenset({"tree", "trap", "robots.txt"})
#: The largest tree the site serves (a bound on what a typo can cost).
MAX_TREE = 1_000_000
#: Every EXTRA_EVERY-th page of a tree carries the four extra links.
EXTRA_EVERY = 16
SELF_LINKS = 10_000
#: The host the tree's off-site links go to: index 1, 127.0.0.2 (a Lab of at least 2 hosts).
SECOND_HOST = "127.0.0.2"
#: A `LinkChecker` response header lets LinkChecker go faster than 10 requests a second to a host when its
#: maxrequestspersecond says so (it ignores the setting for hosts that do not send it); other clients ignore it.
OPT_IN = [("LinkChecker", "any rate")]
HTML = [("Content-Type", "text/html; charset=utf-8"), *OPT_IN]
ROBOTS_TXT = ("# pcheck's local site: crawl everything but the trees' private sections.\nUser-agent: *\n"
              "Disallow: /tree/*/private/\n"
              + "".join(f"Disallow: /tree/{(1 << k) - 1}/private/\n" for k in range(1, 17))).encode()


def children(n: int, i: int) -> list[int]:
    return [c for c in (2 * i, 2 * i + 1) if c <= n]


def has_extras(i: int) -> bool:
    return i % EXTRA_EVERY == 0


def tree_links(n: int) -> int:
    """Link occurrences on all n pages of /tree/<n>/ (each page's <a href> count, summed)."""
    return (n - 1) + (n - 1) + max(0, n - 3) + 4 * (n // EXTRA_EVERY)


def tree_page(n: int, i: int, scheme: str, port: int) -> bytes:
    """Page i of the tree of n pages: a title, then its links one a line (see the module's docstring)."""
    other = f"{scheme}://{SECOND_HOST}:{port}"
    links = [f'<li><a href="{c}.html">child {c}</a></li>' for c in children(n, i)]
    if i > 1:
        rel = ' rel="nofollow"' if i == n - 1 else ""
        links.append(f'<li><a href="/tree/{n}/{i // 2}.html"{rel}>parent {i // 2}</a></li>')
    if i > 3:
        links.append(f'<li><a href="/tree/{n}/1.html">root</a></li>')
    if has_extras(i):
        links += [f'<li><a href="/tree/{n}/missing-{i}.html">a page gone</a></li>',
                  f'<li><a href="{other}/status/404?from={i}">gone, on another host</a></li>',
                  f'<li><a href="{other}/tree/{n}/{i}.html">this page, on another host</a></li>',
                  f'<li><a href="/tree/{n}/private/{i}.html">private</a></li>']
    meta = '<meta name="robots" content="nofollow">\n' if i == n and n >= 2 else ""
    depth = i.bit_length() - 1
    return _html(f"Tree {n}, page {i}", meta, f"<h1>Page {i} of {n} (depth {depth})</h1>\n<ul>", links, "</ul>")


def private_page(n: int, i: int) -> bytes:
    return _html(f"Tree {n}, private {i}", "", f"<h1>Private {i}</h1>\n<ul>",
                 [f'<li><a href="/tree/{n}/{i}.html">public {i}</a></li>',
                  f'<li><a href="/tree/{n}/1.html">root</a></li>'], "</ul>")


def _html(title: str, meta: str, before: str, lines: list[str], after: str) -> bytes:
    return ("<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n" + meta
            + f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{before}\n"
            + "".join(line + "\n" for line in lines) + (after + "\n" if after else "") + "</body>\n</html>\n").encode()


def trap_index() -> bytes:
    return _html("Traps", "", "<h1>Crawler traps</h1>\n<ul>",
                 ['<li><a href="/trap/loop/a">a redirect loop</a></li>',
                  '<li><a href="/trap/self.html">a page linking to itself</a></li>',
                  '<li><a href="/trap/cal?month=0">an endless calendar</a></li>'], "</ul>")


def calendar(month: int) -> bytes:
    return _html(f"Month {month}", "", f"<h1>Month {month}</h1>",
                 [f'<p><a href="/trap/cal?month={month - 1}">previous</a></p>',
                  f'<p><a href="/trap/cal?month={month + 1}">next</a></p>'], "")


_SELF_PAGE = _html("Self", "", "<h1>A page linking to itself</h1>",
                   ['<p><a href="/trap/self.html">again</a></p>'] * SELF_LINKS, "")


def _tree_index(n_text: str, leaf: str) -> tuple[int, int] | None:
    """(n, i) for a page that exists, else None."""
    if not (n_text.isascii() and n_text.isdigit() and leaf.endswith(".html")):
        return None
    stem = leaf[: -len(".html")]
    if not (stem.isascii() and stem.isdigit()) or stem.startswith("0") or n_text.startswith("0"):
        return None
    n, i = int(n_text), int(stem)
    return (n, i) if 1 <= i <= n <= MAX_TREE else None


def respond(lab, conn: Connection, method: str, name: str, args: list[str], query: str) -> None:  # type: ignore[no-untyped-def]
    """Answer a crawl route (name in CRAWL_ROUTES, or /__lab/crawl); counted in lab.crawl_hits."""
    head = method == "HEAD"
    hits: collections.Counter[str] = lab.crawl_hits
    if name == "__lab":
        table: dict[str, dict[str, int]] = {a: {} for a in lab.addresses}
        for key, count in hits.items():
            address, _, what = key.partition(" ")
            table.setdefault(address, {})[what] = count
        conn.simple(200, head, [("Content-Type", "application/json")], json.dumps(table).encode())
        return
    kind, status, headers, body = _route(lab, name, args, query)
    hits[f"{conn.address} {method} {kind}"] += 1
    conn.simple(status, head, headers, body)


def _route(lab, name: str, args: list[str], query: str) -> tuple[str, int, list[tuple[str, str]] | None, bytes | None]:  # type: ignore[no-untyped-def]
    """(counter kind, status, headers, body) for a crawl route."""
    if name == "robots.txt" and not args:
        return "robots", 200, [("Content-Type", "text/plain; charset=utf-8"), *OPT_IN], ROBOTS_TXT
    if name == "tree" and len(args) == 1 and _tree_index(args[0], "1.html"):  # the tree's entry, /tree/<n>/
        return "entry", 302, [("Location", f"/tree/{args[0]}/1.html"), *OPT_IN], None
    if name == "tree" and len(args) == 2 and (found := _tree_index(args[0], args[1])):
        scheme = "https" if lab.ssl_context is not None else "http"
        return "tree", 200, HTML, tree_page(*found, scheme, lab.port)
    if name == "tree" and len(args) == 3 and args[1] == "private" and (found := _tree_index(args[0], args[2])):
        return "private", 200, HTML, private_page(*found)
    if name == "trap" and args == ["index.html"]:
        return "trap", 200, HTML, trap_index()
    if name == "trap" and len(args) == 2 and args[0] == "loop" and args[1] in ("a", "b"):
        return "trap", 302, [("Location", f"/trap/loop/{'b' if args[1] == 'a' else 'a'}"), *OPT_IN], None
    if name == "trap" and args == ["self.html"]:
        return "trap", 200, HTML, _SELF_PAGE
    if name == "trap" and args == ["cal"]:
        month = dict(parse_qsl(query)).get("month", "0")
        if re.fullmatch(r"-?[0-9]{1,10}", month):
            return "trap", 200, HTML, calendar(int(month))
    return ("missing" if name == "tree" else name), 404, [("Content-Type", "text/plain"), *OPT_IN], None
