"""pcheck.toml, or [tool.pcheck] in pyproject.toml: options a project keeps next to its docs.

Keys mirror the long options (`max_per_host = 16`, `exclude = ["^https://internal"]`);
`[hosts."example.com"]` tables set max_per_host, headers, basic_auth and accept
for one host. An unknown key is an error naming the file and the key: a typo must not
silently change nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from pcheck.cli.credentials import basic_authorization, read_settings_file
from pcheck.config import HostPolicy, parse_accept, parse_duration, parse_header
from pcheck.errors import ConfigError

CONFIG_NAME = "pcheck.toml"

#: Types: config-file key -> the TOML types its value may have (lists stand for repeatable options).
Types = dict[str, tuple[type, ...]]
#: A [hosts."name"] table's own keys, beside the options declared per host: a table of header names and values,
#: and `basic_auth = "USER:PASSWORD"` (sent as that host's `Authorization: Basic` header).
HOST_HEADERS: Types = {"headers": (dict,), "basic_auth": (str,)}


@dataclass(frozen=True)
class FileSettings:
    path: Path
    options: dict[str, Any]
    hosts: tuple[tuple[str, HostPolicy], ...]


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest pcheck.toml, or pyproject.toml with [tool.pcheck], from `start` upward."""
    folder = Path(start or os.getcwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_NAME
        if path.is_file():
            return path
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "pcheck" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def load_config(path: str | os.PathLike[str], option_types: Types, host_types: Types) -> FileSettings:
    """The file's options and host tables, each key checked against the types the options declare
    (cli.options: FILE_TYPES, HOST_TYPES); ConfigError naming the file and the key at fault."""
    path = Path(path)
    data = _read(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("pcheck", {})
    where = f"{path}" + (" [tool.pcheck]" if path.name == "pyproject.toml" else "")
    options: dict[str, Any] = {}
    hosts = []
    for key, value in data.items():
        if key == "hosts":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'hosts' must be a table of host tables")
            hosts = [(name.lower(), _host_policy(where, name, table, {**host_types, **HOST_HEADERS}))
                     for name, table in value.items()]
            continue
        _check_type(where, key, value, option_types)
        options[key] = value
    return FileSettings(path, options, tuple(hosts))


def _host_policy(where: str, host: str, table: Any, host_types: Types) -> HostPolicy:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: hosts.{host} must be a table")
    for key, value in table.items():
        _check_type(where, f"hosts.{host}.{key}", value, host_types, key)
    accept = table.get("accept")
    headers = tuple(parse_header(f"{k}: {v}") for k, v in table.get("headers", {}).items())
    if "basic_auth" in table:
        name = f"{where}: 'hosts.{host}.basic_auth'"
        if any(k.lower() == "authorization" for k, _ in headers):
            raise ConfigError(f"{name} and an Authorization header: give one")
        headers += (("Authorization", basic_authorization(table["basic_auth"], name)),)
    interval = table.get("host_interval")
    return HostPolicy(
        max_per_host=table.get("max_per_host"),
        host_interval=None if interval is None else _seconds(where, f"hosts.{host}.host_interval", interval),
        headers=headers,
        accept=parse_accept(accept if isinstance(accept, str) else ",".join(map(str, accept))) if accept else None,
    )


def _seconds(where: str, name: str, value: str | int | float) -> float:
    """A duration from the file: "500ms", "2s", or a number of seconds."""
    try:
        seconds = parse_duration(str(value))
    except ConfigError as exc:
        raise ConfigError(f"{where}: '{name}': {exc}") from None
    if seconds > 3600:
        raise ConfigError(f"{where}: '{name}' must be at most 1h")
    return seconds


def _check_type(where: str, name: str, value: Any, types: Types, key: str | None = None) -> None:
    key = key or name
    if key not in types:
        raise ConfigError(f"{where}: unknown key '{name}'")
    if not isinstance(value, types[key]) or (isinstance(value, bool) and bool not in types[key]):
        expected = " or ".join(t.__name__ for t in types[key])
        raise ConfigError(f"{where}: '{name}' must be {expected}, not {type(value).__name__}")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_settings_file(str(path), str(path)).decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML (not UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
