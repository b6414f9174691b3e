"""Walk a folder named as INPUT for document files, as git and ripgrep would see it.

By default the walk skips hidden entries (a name starting with ".") below the
folder it was given, and whatever `.gitignore` and `.ignore` files say to
ignore: patterns compiled by pathspec's GitIgnoreSpec, applied with git's rules
(relative to their file's folder, `!` negation, `dir/`, anchored `/x`, `**`; the
last pattern matching the entry itself decides, see `_verdict`):

- Ignore files are read in the walked folder and every folder below it, and,
  inside a git repository, in the folders above it up to the repository's top
  (the nearest folder holding `.git`), as git, ripgrep and lychee do.
- The nearest ignore file with a pattern matching an entry decides (a deeper
  file overrides a shallower one; within a file, git's last-match rule). Every
  `.ignore` is asked before any `.gitignore`, so a `.ignore` can re-include what
  a `.gitignore` leaves out (ripgrep's precedence).
- An ignored or hidden folder is not descended into; the folder the walk was
  given is always walked, even if hidden or ignored from above (then the ignore
  files above it are not applied: the user named it). `.git` is never walked
  into, not even with `hidden`.
- A pattern pathspec cannot compile is skipped with a warning naming the file
  and line (git accepts such a file and the line matches nothing there); an
  ignore file that exists but cannot be read is a usage error (`InputError`).

Symlinked folders are not followed (no loops); symlinked files are yielded when
they point inside the repository the walk is in (else inside the walked folder),
and skipped with a warning when they point out of it (as git stores them: a
link, not what it points at). Pipes, sockets
and devices are never yielded.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pathspec
from pathspec import GitIgnoreSpec

from pcheck.errors import InputError

IGNORE_FILES = (".ignore", ".gitignore")  # asked in this order: the first with a matching pattern decides
NEVER_WALKED = ".git"
#: The largest ignore file read (git's own are kilobytes): a bigger one is refused, never read whole.
MAX_IGNORE_FILE_BYTES = 8 * 1024 * 1024  # a repository's internals: never documents, and often thousands of files

log = logging.getLogger("pcheck")
#: Warnings raised inside pathspec are about a pattern; any other is some other thread's.
_PATHSPEC_DIR = os.path.dirname(pathspec.__file__)


@dataclass(frozen=True)
class _Rule:
    """One pattern line, as pathspec's GitIgnoreSpec compiles it."""

    ignores: bool  # False for a `!` pattern
    folders_only: bool  # a pattern ending in "/"
    as_folder: bool  # matched against "path/" (folders_only, but not `x/**/`: see _load)
    regex: re.Pattern[str]  # pathspec's: it also matches what lies below a match ("build/a.md" for `build/`)
    at_end: re.Pattern[str]  # the same, ending where the path ends


@dataclass(frozen=True)
class _Layer:
    """The rules of one ignore file; `base` is its folder relative to the walk's top ("" or "a/b/")."""

    base: str
    kind: str  # one of IGNORE_FILES
    rules: tuple[_Rule, ...]


def walk(root: str, extensions: set[str], ignore_files: bool = True, hidden: bool = False,
         skip: Callable[[str], bool] | None = None) -> Iterator[str]:
    """Paths of the files under `root` whose extension is in `extensions`, folder by folder, names sorted;
    `skip` (--exclude-path) leaves out a file or folder by its path (a folder's ending in "/")."""
    top, prefix = _top(root) if ignore_files else (root, "")
    layers: tuple[_Layer, ...] = ()
    if ignore_files and prefix:
        layers = _parents(top, prefix)
        if _ignored_on_the_way(prefix, layers):
            layers = ()  # the user named a folder ignored from above: walk it with its own files only
    pending = {root: layers}
    # What a symlinked file may point into: the repository the walked folder is in, else that folder.
    inside = os.path.realpath(_top(root)[0])
    for folder, dirs, files in os.walk(root, onerror=_unlisted):  # os.walk's default skips it silently
        chain = pending.pop(folder)
        rel = prefix + _relative(root, folder)  # "" or "a/b/", relative to the top
        if ignore_files:
            chain += _read_layers(folder, rel, files)
        kept = []
        for name in sorted(dirs):
            if _skipped(name, rel + name, True, chain, hidden) or (skip and skip(os.path.join(folder, name) + "/")):
                continue
            kept.append(name)
            pending[os.path.join(folder, name)] = chain
        dirs[:] = kept
        for name in sorted(files):
            if "." not in name or name.rsplit(".", 1)[-1].lower() not in extensions:
                continue
            path = os.path.join(folder, name)
            if _skipped(name, rel + name, False, chain, hidden) or (skip and skip(path)):
                continue
            if os.path.islink(path) and not _inside(os.path.realpath(path), inside):
                # git stores a link, not what it points at; lychee does not follow it either. Read,
                # `docs/env.md -> /proc/self/environ` would put the environment in the report.
                log.warning("warning: %s: a symbolic link out of %s, not read", path, inside)
                continue
            # Skip pipes, sockets and devices (opening a FIFO would wait for a writer);
            # keep a dangling symlink: open_sources reports it as a file that is not there.
            if os.path.isfile(path) or not os.path.exists(path):
                yield path


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _skipped(name: str, path: str, is_dir: bool, chain: tuple[_Layer, ...], hidden: bool) -> bool:
    if is_dir and name == NEVER_WALKED:
        return True
    if name.startswith(".") and not hidden:
        return True
    return _ignored(path, is_dir, chain)


