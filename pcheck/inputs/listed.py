"""`--files-from FILE`: the inputs a file (or stdin, `-`) lists, one path a line.

Blank lines and lines starting with `#` are skipped, and the blanks around a
path are dropped (a line ending CRLF included). Paths are relative to the
working directory, as on the command line. A path that does not exist is a
usage error naming FILE and its line, before anything is checked.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from pcheck.errors import InputError
from pcheck.models import STDIN

#: Longest line read as a path; a longer one is no path (PATH_MAX is 4096 on Linux).
_MAX_PATH_BYTES = 1 << 16


def files_from(name: str, stdin: BinaryIO | None = None) -> list[str]:
    """The paths listed in the file `name` (`-`: stdin), in order; InputError names FILE:LINE at fault."""
    shown = "stdin" if name == STDIN else name
    if name == STDIN:
        return _read(stdin if stdin is not None else sys.stdin.buffer, shown)
    try:
        with open(name, "rb") as stream:
            return _read(stream, shown)
    except FileNotFoundError:
        raise InputError(f"--files-from {name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--files-from {name}: a directory, not a list of paths") from None
    except OSError as exc:
        raise InputError(f"--files-from {name}: {exc.strerror or exc}") from None


def _read(stream: BinaryIO, shown: str) -> list[str]:
    paths = []
    for number, raw in enumerate(iter(lambda: stream.readline(_MAX_PATH_BYTES + 1), b""), 1):
        if len(raw) > _MAX_PATH_BYTES:
            raise InputError(f"{shown}:{number}: a line over {_MAX_PATH_BYTES} bytes is not a path (--files-from)")
        text = raw.strip()
        if not text or text.startswith(b"#"):
            continue
        if b"\0" in text:
            raise InputError(f"{shown}:{number}: a NUL byte is in no path (--files-from)")
        path = os.fsdecode(text)
        if not os.path.lexists(path):
            raise InputError(f"{shown}:{number}: {path}: no such file or directory (--files-from)")
        paths.append(path)
    return paths
