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

    #: False when the sink can judge nothing of this body (not HTML, encoded): it is then not read at all.
    wanted: bool

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
    #: The body's own time bound ran out first: `complete` is False, and what was read is a part of it.
    timed_out: bool = False


def read_page(response: HTTPResponse, limit: int, sink_for: SinkFor | None = None,
              cut_off: Callable[[], bool] = lambda: False) -> Page:
    """Up to `limit` bytes of the body, as sent (Accept-Encoding: identity asked for no compression):
    kept, or fed to the sink `sink_for` makes, piece by piece; none at all when the sink wants none.

    `cut_off()` says whether the body's time bound has run out (its connection is then cut): whatever
    that does to the read, the page is what arrived before, marked `timed_out`.
    """
    content_type = response.headers.get("Content-Type", "")
    encoding = response.headers.get("Content-Encoding", "").strip().lower() or "identity"
    sink = sink_for(content_type, encoding) if sink_for is not None else None
    if sink is not None and not sink.wanted:
        return Page(b"", False, content_type, encoding, sink)
    chunks, size = [], 0
    while size <= limit:
        try:
            chunk = response.read(min(_CHUNK, limit + 1 - size), decode_content=False)
        except Exception:
            if not cut_off():
                raise
            chunk = b""
        if not chunk:
            if cut_off():
                return Page(b"".join(chunks), False, content_type, encoding, sink, timed_out=True)
            break
        size += len(chunk)
        if size > limit:  # one byte past the limit says the body is longer; it is not the page's
            chunk = chunk[: limit - size]
        if sink is not None:
            sink.feed(chunk)
            if not sink.wanted:  # it has given up on this body (it cannot be read): read no more of it
                return Page(b"", False, content_type, encoding, sink)
        else:
            chunks.append(chunk)
    return Page(b"".join(chunks), size <= limit, content_type, encoding, sink)


class HtmlBody:
    """A crawled page's body, kept (up to the read's cap) when it is HTML sent as asked (no Content-Encoding):
    what `pcheck crawl` reads links in. Any other body (an image, a PDF) is not read at all."""

    def __init__(self, content_type: str, encoding: str) -> None:
        lowered = content_type.lower()
        self.wanted = encoding == "identity" and ("html" in lowered or not lowered.strip())
        self.chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)
