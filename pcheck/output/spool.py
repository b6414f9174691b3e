"""A private on-disk spool for what a report shows only at its end, so a million lines stay small."""

from __future__ import annotations

import errno
import sqlite3

#: Rows a spool keeps in memory before writing them to disk in one transaction (a row may hold
#: an 8 KB line of garbage: 1,000 of them stay a few MB).
SPOOL_BATCH = 1_000


class Spool:
    """Rows a report needs only at its end, in a private SQLite database on disk.

    `sqlite3.connect("")` makes a temporary database that SQLite creates with
    mode 0600 in its temp directory (SQLITE_TMPDIR, TMPDIR, /var/tmp or /tmp)
    and unlinks at once: nothing is left behind, even after SIGKILL, and
    closing it frees the disk. Until it outgrows SQLite's page cache (2 MB) it
    never touches the disk at all. SQLite sorts there too (ORDER BY, CREATE
    INDEX) within that cache. Rows wait in a list and go in SPOOL_BATCH at a
    time, one transaction each, so a row costs a tuple on the hot path.
    """

    def __init__(self, schema: str, insert: str) -> None:
        self._schema = schema
        self._insert = insert
        self._rows: list[tuple] = []
        self._db: sqlite3.Connection | None = None

    def add(self, row: tuple) -> None:
        rows = self._rows
        rows.append(row)
        if len(rows) >= SPOOL_BATCH:
            self.flush()

    def flush(self) -> sqlite3.Connection:
        """Every row so far written; the connection to query them with."""
        try:
            db = self._db
            if db is None:
                db = self._db = sqlite3.connect("")
                db.execute("PRAGMA journal_mode = OFF")  # scratch data: nothing to roll back to
                db.execute("PRAGMA synchronous = OFF")
                db.executescript(self._schema)
            if self._rows:
                db.executemany(self._insert, self._rows)
                db.commit()
                self._rows.clear()
        except sqlite3.Error as exc:  # the temp directory is full or unwritable: the report cannot be made
            raise OSError(errno.ENOSPC, f"no room for the report's spool in the temp directory ({exc})") from exc
        return db

    def close(self) -> None:
        self._rows.clear()
        if self._db is not None:
            self._db.close()
            self._db = None


def enc(text: str) -> bytes:
    # Stored as UTF-8 bytes: BLOBs compare byte-wise, and UTF-8's byte order is code point order,
    # Python's order for str. surrogatepass keeps an undecodable file name (surrogateescape) intact.
    return text.encode("utf-8", "surrogatepass")


def dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def enc_opt(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogatepass")


def dec_opt(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "surrogatepass")
