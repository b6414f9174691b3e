"""How a document's bytes become text: its byte-order mark, then an HTML page's declared charset, else UTF-8.

Windows tools write UTF-16 with a BOM; read as UTF-8 such a file has a NUL
between every two characters and no link is found in it: a silent pass. So a
BOM decides, as browsers and editors let it; an HTML page without one may say
its charset in a `<meta>` (the first 1024 bytes, as the HTML standard's
prescan); anything else is UTF-8, undecodable bytes shown as U+FFFD (a link
holding one is reported invalid). Bytes holding NUL with no BOM are not a
text document at all: `None`, and the caller says so in a record.
"""

from __future__ import annotations

import codecs
import re

#: Byte-order marks, longest first (UTF-32's LE mark starts with UTF-16's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: `<meta charset="x">` or `<meta http-equiv="Content-Type" content="text/html; charset=x">`.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
#: How far into an HTML page its charset declaration is looked for (the HTML standard's prescan).
PRESCAN_BYTES = 1024
#: Charsets a page may declare that would make its markup itself unreadable: UTF-8 is read instead
#: (the HTML standard maps a declared UTF-16 to UTF-8, since a page that says so in ASCII is not UTF-16).
_NOT_AS_DECLARED = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})


def decode_document(data: bytes, fmt: str) -> str | None:
    """The text of a document in format `fmt` ("markdown", "html", "text"); None if it is not text."""
    found = document_encoding(data, fmt)
    if found is None:
        return None
    bom, encoding = found
    return data[len(bom):].decode(encoding, "replace")


def document_encoding(data: bytes, fmt: str) -> tuple[bytes, str] | None:
    """How a document is encoded: its byte-order mark (b"" if none) and the codec of the rest; None if it is
    not text. `pcheck fix` writes an edited document back with both."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return bom, encoding
    if b"\x00" in data:
        return None
    return b"", (_declared(data[:PRESCAN_BYTES]) if fmt == "html" else None) or "utf-8"


def _declared(head: bytes) -> str | None:
    """The charset an HTML page's head declares, when Python knows it and it can be used as said."""
    found = _META_CHARSET.search(head)
    if found is None:
        return None
    try:
        name = codecs.lookup(found.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None  # a charset Python does not know: UTF-8, as for a page that declares none
    return None if name in _NOT_AS_DECLARED else name
