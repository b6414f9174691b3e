"""What a checking command does before its run: its options under the config file, the Config, the sources."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import typer

from pcheck.cli.configfile import find_config, load_config
from pcheck.cli.options import FILE_TYPES, HOST_TYPES, Options
from pcheck.config import Config
from pcheck.errors import ConfigError, InputError
from pcheck.fix.archive import archive_api_is_url
from pcheck.models import STDIN

if TYPE_CHECKING:
    from pcheck.inputs.sources import Source


def prepare(ctx: typer.Context, values: dict[str, Any], given: set[str] | None = None) -> tuple[Options, Config, list[Source]]:
    """The command's options (its parameters' `values`) under the config file, the run's Config, and its
    opened sources. Only the command's own options are taken from the config file, and the options
    name the file used (`config_path`), found or given; `given`, when passed, gets the names of the options
    set on the command line or in the file. Raises
    ConfigError (saying which file keys were in play) or InputError.
    """

    values = {k: v for k, v in values.items() if k != "ctx"}
    options, explicit = Options.given(ctx, values)
    if given is not None:  # the options the user set, on the command line or (below) in the config file
        given.update(explicit)
    path, used = None, []
    try:
        path = options.config_path or find_config()
        settings = load_config(path, FILE_TYPES, HOST_TYPES) if path else None
        if settings is not None:  # a flag given on the command line wins over the file
            options, used = options.under_file(explicit, settings.options, values)
            if given is not None:
                given.update(used)
            # The file found is named as if given: -o must not overwrite it (it is an input of the run).
            options = dataclasses.replace(options, config_path=str(path))
        config = options.to_config(settings.hosts if settings else ())
        if config.ca_bundle is not None:
            check_ca_bundle(config.ca_bundle)
        if options.archive and not archive_api_is_url(options.archive_api):
            raise ConfigError(f"--archive-api {options.archive_api!r}: not an http(s) URL")
        sources = [] if options.render_from is not None else _sources(options)
        if sources:  # .pcheckignore's patterns: of the working directory and the inputs' repositories
            from pcheck.inputs.ignorefiles import ignore_rules

            rules = ignore_rules(s.path or s.name for s in sources if s.kind in ("file", "document"))
            config = dataclasses.replace(config, ignore_rules=rules) if rules else config
    except ConfigError as exc:
        if used:
            raise ConfigError(f"{exc} (set in {path}: {', '.join(used)})") from None
        raise
    if options.insecure:
        typer.echo("pcheck: warning: --insecure: TLS certificates are not verified", err=True)
    return options, config, sources


def _sources(options: Options) -> list[Source]:
    """The run's opened sources: the inputs given and those --files-from lists, only the changed ones with
    --changed-since (URL arguments and stdin kept: they are no file of a repository)."""
    from pcheck.inputs.sources import open_sources

    inputs = options.inputs
    if options.files_from is not None:
        from pcheck.inputs.listed import files_from

        if options.files_from == STDIN and STDIN in inputs:
            raise InputError("--files-from - and the input - would both read stdin: give one")
        inputs += tuple(files_from(options.files_from))
    sources = open_sources(inputs, options.input_format, options.extension_list(),
                           ignore_files=not options.no_ignore, hidden=options.hidden,
                           exclude_paths=options.exclude_path)
    if options.changed_since is None:
        return sources
    from pcheck.inputs.changed import is_repository_file, keep_changed

    files = [s.name for s in sources if is_repository_file(s.kind, s.name)]
    kept, asked = keep_changed(files, options.changed_since)
    typer.echo(f"pcheck: --changed-since {options.changed_since}: {len(kept)} of {asked} documents changed",
               err=True)
    return [s for s in sources if not is_repository_file(s.kind, s.name) or s.name in kept]


def check_ca_bundle(path: str) -> None:
    """Read the bundle once here: every worker loads it once (check.tls), so a bad one would fail every URL.
    A folder of hashed certificates (`openssl rehash`, /etc/ssl/certs) is taken as requests takes it."""
    import ssl

    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise ConfigError(f"--ca-bundle {path}: a folder that cannot be read")
        return  # OpenSSL reads a certificate from it when a handshake needs one
    if not os.path.isfile(path):
        raise ConfigError(f"--ca-bundle {path}: no such file or folder")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"--ca-bundle {path}: no PEM certificate could be read from it ({exc})") from exc


def ignore_files(config: Config) -> set[str]:
    """The .pcheckignore files the run read (its rules say `file:line`): inputs -o must not overwrite."""
    return {where.rsplit(":", 1)[0] for _, where in config.ignore_rules}
