"""Where credentials go: a GitHub token, --basic-auth; which headers are credentials a redirect drops.

A GitHub token goes as `Authorization: Bearer` to GitHub's own hosts, over https, and nowhere else.

GitHub answers 429 to unauthenticated bulk checks; a token lifts the limit. It is a secret that
opens the account's repositories, so it goes only to a URL listed as https on one of
`CheckConfig.github_hosts` (github.com and api.github.com), decided once per attempt from the URL as
listed: a redirect keeps it only while the origin stays the same (`redirect_headers`
drops it at the first change of host, port or scheme, and it is never added again), and an Authorization the user set (--header, a [hosts] table) wins over it.

`--basic-auth 'REGEX USER:PASSWORD'` is decided the same way, once per attempt from the URL as listed
(the first rule whose regex it matches), dropped at the first change of origin, and it wins over an
Authorization from --header or the token: it names these URLs. A [hosts] table's `basic_auth` is one of
that host's headers (cli/configfile.py), sent to that host only, as its other headers are.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pcheck.config import CheckConfig

#: Headers that carry a secret, by name: dropped at the first redirect that leaves the origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
#: A --header whose name holds one of these is taken for a credential too (X-Api-Key, PRIVATE-TOKEN, X-Session-Id).
CREDENTIAL_WORDS = ("token", "key", "secret", "session", "auth")


def token_headers(url: str, config: CheckConfig) -> dict[str, str] | None:
    """The header carrying the GitHub token for a request to `url` that starts a chain, or None."""
    token = config.github_token
    if not token or not url.startswith("https://"):
        return None
    host = urlsplit(url).hostname or ""
    if host not in config.github_hosts or _user_authorization(config, host):
        return None
    return {"Authorization": f"Bearer {token}"}


def _user_authorization(config: CheckConfig, host: str) -> bool:
    """True when --header or the host's [hosts] table already sends an Authorization."""
    policy = config.host_policy(host) if config.hosts else None
    named = [name for name, _ in config.headers] + [name for name, _ in (policy.headers if policy else ())]
    return any(name.lower() == "authorization" for name in named)


def basic_auth_headers(url: str, headers: dict[str, str], rules: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """`headers` with `Authorization: Basic` of the first --basic-auth rule whose regex `url` matches (else as is)."""
    value = next((value for pattern, value in rules if re.search(pattern, url)), None)
    if value is None:
        return headers
    return {**{name: v for name, v in headers.items() if name.lower() != "authorization"}, "Authorization": value}


def listed_credentials(url: str, headers: dict[str, str], config: CheckConfig) -> dict[str, str]:
    """`headers` (--header's) with the credentials for the URL as listed: the GitHub token, then --basic-auth.
    Each is dropped as --header's credentials are, at the first hop that leaves the origin."""
    token = token_headers(url, config) if config.github_token else None
    if token:
        headers = {**headers, **token}
    return basic_auth_headers(url, headers, config.basic_auth) if config.basic_auth else headers


def is_credential(name: str) -> bool:
    """True for a header name that carries a secret, by name: Authorization, X-Api-Key, PRIVATE-TOKEN..."""
    lowered = name.lower()
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


def redirect_headers(headers: dict[str, str], leaves_origin: bool) -> dict[str, str]:
    """The headers a redirect carries on (requests' should_strip_auth, stricter): credentials never cross a
    change of origin (`leaves_origin`: urls.changes_origin), an upgrade to https or a downgrade to http
    included; once dropped they stay dropped, even if the chain comes back. Same object when nothing changes."""
    if not leaves_origin or not any(is_credential(name) for name in headers):
        return headers
    return {name: value for name, value in headers.items() if not is_credential(name)}
