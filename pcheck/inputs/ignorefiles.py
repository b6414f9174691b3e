"""`.pcheckignore` (and lychee's `.lycheeignore`): the URL patterns a project keeps in a file, matched as --exclude.

The files are looked for in the working directory and at the top of every repository a local input lives
in (the nearest folder above it holding `.git`), each file read once. In one folder `.lycheeignore` is read
only when there is no `.pcheckignore` (a project moving from lychee keeps its file until it renames it).

A file holds one regular expression a line, searched for in each URL as written and in its normal form, as
`--exclude` patterns are (`inputs/filters.py`); blank lines and lines starting with `#` are skipped, the
spaces around a pattern dropped. Each pattern keeps its place (`docs/.pcheckignore:3`), which the
`excluded` record of every URL it matches names. A pattern that does not compile is a usage error naming
the file and line. The file is read safely: a FIFO, a device or a folder so named is not read (the first
two with a warning), nor is a file over MAX_IGNORE_FILE_BYTES (an error: it cannot be a list of patterns).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from typing import Iterable

from pcheck.errors import InputError
from pcheck.models import STDIN
from pcheck.urls import shown_path

#: Read in this order: in one folder, the first that exists is the one read.
IGNORE_FILE_NAMES = (".pcheckignore", ".lycheeignore")
MAX_IGNORE_FILE_BYTES = 1 << 20

log = logging.getLogger("pcheck")


def ignore_rules(local_inputs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The patterns (each with its `file:line`) of the ignore files of the working directory and of the
    repositories `local_inputs` (paths of files read) live in. Raises InputError for a bad pattern or file."""
    folders = [os.getcwd()]
    parents = {os.path.dirname(os.path.abspath(path)) for path in local_inputs if path != STDIN}
    if parents:
        from pcheck.inputs.walk import repository_top

        folders += sorted({top for top in map(repository_top, parents) if top is not None})
    rules: list[tuple[str, str]] = []
    seen: set[str] = set()
    for folder in folders:
        for name in IGNORE_FILE_NAMES:
            path = os.path.join(folder, name)
            if not os.path.lexists(path):
                continue
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                rules += _load(path)
            break
    return tuple(rules)


def _load(path: str) -> list[tuple[str, str]]:
    shown = shown_path(path)
    try:
        # O_NONBLOCK: a FIFO so named must not hold the run waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                log.warning("warning: %s: not a regular file, not read as an ignore file", shown)
                return []
            data = f.read(MAX_IGNORE_FILE_BYTES + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []  # a dangling link, a folder so named: no patterns
    except OSError as exc:
        raise InputError(f"{shown}: {exc.strerror or exc} (an ignore file that cannot be read)") from None
    if len(data) > MAX_IGNORE_FILE_BYTES:
        raise InputError(f"{shown}: an ignore file over {MAX_IGNORE_FILE_BYTES >> 10} KiB, not read")
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    rules = []
    for lineno, line in enumerate(text.split("\n"), 1):
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InputError(f"{shown}:{lineno}: pattern {pattern!r} is not a regular expression ({exc})") from None
        rules.append((pattern, f"{shown}:{lineno}"))
    return rules
