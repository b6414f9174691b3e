"""Which checked links moved for good, and where to: the one decision `pcheck fix` rewrites by and `check --suggest` says.

A link moved when it answered alive through redirects that were all permanent (301/308; any redirect with
`temporary`), as the checker's detail says under --redirects warn (check/policies.redirect_said), it is
written as an absolute http(s) URL (a local file link never moved), and its new target does not go from
https to http (fix/edits.moved_target, which keeps the link's own #fragment).
"""

from __future__ import annotations

import dataclasses

from pcheck.fix.edits import moved_target
from pcheck.models import CheckResult, Outcome

#: How a redirected link's detail starts under --redirects warn (check/policies.redirect_said).
PERMANENT, TEMPORARY = "permanent redirect", "temporary redirect"


def moved_url(result: CheckResult, temporary: bool = False) -> str | None:
    """Where a checked link has moved for good (its final URL, its own #fragment kept); None when it has not."""
    kinds = (PERMANENT, TEMPORARY) if temporary else (PERMANENT,)
    if (result.outcome is not Outcome.ALIVE or not result.redirects or not result.final_url or result.link
            or not (result.detail or "").startswith(kinds)
            or not result.url.lower().startswith(("http://", "https://"))):
        return None
    return moved_target(result.url, result.final_url)


def with_suggestion(result: CheckResult) -> CheckResult:
    """`check --suggest`: the result with the fix `pcheck fix` would make of it said (`moved to URL`)."""
    moved = moved_url(result)
    return dataclasses.replace(result, suggestion=f"moved to {moved}") if moved else result
