"""The embedded local test site: every behaviour pcheck must classify, on loopback only.

One asyncio loop listens on 127.0.0.1 ... 127.0.0.N (Linux routes all of
127.0.0.0/8 to the loopback interface), one port for all, so tests and
benchmarks get many "hosts" with no network. Per host it counts connections,
requests and concurrent requests, which is how tests prove keep-alive and
--max-per-host. Routes (any query string is ignored, so `?i=1` makes URLs distinct):

  /ok                       200                /status/<code>         that status
  /delay/<ms>               200 after ms       /redirect/<n>          n hops of 302, then 200
  /loop/a/<k>, /loop/b/<k>  a 302 loop         /redirect-to?url=U     302 to U
  /hang                     never answers      /drip-headers          a header byte every 0.1 s
  /drip-body                body byte per 0.1 s /bytes/<n>            n-byte streamed body
  /endless                  endless chunked    /redirect-endless-body 302 to /ok, endless body
  /head-refused             405 to HEAD        /reset-on-head         RST on HEAD, 200 on GET
  /retry-after/<v>/<k>      429 Retry-After v once per k, then 200
  /flaky/<n>/<k>            503 n times per k, then 200
  /rate/<n>/<k>             200, at most n a second per host address; beyond, 429 with Retry-After: 1
  /outage/<s>/<k>           503 for s seconds from the first request to outage k on that address, then 200
                            (a host restarting: every URL under it, ?i=1, ?i=2, shares the outage)
  /challenge                403 with cf-mitigated: challenge
  /set-cookie-redirect?name=N&value=V&url=U[&attrs=A]  302 to U with Set-Cookie: N=V plus A (`; Path=/` if not given)
  /needs-cookie/<name>      200 when the request's Cookie header holds a cookie <name>, else 403
  /needs-basic/<user>/<pw>  200 with `Authorization: Basic` of user:pw, else 401 (WWW-Authenticate: Basic)
  /sitemap/<n>.xml          a urlset of n absolute URLs here (/ok?s=<i>), one a line from line 3;
                            (.xml.gz: gzipped; a name may come before n: /sitemap/sitemap-<n>.xml)
  /sitemap-index/<k>/<n>.xml  a sitemap index of k children /sitemap/<n>.xml?part=<j> (.xml.gz: gzipped)
  /page/<a,b,n:c>           an HTML page with id="a", id="b" and name="c" (its anchors)
  /big-page/<n>/<a,b>       the same after n bytes of text
  /typed-page/<a,b>?type=T&encoding=E&as=C  the same page in codec C (utf-8 if not given) sent with
                            Content-Type T, Content-Encoding E (none unless given)
  /slow-page/<a,b>[/...]?type=T  the same page at once (Content-Type T, text/html if not given), then a byte
                            every 0.1 s
  /flip/<k>                 lab.flips[k] (200 until a test sets it)
  /interim/<i>/<code>       interim responses i (e.g. 103 or 100,102,103) with headers, a pause, then code
  /status-line/<text>       a status line `HTTP/1.1 <text> Odd` as written ('+200', '2_00'), no body
  /wayback/available?url=U&timestamp=T  a fake of the Wayback Machine's availability API: the copy of U
                            captured at T (/web/T/U, status 200), unless U holds `no-snapshot` (none),
                            `snapshot-later` (captured a year after T), `snapshot-404` (captured with 404)
                            or `snapshot-dead` (its copy answers 404)
  /web/<timestamp>/<url>    an archived copy: 200, an HTML page
  /__lab/stats              the counters as JSON

Sites to crawl (pcheck.lab.crawlsite, which says why and counts the links):

  /tree/<n>/<i>.html        page i (1..n) of a heap-numbered binary tree, its links one a line: children
                            `<2i>.html`, `<2i+1>.html` (relative, if <= n), parent `/tree/<n>/<i//2>.html`,
                            root `/tree/<n>/1.html` (i > 3); every 16th page also: /tree/<n>/missing-<i>.html
                            (404), http://127.0.0.2:PORT/status/404?from=<i>, http://127.0.0.2:PORT/tree/<n>/<i>.html
                            (the same site on the second host: check, do not follow), /tree/<n>/private/<i>.html;
                            page n has <meta name="robots" content="nofollow">, page n-1's parent link rel="nofollow"
  /tree/<n>/                302 to /tree/<n>/1.html (a start URL that is also the scope's prefix)
  /tree/<n>/private/<i>.html  200 HTML that robots.txt disallows (links to page i and the root)
  /robots.txt               User-agent: * / Disallow: /tree/*/private/ (and /tree/<2^k-1>/private/ spelled out)
  /trap/index.html          links to the traps: /trap/loop/a, /trap/self.html, /trap/cal?month=0
  /trap/loop/a, /trap/loop/b  302 to each other
  /trap/self.html           links to itself 10,000 times, one a line
  /trap/cal?month=N         a calendar page linking to month N-1 and N+1, for ever
                            (every crawl route answers with `LinkChecker: any rate`: LinkChecker's opt-in to speed)
  /__lab/crawl              requests to the crawl routes, per address, method and kind, as JSON

A host that serves soft 404s (pcheck.lab.soft404site):

  /soft/real                200, a real page (its own title and text)
  /soft/deep/old            301 to / (a deep page moved to the home page)
  /soft/binary              200, 16 KiB of bytes that are no text
  /soft/huge                200, 1 MiB of HTML without a title
  /soft/<anything else>     200 "Page not found" (the path asked echoed in its text)
"""

from pcheck.lab.site import HostStats, Lab, LoggedRequest, main

__all__ = ["HostStats", "Lab", "LoggedRequest", "main"]
