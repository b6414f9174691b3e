"""The one interface a run hands its URLs to, whether they are checked on this machine or a Ray cluster.

Both distributors share the ledger (exactly one result per occurrence), the
host scheduler (`run.hosts`: per-host caps, one place) and the interrupt
rules (`run.signals`); they differ only in where the checks run.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Protocol

from pcheck.config import Config
from pcheck.models import CheckResult, HostBackoff, Target


class _NothingYet:
    def __repr__(self) -> str:
        return "NOTHING_YET"


#: What a live input (`pcheck crawl`'s, whose next links come from pages still being fetched) yields when it
#: has no item now but will have: the distributor reads it again once results have come in.
NOTHING_YET = _NothingYet()


class Distributor(Protocol):
    """A run of checks: a context manager whose `results()` yields one CheckResult per input item."""

    config: Config
    #: True once Ctrl-C (or `cancel()`) ended the run early.
    interrupted: bool
    #: Why the input was not read to its end after an interrupt (None: it was, or no interrupt).
    input_cut: str | None

    def __enter__(self) -> Distributor: ...

    def __exit__(self, *exc: object) -> None: ...

    def results(self, items: Iterable[Target | CheckResult],
                idle: Callable[[], None] | None = None) -> Iterator[CheckResult]:
        """Check every Target; yield a result for each item, in completion order.

        `idle` is called before each wait, so a reporter can flush.
        """
        ...

    def cancel(self) -> None:
        """Stop as a first Ctrl-C would: what is left is reported `cancelled`."""
        ...

    def rechecks_waiting(self) -> int:
        """Transient failures waiting for their late re-check (run/rechecks.py), for the progress display."""
        ...

    def backoffs(self) -> list[HostBackoff]:
        """The hosts that answered 429/503, and how they were slowed, for the report's hints."""
        ...
