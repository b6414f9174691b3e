"""The client TLS contexts of one process: one per mode, built once.

Handed no context, urllib3 builds one for every new connection and fills it:
the system's CA store under --insecure (`load_default_certs`, about 40 ms of
CPU, for certificates it will never check), or the CA bundle parsed again when
verifying (certifi's 140-odd certificates; a --ca-bundle file). On many HTTPS
hosts that was most of pcheck's CPU. A process keeps one context per mode
instead, and with it OpenSSL's cache of parsed CA certificates.
"""

from __future__ import annotations

import os
import ssl
import threading

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

_contexts: dict[bool | str, ssl.SSLContext] = {}
_lock = threading.Lock()


def client_context(verify: bool | str) -> ssl.SSLContext:
    """The context for `verify` as requests reads it: True (certifi's bundle, requests' default),
    a CA bundle file or folder, or False (no verification at all: --insecure)."""
    context = _contexts.get(verify)
    if context is None:
        with _lock:  # the first connections of many threads at once: still built once
            context = _contexts.get(verify)
            if context is None:
                context = _contexts[verify] = _build(verify)
    return context


def _build(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        return create_urllib3_context(cert_reqs=ssl.CERT_NONE)  # and check_hostname off
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    if os.path.isdir(where):
        context.load_verify_locations(capath=where)
    else:
        context.load_verify_locations(cafile=where)
    return context
