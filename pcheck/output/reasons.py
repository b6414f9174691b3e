"""Why a link is not alive, in the words a person uses: "404 Not Found", "connection refused",
"TLS certificate expired", "timed out after 10 s (3 attempts)".

The reports people read (text, Markdown) say this; the machine formats keep
the error kind and the raw detail. The error kind is the classification; the
detail (the exception's own words, OpenSSL's verify message) only picks the
phrase within a kind, and is shown as it is when no phrase fits.
"""

from __future__ import annotations

import http
import re
import time
from typing import Any

from pcheck.models import ARGS_SOURCE, ErrorKind, Outcome, is_transient

_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}
_PHRASES.update({999: "Request denied (LinkedIn's bot wall)", 429: "Too Many Requests"})

# Within a kind, what the exception said picks the words (first match wins).
_TLS = (
    ("certificate has expired", "TLS certificate expired"),
    ("certificate is not yet valid", "TLS certificate not valid yet"),
    ("self-signed certificate", "TLS certificate is self-signed"),
    ("self signed certificate", "TLS certificate is self-signed"),
    ("unable to get local issuer certificate", "TLS certificate from an unknown authority"),
    ("mismatch", "TLS certificate is for another host name"),
    ("doesn't match", "TLS certificate is for another host name"),
    ("certificate revoked", "TLS certificate revoked"),
    ("wrong_version_number", "TLS handshake failed (is the port plain HTTP?)"),
    ("unsupported protocol", "TLS version refused"),
    ("handshake failure", "TLS handshake refused"),
)
_CONNECTION = (
    ("refused", "connection refused"),
    ("reset", "connection reset by the server"),
    ("remotedisconnected", "the server closed the connection without answering"),
    ("broken pipe", "the server closed the connection"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
)
_DNS = (
    ("name or service not known", "no such host (DNS)"),
    ("nodename nor servname", "no such host (DNS)"),
    ("no address associated", "the host has no address (DNS)"),
    ("temporary failure", "DNS lookup failed, temporarily"),
)
_BY_KIND = {ErrorKind.TLS: (_TLS, "TLS failed"), ErrorKind.CONNECTION: (_CONNECTION, "connection failed"),
            ErrorKind.DNS: (_DNS, "DNS lookup failed")}
_FIXED = {
    ErrorKind.PROTOCOL: "the answer was not valid HTTP",
    ErrorKind.PRIVATE_ADDRESS: "a private address (--exclude-private)",
    ErrorKind.WORKER_CRASHED: "not checked: its worker process kept crashing",
    ErrorKind.LOCAL_RESOURCES: "not checked: this machine ran short of open files, memory or ports",
    ErrorKind.CANCELLED: "cancelled: the run was interrupted first",
    ErrorKind.INTERNAL: "not checked: an error in pcheck (please report it)",
}
_MORE_THAN = re.compile(r"more than (\d+)")
#: What run/rechecks.py adds to a detail.
_RECHECKED = re.compile(r"(failed again on a re-check [^;]*|alive on a re-check [^;]*|not re-checked: [^;]*)")


def status_text(status: int) -> str:
    """`404 Not Found`; a status no standard names is shown alone."""
    phrase = _PHRASES.get(status)
    return f"{status} {phrase}" if phrase else str(status)


def reason(r: Any, timeout_s: float | None = None, fail_after: int = 1, accept_transient: bool = False) -> str:
    """Why `r` (a CheckResult, or a row read back as one) is what it is, in plain words: whether a failure
    is transient; with --cache, since when and for how many runs it has failed (and, under --fail-after,
    whether that fails the run)."""
    said = _why(r, timeout_s)
    hops = r.redirects
    if hops and getattr(r, "final_url", None) and r.error is None and r.status is not None:
        # What is known of a redirected answer: the last status and the hops before it (a loop or too many
        # hops say it themselves). -v shows where it ended: `URL -> final URL  (alive: 200 OK after 2 redirects)`.
        said = ("alive: " if r.outcome is Outcome.ALIVE else "") + status_text(r.status) + \
            f" after {hops} redirect{'s' if hops != 1 else ''}" + (f", {r.detail}" if r.detail else "")
    if r.error is not None and r.detail:  # the words above replace the raw detail; keep what the re-check said
        said += "".join(f", {note}" for note in _RECHECKED.findall(r.detail))
    if r.outcome is Outcome.BROKEN and is_transient(r.status, r.error, r.detail):
        said += "; transient" + (": not failing the run (--accept-transient)" if accept_transient else "")
    runs = getattr(r, "failed_runs", None)
    if not runs:
        return said
    since = getattr(r, "failing_since", None)
    when = f" since {time.strftime('%Y-%m-%d', time.gmtime(since))}" if since is not None else ""
    said += f", broken{when}, {runs} run{'s in a row' if runs > 1 else ''}"
    if runs < fail_after:
        said += f": not failing the run until {fail_after} runs"
    return said


def _why(r: Any, timeout_s: float | None) -> str:
    error, detail = r.error, r.detail
    if error is None:
        if r.status is not None and r.outcome is not Outcome.ALIVE:
            said = status_text(r.status)
            return f"{said}, {detail}" if detail else said
        return detail or r.outcome.value
    if error is ErrorKind.TIMEOUT:
        attempts = getattr(r, "attempts", 0) or 1
        after = f" after {timeout_s:g} s" if timeout_s else ""
        return f"timed out{after}" + (f", {attempts} attempts" if attempts > 1 else "")
    if error is ErrorKind.REDIRECT_LOOP:
        return f"redirect loop after {r.redirects} hop{'s' if r.redirects != 1 else ''}"
    if error is ErrorKind.TOO_MANY_REDIRECTS:
        most = _MORE_THAN.search(detail or "")
        return f"more than {most.group(1)} redirects" if most else "too many redirects"
    if error in (ErrorKind.INVALID_URL, ErrorKind.MISSING_FRAGMENT, ErrorKind.UNSUPPORTED, ErrorKind.REDIRECTED,
                 ErrorKind.INSECURE_LINK, ErrorKind.SOFT_404):
        prefix = "not a valid URL: " if error is ErrorKind.INVALID_URL else ""
        return prefix + (detail or error.value)
    if error is ErrorKind.MISSING_FILE:
        return "no such file or folder"
    if error is ErrorKind.PROXY:
        lowered = (detail or "").lower()
        words = "it asks for credentials (407)" if " 407" in lowered else next(
            (words for needle, words in _CONNECTION if needle in lowered), detail or "it failed")
        return f"not checked: the proxy failed: {words}"
    if error in _BY_KIND:
        phrases, fallback = _BY_KIND[error]
        lowered = (detail or "").lower()
        words = next((words for needle, words in phrases if needle in lowered), fallback)
        # The proxy failed, not the link (pcheck.check.proxies words its detail so): say which.
        return f"the proxy: {words}" if lowered.startswith("proxyerror: proxy ") else words
    return _FIXED.get(error, error.value)


def as_written(r: Any) -> str:
    """The URL a person reads for `r`: a local link as written in its document (`usage.md#setup`), never
    its `file:///` URL, this machine's own path and a dead link anywhere else; any other URL as it is."""
    link = getattr(r, "link", None)
    return link if link is not None and r.url.startswith("file:") else r.url


def where(source: str | None, line: int | None, column: int | None) -> str:
    """`file:line:col`, as compilers and linters say it (editors and terminals make it a link)."""
    if source is None or source == ARGS_SOURCE:
        return "(command line)"
    if line is None:
        return source
    return f"{source}:{line}:{column}" if column is not None else f"{source}:{line}"