def _ignored(path: str, is_dir: bool, chain: tuple[_Layer, ...]) -> bool:
    """Whether the nearest ignore file with a pattern matching `path` (relative to the top) ignores it."""
    for kind in IGNORE_FILES:
        for layer in reversed(chain):  # deepest first
            if layer.kind == kind and path.startswith(layer.base):
                verdict = _verdict(layer.rules, path[len(layer.base):], is_dir)
                if verdict is not None:
                    return verdict
    return False


def _verdict(rules: tuple[_Rule, ...], path: str, is_dir: bool) -> bool | None:
    """git's rule: the last pattern matching the path itself decides (True: ignored; None: none matched).

    pathspec's regexes also match the files below a matched folder (its `ps_d` group marks the
    "/" after the folder). The walk never enters an ignored folder, so only a match of the entry
    itself counts here: else `!x/` would re-include x/build/a.md, and `logs/**` (what is inside
    logs, so that `!logs/keep.md` can re-include one) would ignore the folder logs itself.
    """
    for rule in reversed(rules):
        if rule.folders_only and not is_dir:
            matched = False
        elif rule.as_folder:
            matched = rule.at_end.search(path + "/") is not None
        else:
            found = rule.regex.search(path)
            matched = found is not None and not found.groupdict().get("ps_d")
        if matched:
            return rule.ignores
    return None


def _trimmed(line: str) -> str:
    """The line without the trailing spaces git drops (an escaped one, `\\ `, stays)."""
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    return line


def _top(root: str) -> tuple[str, str]:
    """The repository's top holding `root` and root's path below it ("a/b/"); (root, "") outside a repository."""
    here = os.path.abspath(root)
    parts: list[str] = []
    while True:
        if os.path.lexists(os.path.join(here, NEVER_WALKED)):  # a folder, or a file in a worktree or submodule
            return here, "".join(f"{p}/" for p in reversed(parts))
        parent, name = os.path.split(here)
        if parent == here:
            return root, ""
        parts.append(name)
        here = parent


def repository_top(path: str) -> str | None:
    """The top of the repository holding `path` (the nearest folder with `.git`), or None outside one."""
    top, _ = _top(path)
    return top if os.path.lexists(os.path.join(top, NEVER_WALKED)) else None


def _parents(top: str, prefix: str) -> tuple[_Layer, ...]:
    """The ignore files of the folders from the top down to root's parent."""
    layers: tuple[_Layer, ...] = ()
    names = prefix.rstrip("/").split("/")
    folder, rel = top, ""
    for name in names:
        layers += _read_layers(folder, rel, IGNORE_FILES)  # a file not there is no patterns
        folder, rel = os.path.join(folder, name), f"{rel}{name}/"
    return layers


def _ignored_on_the_way(prefix: str, layers: tuple[_Layer, ...]) -> bool:
    """Whether root, or a folder between the top and root, is ignored by the files above root."""
    names = prefix.rstrip("/").split("/")
    return any(_ignored("/".join(names[: i + 1]), True, layers) for i in range(len(names)))


def _read_layers(folder: str, rel: str, names: Iterable[str]) -> tuple[_Layer, ...]:
    present = set(names)
    return tuple(_Layer(rel, kind, rules) for kind in reversed(IGNORE_FILES)
                 if kind in present and (rules := _load(os.path.join(folder, kind))) is not None)


def _load(path: str) -> tuple[_Rule, ...] | None:
    """The rules of one ignore file; None when it is not a file. Bad lines are skipped with a warning."""
    if os.path.islink(path):  # git (2.32 on) reads no ignore file through a link in the working tree
        log.warning("warning: %s: a symbolic link, not read as an ignore file (as git does not)", path)
        return None
    try:
        # O_NONBLOCK: a FIFO so named must not hold the walk waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                log.warning("warning: %s: not a regular file, not read as an ignore file", path)
                return None
            data = f.read(MAX_IGNORE_FILE_BYTES + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None  # a dangling link or a folder so named: no patterns, as git reads it
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc} (an ignore file that cannot be read;"
                         " --no-ignore walks without ignore files)") from None
    if len(data) > MAX_IGNORE_FILE_BYTES:
        raise InputError(f"{path}: an ignore file over {MAX_IGNORE_FILE_BYTES >> 20} MiB, not read;"
                         " --no-ignore walks without ignore files")
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    rules = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # pathspec reads `x/**/` as `x/`; git, as the folders inside x: `x/**`, folders only
                inside = _trimmed(line).endswith("/**/")
                patterns = GitIgnoreSpec.from_lines([_trimmed(line)[:-1] if inside else line]).patterns
            except (ValueError, re.error) as exc:
                log.warning("warning: %s:%d: pattern %r skipped (%s)", path, lineno, line, exc)
                continue
        for warning in caught:
            if not warning.filename.startswith(_PATHSPEC_DIR):
                continue  # catch_warnings is process-wide: another thread's warning, not this pattern's
            log.warning("warning: %s:%d: pattern %r may not match as git would (%s)",
                        path, lineno, line, warning.message)
        for pattern in patterns:
            regex = pattern.regex
            if pattern.include is not None and isinstance(regex, re.Pattern):  # None: a comment
                at_end = re.compile(f"(?:{regex.pattern})\\Z", regex.flags)
                folders_only = _trimmed(line).endswith("/")
                rules.append(_Rule(bool(pattern.include), folders_only, folders_only and not inside, regex, at_end))
    return tuple(rules)


def _relative(root: str, folder: str) -> str:
    """`folder` below `root` as "a/b/" ("" for root itself), in the forward slashes patterns use."""
    rel = os.path.relpath(folder, root)
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"


def _unlisted(exc: OSError) -> None:
    raise InputError(f"{exc.filename}: {exc.strerror or exc} (a folder that cannot be listed)")
