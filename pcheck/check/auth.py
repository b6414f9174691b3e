"""Where a GitHub token goes: `Authorization: Bearer` to GitHub's own hosts, over https, and nowhere else.

GitHub answers 429 to unauthenticated bulk checks; a token lifts the limit. It is a secret that
opens the account's repositories, so it goes only to a URL listed as https on one of
`CheckConfig.github_hosts` (github.com and api.github.com), decided once per attempt from the URL as
listed: a redirect keeps it only while the origin stays the same (the checker's
`redirect_headers` drops it at the first change of host, port or scheme, and it is never added
again), and an Authorization the user set (--header, a [hosts] table) wins over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pcheck.config import CheckConfig


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
