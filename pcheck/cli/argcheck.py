"""Which options a `pcheck check` argument list gives, read by pcheck's own parser (the Action asks).

The GitHub Action (action/run.sh) sets the report's format and path itself and must refuse
`args` that would move or replace the report (`-o`, `--format`), check nothing (`--dump`) or
only print help (`-h`). Options can hide in short-option clusters (`-qo FILE`, `-vo/path`),
`--output=x`, `-o=x` (the value `=x`): matching words in shell cannot tell them all, so this asks
the very click command pcheck runs, with the context it runs under (its `-h`), how it parses them.

`python -m pcheck.cli.argcheck ARGS...` prints the name of each option ARGS give (its Options
field, e.g. `output`), one a line, in order; nothing for ARGS the parser refuses (pcheck itself
then ends in a usage error on the same ARGS).
"""

from __future__ import annotations

import sys

import typer


def given_options(args: list[str]) -> list[str]:
    """The option names `pcheck check ARGS` sets on its command line, as its parser reads them."""
    from pcheck.cli.app import app

    group = typer.main.get_command(app)
    command = group.commands["check"]
    parent = group.make_context("pcheck", ["check"], resilient_parsing=True)
    ctx = command.make_context("check", [], parent=parent, resilient_parsing=True)
    try:
        _, _, order = command.make_parser(ctx).parse_args(list(args))
    except Exception:  # noqa: BLE001 - click's usage errors: pcheck will say them itself
        return []
    return [param.name for param in order if getattr(param, "param_type_name", "") == "option" and param.name]


if __name__ == "__main__":
    sys.stdout.write("".join(name + "\n" for name in given_options(sys.argv[1:])))
