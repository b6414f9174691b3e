"""URL rules, as pure functions on strings: the normal form, the host, origins.

A URL is normalised once, where it is read (inputs), and its key and host
travel with it to the worker, the cache and the report: no later step
spells them again, so they cannot disagree.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

# C0, space, DEL, C1 and the Unicode spaces/separators: none belongs in a URL,
# and urlsplit would silently drop some of them (bpo-43882), fetching a URL the user never wrote.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# The common case, already in normal form: lower-case scheme and host, a path, printable
# ASCII, no user info and no fragment. Such a URL is its own key, without urlsplit.
_NORMAL = re.compile(
    r"https?://((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    r"(?::([0-9]{1,5}))?/[!\x24-~]*"
)
_BRACKETED = re.compile(r"\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")

def normalise(url: str) -> tuple[str, str]:
    """(key, host): the URL with a lower-case scheme, punycode host and no fragment, and its host.

    Raises ValueError with a reason for anything that is not an absolute http(s) URL.
    """
    fast = _NORMAL.fullmatch(url)
    if fast is not None and len(fast.group(1)) <= 253 and 0 < int(fast.group(2) or 80) <= 65535 \
            and "xn--" not in fast.group(1):
        return url, fast.group(1)
    bad = _FORBIDDEN.search(url)
    if bad:
        kind = "a control character" if ord(bad.group()) < 0x20 or 0x7F <= ord(bad.group()) <= 0x9F else "whitespace"
        raise ValueError(f"holds {kind} (U+{ord(bad.group()):04X})")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("not an absolute http(s) URL")
    if not parts.netloc:
        raise ValueError("no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port ({exc})") from None
    if "\\" in parts.netloc:
        raise ValueError("holds a backslash in the host part")  # requests and browsers split it differently
    userinfo, _, hostport = parts.netloc.rpartition("@")
    raw_port = hostport.rpartition(":")[2] if ":" in hostport.rpartition("]")[2] else ""
    if raw_port and not (raw_port.isascii() and raw_port.isdigit()):
        raise ValueError(f"bad port {raw_port!r}")  # int() would read full-width digits as ASCII ones
    if port == 0:
        raise ValueError("bad port (0)")  # requests would quietly fetch port 80 instead
    host = _normalise_host(parts.hostname or "", hostport)
    netloc = (userinfo + "@" if userinfo else "") + (f"[{host}]" if ":" in host else host)
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), host


def _normalise_host(host: str, hostport: str) -> str:
    import idna  # only for hosts that are not plain ASCII; `import pcheck` stays light

    if not host:
        raise ValueError("empty host")
    if hostport.startswith("["):
        # Nothing may follow "]" but a port (urlsplit drops it), and no zone ID (it would be dropped too).
        if not _BRACKETED.fullmatch(hostport):
            raise ValueError(f"bad IPv6 address {hostport!r}")
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            raise ValueError(f"bad IPv6 address {host!r}") from None
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"bad international host name ({exc})") from None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"bad host name {host!r}")
    for label in labels:
        if label.startswith("xn--"):  # punycode written by hand must decode, as browsers require
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise ValueError(f"bad international host name {label!r} ({exc})") from None
    return host


def host_of(url: str) -> str | None:
    """The host of a URL, as normalise spells it; None when it has none that pcheck can check."""
    try:
        return normalise(url)[1]
    except ValueError:
        return None


def origin(url: str) -> tuple[str, str | None, int | None]:
    """(scheme, host, port) of a URL, the default port spelled out: what the browser's same-origin rule compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(scheme)


def changes_origin(old_url: str, new_url: str) -> bool:
    """True when scheme, host or port differ (the browser's same-origin rule)."""
    return origin(old_url) != origin(new_url)


def shown_path(path: str) -> str:
    """A local path as a person reads it: relative to the working directory when it is below it
    (`docs/usage.md`), else as it is. Never this machine's `file:///home/...`, a dead link anywhere else."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def shown_file_url(url: str) -> str:
    """A `file://` URL as `shown_path` shows its path, its #fragment kept; any other URL as it is."""
    if not url.startswith("file:"):
        return url
    parts = urlsplit(url)
    return shown_path(unquote(parts.path)) + (f"#{parts.fragment}" if parts.fragment else "")
