"""Which proxy a request goes through, as curl, requests and lychee choose it; and proxy failures named.

The environment's `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy` (either case, lower case
first, as urllib and requests read them) are read once per worker process, which inherits them; or
`--proxy URL` (Config.proxy) stands for every scheme. `NO_PROXY` applies to both (as in curl):
`NO_PROXY=*` turns proxies off for a run. The choice depends only on a URL's scheme, host and port,
so it is made once per origin. `.netrc` is never read, for proxies or anything else.
"""

from __future__ import annotations

import socket
import urllib.request
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
import urllib3.util
from requests.utils import select_proxy, should_bypass_proxies

if TYPE_CHECKING:  # this module imports nothing of pcheck's: the transport above it is an import floor from the top
    from pcheck.check.netguard import NetGuard

#: Origins whose proxy (or none) is remembered; the table is emptied when full.
MAX_ORIGINS = 4096
#: Proxy URL schemes sent through (config.PROXY_SCHEMES, which --proxy is held to); SOCKS is not supported.
SCHEMES = ("http", "https")


class ProxyRoutes:
    """The proxy for each URL's origin: `--proxy`, else the environment's; None means straight there."""

    def __init__(self, proxy: str | None = None, redact: Callable[[str], str] = lambda url: url) -> None:
        self.redact = redact  # models.redact_userinfo: how a proxy URL may be shown
        if proxy:
            self.table = {"all": proxy}
        else:  # urllib's reading: lower case wins, an empty lower-case variable unsets, HTTP_PROXY ignored under CGI
            self.table = {k: v for k, v in urllib.request.getproxies_environment().items() if k != "no"}
        self._by_origin: dict[str, str | None] = {}
        self._usable: dict[str, bool] = {}

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL to send `url` through, or None to connect to its host."""
        if not self.table:
            return None
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        try:
            return self._by_origin[origin]
        except KeyError:
            pass
        # NO_PROXY (host suffixes, host:port, IPs, CIDR, '*') as requests reads it, from the environment.
        proxy = None if should_bypass_proxies(url, no_proxy=None) else select_proxy(url, self.table)
        if len(self._by_origin) >= MAX_ORIGINS:
            self._by_origin.clear()
        self._by_origin[origin] = proxy or None
        return proxy or None

    def before(self, proxy: str, url: str, guard: NetGuard | None) -> None:
        """Before a request goes to `proxy`: refuse a proxy pcheck cannot use, or (--exclude-private) a private target.

        The proxy, not pcheck, connects to the target, so the guard judges the target's own addresses
        here, in the worker, and never the proxy's (often private itself). The proxy resolves the name
        again: a rebinding DNS server could answer it differently (the README says so).
        """
        scheme = proxy.partition("://")[0].lower() if "://" in proxy else "http"
        if scheme not in SCHEMES:  # an environment's socks5://...
            raise requests.exceptions.ProxyError(
                f"proxy {self.redact(proxy)}: only http:// and https:// proxies are supported")
        if proxy not in self._usable:
            self._usable[proxy] = _usable(proxy)
        if not self._usable[proxy]:  # an environment's http://host:abc, http://[::1 (--proxy is refused at start)
            raise requests.exceptions.ProxyError(
                f"proxy {self.redact(proxy)}: not a host and a port (1-65535) like http://host:port")
        if guard is not None:
            parts = urlsplit(url)
            guard.address_for(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    def failure(self, exc: BaseException, proxy: str) -> requests.exceptions.ProxyError | None:
        """An error that names the proxy (its password hidden) for a failure to reach or use it; None to keep `exc`.

        urllib3 says "Unable to connect to proxy" around what the socket said, which then reads like the
        target's fault. Timeouts and this machine's own shortages keep their own error (and kind).
        A message that would show the proxy's password is always replaced.
        """
        chain = list(causes(exc))
        inner = chain[-1]
        userinfo = proxy.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        secret = userinfo.partition(":")[2] or userinfo
        leaks = bool(secret) and any(secret in str(e) for e in chain)
        about_proxy = any(isinstance(e, (urllib3.exceptions.ProxyError, requests.exceptions.ProxyError)) for e in chain)
        reached = isinstance(inner, (ConnectionError, socket.gaierror)) or (type(inner) is OSError and inner.errno is None)
        if not leaks and not (about_proxy and reached):
            return None
        said = f"{type(inner).__name__}: {inner}"
        if secret:
            said = said.replace(secret, "***")
        return requests.exceptions.ProxyError(f"proxy {self.redact(proxy)}: {said}")


def refused(proxy: str, redact: Callable[[str], str]) -> requests.exceptions.ProxyError:
    """The proxy answered 407 to a plain http request: its own answer, not the link's."""
    return requests.exceptions.ProxyError(f"proxy {redact(proxy)}: 407 Proxy Authentication Required")


def _usable(proxy: str) -> bool:
    """Whether urllib3 can connect to `proxy`: a host, and a port (if any) in 1-65535."""
    try:
        parsed = urllib3.util.parse_url(proxy if "://" in proxy else "http://" + proxy)
    except urllib3.exceptions.LocationParseError:
        return False
    return bool(parsed.host) and parsed.port != 0


def causes(exc: BaseException) -> Iterator[BaseException]:
    """(Here because this module imports nothing of pcheck: the checker takes it from here.)

    A foreign exception and what it wraps: urllib3's `.reason`, an exception given as its argument,
    `__cause__`, `__context__`; each once. Where pcheck classifies what requests and urllib3 raise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nxt or current.__cause__ or current.__context__
