"""A git repository in a test's folder for `--changed-since` and the Action: documents with broken links,
changed in every way a pull request changes them, and one left as it was at the base.

    base (tag)  unchanged.md  broken link, never touched again: not changed since `base`
                committed.md  all links alive at `base`...
    HEAD        committed.md  ...a broken link added in a commit after `base`
    (untracked) a,b:c.md      a broken link, a comma and a colon in its name
    (ignored)   ignored.md    a broken link in a file .gitignore names: not changed, as git sees it
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: A git that reads no user or system configuration and signs nothing.
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `repo`, bounded in time, with `env`'s variables too (GIT_COMMITTER_DATE); its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV | (env or {})
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          timeout=30, env=env).stdout


def changed_repo(root: Path, broken: str, alive: str) -> Path:
    """The repository above at `root` (created); `broken` and `alive` are URLs. Its tag `base` is the base."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("ignored.md\n", encoding="utf-8")
    (root / "unchanged.md").write_text(f"# Old\n\n[old]({broken}?unchanged)\n", encoding="utf-8")
    (root / "committed.md").write_text(f"# Doc\n\n[ok]({alive})\n", encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    (root / "committed.md").write_text(f"# Doc\n\n[ok]({alive})\n[new]({broken}?committed)\n", encoding="utf-8")
    git(root, "commit", "-q", "-am", "a broken link")
    (root / "a,b:c.md").write_text(f"[untracked]({broken}?untracked)\n", encoding="utf-8")
    (root / "ignored.md").write_text(f"[ignored]({broken}?ignored)\n", encoding="utf-8")
    return root
