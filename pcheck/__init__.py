"""pcheck: a fast bulk link checker (processes x threads, Go-style)."""

from pcheck._version import __version__
from pcheck.models import CheckResult, ErrorKind, Outcome, Summary  # noqa: E402

__all__ = ["CheckResult", "Config", "ErrorKind", "Outcome", "Summary", "check_urls", "__version__"]


def __getattr__(name):
    # Lazy, so `import pcheck` (and `pcheck --help`) does not pay for requests.
    if name == "check_urls":
        from pcheck.run.library import check_urls

        return check_urls
    if name == "Config":  # the options check_urls takes, by their names
        from pcheck.config import Config

        return Config
    raise AttributeError(name)
