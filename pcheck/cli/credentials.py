"""Credentials read for a run, checked once and never shown: a --cookie-jar's cookies, --basic-auth's rules.

Both are secrets. A fault names the file and its line, or the option and its pattern, with the
password as `***`: never a cookie's value or a password. The checker gets the results as data
(`CheckConfig.cookies`, `CheckConfig.basic_auth`); the cache counts them by a digest of its own.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import time
from http.cookiejar import Cookie

from pcheck.errors import ConfigError

#: How a cookie marked HttpOnly starts its line in the Netscape format (curl writes it so).
HTTPONLY_PREFIX = "#HttpOnly_"
_FLAGS = ("TRUE", "FALSE")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_FORMAT = "7 fields separated by tabs: domain, TRUE/FALSE, path, TRUE/FALSE, expiry, name, value"


def load_cookie_jar(path: str | None) -> tuple[Cookie, ...]:
    """The cookies of a Netscape/Mozilla cookie file (curl's `-c`, browsers' exports), expired ones left out;
    () for None. The file is read, never written. ConfigError naming the file and the line at fault."""
    if path is None:
        return ()
    name = f"--cookie-jar {path}"
    try:
        text = read_settings_file(path, name).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a text file of cookies (UTF-8)") from None
    now, cookies = time.time(), []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        httponly = line.startswith(HTTPONLY_PREFIX)
        if httponly:
            line = line[len(HTTPONLY_PREFIX):]
        elif not line.strip() or line.lstrip().startswith(("#", "$")):
            continue
        cookie = _cookie(line, httponly)
        if cookie is None:
            raise ConfigError(f"{name}: line {number} is not a cookie in the Netscape format ({_LINE_FORMAT})")
        if not cookie.is_expired(now):
            cookies.append(cookie)
    return tuple(cookies)


def _cookie(line: str, httponly: bool) -> Cookie | None:
    """One line of a cookie file as a Cookie, or None when it is not one."""
    fields = line.split("\t")
    if len(fields) != 7 or _CONTROL.search(line.replace("\t", " ")):
        return None
    domain, flag, path, secure, expires, name, value = fields
    domain, expires = domain.strip().lower(), expires.strip()
    if not domain or " " in domain or flag not in _FLAGS or secure not in _FLAGS or not path.startswith("/") \
            or not (expires == "" or expires.isdigit()) or any(c in name for c in "=; "):
        return None
    if not name:  # curl's cookie with a value and no name: http.cookiejar's with a name and no value
        name, value = value, None
        if not name or any(c in name for c in "=; "):
            return None
    if flag == "TRUE" and not domain.startswith("."):
        domain = "." + domain  # a domain cookie: its subdomains too (how http.cookiejar spells it)
    session = expires in ("", "0")  # curl writes 0 for a cookie that ends with the browser's session
    return Cookie(0, name, value, None, False, domain, domain.startswith("."), domain.startswith("."), path, False,
                  secure == "TRUE", None if session else int(expires), session, None, None,
                  {"HttpOnly": ""} if httponly else {})


def parse_basic_auth(spec: str) -> tuple[str, str]:
    """--basic-auth 'REGEX USER:PASSWORD' (lychee's syntax) -> (REGEX, the `Authorization: Basic` value).

    The credentials are what follows the first space (a password may hold spaces). ConfigError naming
    the option and the pattern, the password shown as `***`.
    """
    pattern, _, credentials = spec.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        shown = f"'{pattern}'" if ":" not in pattern else "(not shown: it holds a colon, maybe a password)"
        raise ConfigError(f"--basic-auth {shown}: expected 'REGEX USER:PASSWORD', a regex, a space, the credentials")
    user, colon, _ = credentials.partition(":")
    shown = f"'{pattern} {user}:***'" if colon else f"'{pattern} ***'"
    if not colon:
        raise ConfigError(f"--basic-auth {shown}: the credentials are USER:PASSWORD, with a colon")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"--basic-auth {shown}: {pattern!r} is not a regular expression ({exc})") from None
    return pattern, basic_authorization(credentials, f"--basic-auth {shown}")


def parse_basic_auths(specs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(parse_basic_auth(spec) for spec in specs)


def basic_authorization(credentials: str, name: str) -> str:
    """'USER:PASSWORD' -> 'Basic <base64>'; ConfigError saying `name` (never the password) when it is not one."""
    if ":" not in credentials or _CONTROL.search(credentials):
        raise ConfigError(f"{name}: expected USER:PASSWORD, printable, with a colon (the value is not shown)")
    return "Basic " + base64.b64encode(credentials.encode("utf-8", "surrogateescape")).decode("ascii")


#: The largest settings file read (a config file, a cookie jar): far past any real one.
MAX_SETTINGS_BYTES = 16 * 1024 * 1024


def read_settings_file(path: str, name: str) -> bytes:
    """The whole of a settings file, which must be a regular file of at most MAX_SETTINGS_BYTES: a FIFO
    must not hold the run waiting for a writer, nor /dev/zero fill the memory. ConfigError naming `name`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ConfigError(f"{name}: not a regular file")
            data = f.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: {exc.strerror or exc}") from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise ConfigError(f"{name}: larger than {MAX_SETTINGS_BYTES >> 20} MiB")
    return data
