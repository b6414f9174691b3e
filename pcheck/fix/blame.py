"""When each line of a document was last committed (`git blame`): the time its link was written, and so
known to work, when no --cache history says since when it has been failing (`--archive`).

git is asked once per document, bounded in time. No git, a file outside a repository, a line not yet
committed: no date (the caller asks for the archive's copy closest to today instead).
"""

from __future__ import annotations

import os
import subprocess

#: Longest `git blame` of one document may take.
_GIT_TIMEOUT_S = 30.0
#: No line is written by a commit with this name: the working tree's own, not committed yet.
_UNCOMMITTED = "0" * 40


def line_dates(path: str) -> dict[int, float]:
    """The commit time (seconds since the epoch) of each committed line of `path`, by 1-based line number."""
    real = os.path.realpath(path)
    try:
        out = subprocess.run(["git", "-C", os.path.dirname(real), "blame", "--line-porcelain", "--",
                              os.path.basename(real)], capture_output=True, timeout=_GIT_TIMEOUT_S, check=False,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    dates: dict[int, float] = {}
    line, commit, when = 0, "", None
    for row in out.split(b"\n"):
        if row.startswith(b"\t"):  # the line itself ends its block
            if commit != _UNCOMMITTED and when is not None:
                dates[line] = when
            line, commit, when = 0, "", None
        elif not line:
            head = row.split(b" ")
            if len(head) >= 3 and len(head[0]) == 40 and head[2].isdigit():
                commit, line = head[0].decode("ascii", "replace"), int(head[2])
        elif row.startswith(b"committer-time "):
            when = float(row.split(b" ", 1)[1]) if row.split(b" ", 1)[1].isdigit() else None
    return dates
