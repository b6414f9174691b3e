"""Small servers for answers the local site (pcheck.lab) cannot give, and how to read what a server saw."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import trustme


def headers_of(entry) -> dict[str, list[str]]:
    """The headers of a request the lab logged, by lower-case name, each with every value sent."""
    out: dict[str, list[str]] = {}
    for name, value in entry.headers:
        out.setdefault(name.lower(), []).append(value)
    return out


class RawSite:
    """One fixed raw HTTP response per connection, for answers the lab cannot give."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head, self.body = head, body
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                try:
                    conn.sendall(self.head + (b"" if data.startswith(b"HEAD ") else self.body))
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def tls_site(tmp_path: Path, *names: str):
    """A trustme CA, a server context with a certificate for `names`, and the CA written as PEM."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return server, ca_path
