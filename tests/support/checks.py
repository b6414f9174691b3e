"""Stand-ins for `Checker.check`, the function each checker thread of a worker calls (worker.CheckFn).

A stand-in with another signature than the real one is worse than none: the worker calls it as
`check(url, host, anchors, method, last, page)`, a TypeError becomes an ordinary internal-error verdict, and
the test passes without testing anything. So every stand-in is registered here with `@stands_in_for_check`,
and test_fake_signatures.py holds each one's parameters to `Checker.check`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from pcheck.check.checker import Checker
from pcheck.models import Outcome, Verdict

#: Every stand-in for Checker.check in the tests: functions called as the worker calls a check function,
#: and functions taking `self` first that replace Checker.check itself.
CHECK_STAND_INS: list[Callable] = []

#: The real method, kept before any test replaces it.
REAL_CHECK = Checker.check


def stands_in_for_check(fn: Callable) -> Callable:
    CHECK_STAND_INS.append(fn)
    return fn


class UnpicklableInParent(Exception):
    """Pickles fine, fails in pickle.loads: the classic exception whose __init__ takes two arguments."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}: {b}")


@stands_in_for_check
def unpicklable_for_bad_urls(url: str, host: str | None = None, anchors: bool = False, method: str | None = None,
                             last: bool = False, page: bool = False) -> Verdict:
    """A verdict that cannot be pickled at all (a function in it) for a URL holding "bad"; alive otherwise."""
    if "bad" in url:
        return Verdict(Outcome.ALIVE, status=200, final_url=url, detail=lambda: None)  # type: ignore[arg-type]
    return Verdict(Outcome.ALIVE, status=200, final_url=url)


@stands_in_for_check
def check_unpicklable_in_parent(self: Checker, url: str, host: str | None = None, anchors: bool = False,
                                method: str | None = None, last: bool = False, page: bool = False) -> Verdict:
    """Checker.check, except that a URL holding "i=bad" gets a verdict that pickles in the worker and
    fails to unpickle in the parent."""
    if "i=bad" in url:
        return Verdict(Outcome.ALIVE, status=200, final_url=url, detail=UnpicklableInParent("a", "b"))  # type: ignore[arg-type]
    return REAL_CHECK(self, url, host, anchors, method, last, page)
