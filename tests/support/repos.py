"""A documentation repository as CI checks one out: git, a committed document, an untracked one, links.

`docs_repo(root, lab)` lays it out and says where each link is, so the formats for code review
(github, sarif) are tested on what a pull request's checkout looks like.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pcheck.lab import Lab
from support.gitrepo import git

#: A file name GitHub's property escaping must carry through: a comma and a colon.
ODD_NAME = "a,b:c.md"


class Link(NamedTuple):
    """A link's URL and where it is: the file relative to the repository, line and column (1-based)."""

    url: str
    file: str
    line: int
    column: int


def _place(text: str, url: str, file: str) -> Link:
    for number, line in enumerate(text.splitlines(), 1):
        if url in line:
            return Link(url, file, number, line.index(url) + 1)
    raise AssertionError(f"{url} not in {file}")


def docs_repo(root: Path, lab: Lab) -> dict[str, Link]:
    """`root` as a git repository: docs/a.md committed with a broken and a blocked link, `a,b:c.md`
    untracked with a broken link whose URL holds `%41`, ok.md committed with a link that is alive."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir()
    broken, blocked = lab.url("status/404"), lab.url("status/403", 1)
    percent, alive = lab.url("status/404?q=%41", 2), lab.url("ok")
    a_md = f"# A\n\nSee [the guide]({broken}).\nBehind a [wall]({blocked}).\n"
    odd = f"# Odd\n  Gone: <{percent}>\n"
    (root / "docs" / "a.md").write_text(a_md, encoding="utf-8")
    (root / "ok.md").write_text(f"[fine]({alive})\n", encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", "docs/a.md", "ok.md")
    git(root, "commit", "-q", "-m", "docs")
    (root / ODD_NAME).write_text(odd, encoding="utf-8")  # untracked, not ignored: checked all the same
    return {"broken": _place(a_md, broken, "docs/a.md"), "blocked": _place(a_md, blocked, "docs/a.md"),
            "odd": _place(odd, percent, ODD_NAME), "alive": Link(alive, "ok.md", 1, 8)}
