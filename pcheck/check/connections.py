"""The urllib3 connection and pool classes a Transport uses: what each request's slot and guard need to reach.

A thread's request is known to them only through `current` (its deadline slot and
net guard, set by the Transport before each send): urllib3 builds connections deep
inside its pool, where no argument of pcheck's can reach.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError

#: Interim (1xx) answers read past before the final one; a server sending more is not speaking HTTP.
MAX_INTERIM_RESPONSES = 16
#: A status code is exactly three ASCII digits (RFC 9112 §4); int() would also take '+200', '2_00', '0200'.
_STATUS_CODE = re.compile(r"[0-9]{3}")


current = threading.local()  # .slot: the slot of the request this thread is sending now


class _WatchedMixin:
    """Lets the watchdog reach the socket, and the net guard pick the address connected to."""

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        slot = getattr(current, "slot", None)
        if slot is not None:
            slot.attach(self)  # type: ignore[arg-type]
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def _new_conn(self):  # type: ignore[no-untyped-def]
        guard = getattr(current, "guard", None)
        if guard is None:
            return super()._new_conn()  # type: ignore[misc]
        try:
            address = guard.address_for(self._dns_host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined, arg-type]
        # Connect to the checked address itself; TLS still verifies the name in self.host.
        dns_host = self._dns_host  # type: ignore[has-type]
        self._dns_host = address
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = dns_host


class _FinalResponse(http.client.HTTPResponse):
    """http.client's response, read past every interim answer to the final one.

    http.client skips only 100 Continue: a 102 or a 103 Early Hints became the
    answer, and the real one was left on the kept-alive connection for the next
    request to read as its own (RFC 9110 §15.2 asks clients to read past them).
    101 is final but switches protocols, so its connection is never reused.
    """

    def _read_status(self):  # type: ignore[no-untyped-def]
        for _ in range(MAX_INTERIM_RESPONSES + 1):
            version, status, reason = self._strict_status()
            if not 100 <= status <= 199 or status == 101:
                return version, status, reason
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]  # hints pcheck has no use for
        self._close_conn()  # type: ignore[attr-defined]
        raise http.client.BadStatusLine(f"more than {MAX_INTERIM_RESPONSES} interim (1xx) responses")

    def _strict_status(self) -> tuple[str, int, str]:
        line = self.fp.readline(http.client._MAXLINE + 1)  # type: ignore[attr-defined]
        if len(line) > http.client._MAXLINE:  # type: ignore[attr-defined]
            raise http.client.LineTooLong("status line")
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        text = str(line, "iso-8859-1")
        version, code, reason = (text.split(None, 2) + ["", "", ""])[:3]
        if not version.startswith("HTTP/") or not _STATUS_CODE.fullmatch(code) or int(code) < 100:
            self._close_conn()  # type: ignore[attr-defined]
            raise http.client.BadStatusLine(text)
        return version, int(code), reason

    def begin(self) -> None:
        super().begin()
        if self.status == 101:
            self.will_close = True


class _HTTPConnection(_WatchedMixin, HTTPConnection):
    response_class = _FinalResponse


class _HTTPSConnection(_WatchedMixin, HTTPSConnection):
    response_class = _FinalResponse


class _DetachingPoolMixin:
    """Every connection given back to the pool is first taken from its slot's watch."""

    def _put_conn(self, conn):  # type: ignore[no-untyped-def]
        slot = getattr(current, "slot", None)
        if slot is not None and conn is not None:
            slot.detach(conn)
        return super()._put_conn(conn)  # type: ignore[misc]


class HTTPPool(_DetachingPoolMixin, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class HTTPSPool(_DetachingPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection
