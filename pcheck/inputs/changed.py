"""`--changed-since REF`: the documents that differ between a git revision and the working tree.

A document is changed when git lists it as added, modified or renamed between
REF and the working tree (committed since REF, staged or not), or as untracked
and not ignored. Files are compared by real path, so a document reached
through a symlinked folder or `..` is still found. What is not a local file
(URL arguments, stdin, a sitemap's URL) is no file of a repository, and is kept.

git is asked once per repository the inputs are in (a file belongs to the
deepest repository already met above it, else git says which), every call
bounded in time; a file in a submodule counts as the outer repository sees it.
Outside a git repository, with no git to run, or with a REF git does not know,
the run stops before anything is checked (ConfigError/InputError: exit 2).
"""

from __future__ import annotations

import os
import subprocess
from typing import Iterable

from pcheck.errors import ConfigError, InputError
from pcheck.models import STDIN

#: Longest a git command may take: a diff of a large repository is seconds, never minutes.
_GIT_TIMEOUT_S = 120.0
_FLAG = "--changed-since"


def keep_changed(names: Iterable[str], ref: str, where: str = ".") -> tuple[set[str], int]:
    """Of the local files `names`, those changed since `ref` (as given), and how many were asked about.

    `where`: the folder whose repository is asked when `names` holds no local file (so that a wrong REF
    is said even then).
    """
    if not ref or ref.startswith("-"):
        raise ConfigError(f"{_FLAG} {ref!r}: not a git revision")
    changed: dict[str, frozenset[str]] = {}  # repository top -> real paths of its changed files
    kept, asked = set(), 0
    for name in names:
        asked += 1
        real = os.path.realpath(name)
        top = _top_holding(real, changed)
        if top is None:
            top = _toplevel(os.path.dirname(real), name)
            changed[top] = _changed_in(top, ref)
        if real in changed[top]:
            kept.add(name)
    if not changed:
        top = _toplevel(os.path.realpath(where), where)
        _changed_in(top, ref)
    return kept, asked


def is_repository_file(kind: str, name: str) -> bool:
    """Whether a source is a local file (filtered by --changed-since) rather than a URL or stdin."""
    return kind in ("file", "document") and name != STDIN


def _top_holding(real: str, known: dict[str, frozenset[str]]) -> str | None:
    """The deepest known repository top that `real` is under."""
    best = None
    for top in known:
        if real.startswith(top.rstrip(os.sep) + os.sep) and (best is None or len(top) > len(best)):
            best = top
    return best


def _toplevel(folder: str, named: str) -> str:
    out = _git(folder, ["rev-parse", "--show-toplevel"], f"{named}: not in a git repository ({_FLAG} compares "
                                                        "with git)", InputError)
    return os.path.realpath(os.fsdecode(out.rstrip(b"\n")))


def _changed_in(top: str, ref: str) -> frozenset[str]:
    """Real paths of the files of the repository at `top` changed since `ref`, untracked ones included."""
    commit = _git(top, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                  f"{_FLAG} {ref}: no such revision in the git repository {top} (a shallow clone? fetch it)",
                  ConfigError).strip().decode()
    diff = _git(top, ["diff", "--name-only", "-z", "--no-renames", "--diff-filter=AMR", commit, "--"],
                f"{_FLAG} {ref}: git diff failed in {top}", ConfigError)
    untracked = _git(top, ["ls-files", "-z", "--others", "--exclude-standard"],
                     f"{_FLAG} {ref}: git ls-files failed in {top}", ConfigError)
    paths = [p for p in (diff + untracked).split(b"\0") if p]
    return frozenset(os.path.realpath(os.path.join(top, os.fsdecode(p))) for p in paths)


def _git(folder: str, args: list[str], failure: str, error: type[Exception]) -> bytes:
    """git's stdout in `folder`; `error(failure)`, with git's own words, if it fails."""
    command = ["git", "-c", "core.quotepath=off", "-C", folder, *args]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=_GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ConfigError(f"{_FLAG} needs git, and no `git` command was found") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{_FLAG}: git took over {_GIT_TIMEOUT_S:g} s in {folder}: {' '.join(args)}") from None
    except OSError as exc:
        raise ConfigError(f"{_FLAG}: cannot run git: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        said = os.fsdecode(proc.stderr).strip().splitlines()
        raise error(failure + (f": {said[-1]}" if said and "--quiet" not in args else ""))
    return proc.stdout
