"""Which checked links moved for good, and how each is to be written now: the one decision `pcheck fix`
rewrites by and `check --suggest` says.

A link moved when it answered alive through redirects that were all permanent (301/308; any redirect with
`temporary`), as the checker's detail says under --redirects warn (check/policies.redirect_said). It is
rewritten when its new target can be written as it was: an absolute http(s) URL keeps its own #fragment
and never goes from https to http (fix/edits.moved_target); a relative one (resolved by --base-url) stays
relative when the page it moved to is on the same site (fix/edits.relative_target). Otherwise it is left
as written, and `Move.why` says why. A local file link never moved.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from pcheck.fix.edits import moved_target, relative_target
from pcheck.models import CheckResult, Outcome

#: How a redirected link's detail starts under --redirects warn (check/policies.redirect_said).
PERMANENT, TEMPORARY = "permanent redirect", "temporary redirect"


class Move(NamedTuple):
    """A link that moved: `new`, its target as it is to be written now; or None, and `why` it is left."""

    new: str | None
    why: str = ""


def move_of(result: CheckResult, base_url: str | None = None, temporary: bool = False) -> Move | None:
    """How a checked link that moved for good is to be written now; None when it has not moved."""
    kinds = (PERMANENT, TEMPORARY) if temporary else (PERMANENT,)
    if (result.outcome is not Outcome.ALIVE or not result.redirects or not result.final_url
            or not (result.detail or "").startswith(kinds)
            or not result.url.lower().startswith(("http://", "https://"))):
        return None
    final = result.final_url
    if result.url.lower().startswith("https://") and not final.lower().startswith("https://"):
        return Move(None, f"it moved to {final}: an https link is never made http")
    if result.link is None:
        return Move(moved_target(result.url, final))
    if base_url is None:  # resolved some other way than --base-url: no rule to write it back by
        return Move(None, f"it moved to {final}, and it is written relative")
    new = relative_target(result.link, base_url, final)
    return Move(new) if new else Move(None, f"it moved to {final}, another site: a relative link is left as written")


def moved_url(result: CheckResult, temporary: bool = False, base_url: str | None = None) -> str | None:
    """Where a checked link has moved for good, written as it is to be now; None when it has not, or stays."""
    move = move_of(result, base_url, temporary)
    return move.new if move is not None else None


def with_suggestion(result: CheckResult, base_url: str | None = None) -> CheckResult:
    """`check --suggest`: the result with the fix `pcheck fix` would make of it said (`moved to URL`)."""
    moved = moved_url(result, base_url=base_url)
    return dataclasses.replace(result, suggestion=f"moved to {moved}") if moved else result
