"""The cookies of one redirect chain: a --cookie-jar's, and those the chain's own redirects set.

A chain (one attempt at a URL, its redirects followed hop by hop) starts with the jar's cookies alone.
A `Set-Cookie` on a redirect is taken by http.cookiejar's rules (`DefaultCookiePolicy`: a host sets
cookies for itself or a domain it is in, never for another) and sent on the later hops whose domain,
path and scheme fit it; it is forgotten when the chain ends, and never written to the jar's file.
An IP address is its own domain and no other's (RFC 6265): http.cookiejar would let 127.0.0.1 set a
cookie for `Domain=0.0.1`, and send it on to 10.0.0.1. The `Cookie` header is built per hop, after
`redirect_headers` has dropped a --header Cookie that left its origin, so a cookie reaches only the hosts
its own domain names.
"""

from __future__ import annotations

import ipaddress
import re
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy, eff_request_host, request_host
from urllib.request import Request

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ChainCookies:
    """One chain's cookie store; a chain without cookies costs no jar."""

    __slots__ = ("jar",)

    def __init__(self, cookies: tuple[Cookie, ...]) -> None:
        self.jar: CookieJar | None = None
        if cookies:
            self.jar = CookieJar(_Policy())
            for cookie in cookies:
                self.jar.set_cookie(cookie)  # a jar drops cookies, never changes them: shared ones are safe

    def sent(self, url: str, headers: dict[str, str]) -> dict[str, str]:
        """The headers for a request to `url`: `headers` with the cookies that fit it (after a --header Cookie)."""
        if self.jar is None:
            return headers
        request = Request(url)
        self.jar.add_cookie_header(request)
        value = request.get_header("Cookie")
        if not value or _CONTROL.search(value):
            return headers
        own = next((name for name in headers if name.lower() == "cookie"), None)
        if own is None:
            return {**headers, "Cookie": value}
        return {**{k: v for k, v in headers.items() if k != own}, "Cookie": f"{headers[own]}; {value}"}

    def take(self, url: str, set_cookies: tuple[str, ...]) -> None:
        """The cookies a redirect from `url` set, kept for the rest of the chain if the rules allow them."""
        if not set_cookies:
            return
        if self.jar is None:
            self.jar = CookieJar(_Policy())
        self.jar.extract_cookies(_Answer(set_cookies), Request(url))  # type: ignore[arg-type]


class _Policy(DefaultCookiePolicy):
    """http.cookiejar's rules, stricter as RFC 6265 is: a cookie set without a Domain (a jar's FALSE) goes to its
    host alone, not the host's subdomains; a request to an IP address gets only cookies of that address."""

    def set_ok_domain(self, cookie: Cookie, request: Request) -> bool:  # type: ignore[override]
        return _fits_address(cookie, request) and super().set_ok_domain(cookie, request)

    def return_ok_domain(self, cookie: Cookie, request: Request) -> bool:  # type: ignore[override]
        if not cookie.domain_specified:  # its own host, as written (http.cookiejar would want `localhost.local`)
            return cookie.domain in eff_request_host(request)
        return _fits_address(cookie, request) and super().return_ok_domain(cookie, request)


def _fits_address(cookie: Cookie, request: Request) -> bool:
    """False for a request to an IP address and a cookie of any other domain; True for a request to a name."""
    host = request_host(request).strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return cookie.domain.lstrip(".").strip("[]") == host


class _Answer:
    """What `CookieJar.extract_cookies` reads of a response: `.info().get_all("Set-Cookie")`."""

    __slots__ = ("set_cookies",)

    def __init__(self, set_cookies: tuple[str, ...]) -> None:
        self.set_cookies = set_cookies

    def info(self) -> _Answer:
        return self

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return list(self.set_cookies) if name.lower() == "set-cookie" else default
