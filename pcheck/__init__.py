"""pcheck: a fast bulk link checker (processes x threads, Go-style)."""

__version__ = "0.1.0"

from .models import CheckResult, ErrorKind, Outcome, Summary  # noqa: E402

__all__ = ["CheckResult", "ErrorKind", "Outcome", "Summary", "check_urls", "__version__"]


def __getattr__(name):
    # Lazy, so `import pcheck` (and `pcheck --help`) does not pay for requests.
    if name == "check_urls":
        from .api import check_urls

        return check_urls
    raise AttributeError(name)
