"""A document written anew, atomically: a temporary file in its folder, its mode kept, then `os.replace`.

A file that changed since pcheck read it (its bytes differ from those read) is not written: an `InputError`
names it, and the edit someone made meanwhile is kept.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from pcheck.errors import InputError


def replace_file(path: str, data: bytes, read: bytes) -> None:
    """Write `data` to `path` in place of `read`, the bytes pcheck read there; InputError if they changed since.

    A symbolic link stays one: the file it points at is what is written anew (replacing the link itself
    by a regular file would leave what it pointed at as it was, and the repository with a file for a link).
    """
    path = os.path.realpath(path)
    try:
        with open(path, "rb") as f:
            now = f.read(len(read) + 1)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read again before writing ({exc.strerror or exc}): not written") from exc
    if now != read:
        raise InputError(f"{path}: changed since pcheck read it: not written")
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".pcheck-fix")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:  # a full disk, or Ctrl-C mid-write: no half-written copy left beside the file
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise InputError(f"{path}: cannot be written ({exc.strerror or exc}): left as it was") from exc
        raise
