"""What a checking command does before its run: its options under the config file, the Config, the sources."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import typer

from pcheck.cli.configfile import find_config, load_config
from pcheck.cli.options import FILE_TYPES, HOST_TYPES, Options
from pcheck.config import Config
from pcheck.errors import ConfigError

if TYPE_CHECKING:
    from pcheck.inputs.sources import Source


def prepare(ctx: typer.Context, values: dict[str, Any]) -> tuple[Options, Config, list[Source]]:
    """The command's options (its parameters' `values`) under the config file, the run's Config, and its
    opened sources. Only the command's own options are taken from the config file, and the options
    name the file used (`config_path`), found or given. Raises
    ConfigError (saying which file keys were in play) or InputError.
    """

    from pcheck.inputs.sources import open_sources

    values = {k: v for k, v in values.items() if k != "ctx"}
    options, explicit = Options.given(ctx, values)
    path, used = None, []
    try:
        path = options.config_path or find_config()
        settings = load_config(path, FILE_TYPES, HOST_TYPES) if path else None
        if settings is not None:  # a flag given on the command line wins over the file
            options, used = options.under_file(explicit, settings.options, values)
            # The file found is named as if given: -o must not overwrite it (it is an input of the run).
            options = dataclasses.replace(options, config_path=str(path))
        config = options.to_config(settings.hosts if settings else ())
        sources = open_sources(options.inputs, options.input_format, options.extension_list(),
                               ignore_files=not options.no_ignore, hidden=options.hidden)
    except ConfigError as exc:
        if used:
            raise ConfigError(f"{exc} (set in {path}: {', '.join(used)})") from None
        raise
    if options.insecure:
        typer.echo("pcheck: warning: --insecure: TLS certificates are not verified", err=True)
    return options, config, sources
