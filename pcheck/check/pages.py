"""A page's body, read when asked (its anchors for a #fragment, a sitemap): capped, as sent.

The checker asks for it only when a link names a #fragment of the page, so a
plain check still reads no body. The read is capped and runs under the
request's deadline (see Transport.fetch). Nothing of pcheck is imported here:
the transport imports it, and stays low in the import floors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from urllib3.response import HTTPResponse

#: Bytes asked of the socket per read.
_CHUNK = 256 * 1024


class Sink(Protocol):
    """Takes a body piece by piece as it arrives (pcheck.anchors.AnchorReader), so no page is held whole."""

    def feed(self, chunk: bytes) -> None: ...


#: Makes the sink for a body, given its Content-Type and Content-Encoding.
SinkFor = Callable[[str, str], Sink]


@dataclass(frozen=True, slots=True)
class Page:
    """At most `limit` bytes of a body (or the sink they went to), and whether that was all of it."""

    body: bytes
    complete: bool
    content_type: str
    #: Content-Encoding, lower case ("identity" when none): pcheck asks for none and decodes none.
    encoding: str = "identity"
    #: Where the body went instead of `body`, when the caller asked for one.
    sink: Sink | None = None


def read_page(response: HTTPResponse, limit: int, sink_for: SinkFor | None = None) -> Page:
    """Up to `limit` bytes of the body, as sent (Accept-Encoding: identity asked for no compression):
    kept, or fed to the sink `sink_for` makes, piece by piece."""
    content_type = response.headers.get("Content-Type", "")
    encoding = response.headers.get("Content-Encoding", "").strip().lower() or "identity"
    sink = sink_for(content_type, encoding) if sink_for is not None else None
    chunks, size = [], 0
    while size <= limit:
        chunk = response.read(min(_CHUNK, limit + 1 - size), decode_content=False)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:  # one byte past the limit says the body is longer; it is not the page's
            chunk = chunk[: limit - size]
        if sink is not None:
            sink.feed(chunk)
        else:
            chunks.append(chunk)
    return Page(b"".join(chunks), size <= limit, content_type, encoding, sink)
