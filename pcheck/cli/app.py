"""The `pcheck` command: a typer app whose commands live one per module. Thin on purpose.

  argv -> typer -> cli.check / cli.watch / cli.fix / cli.demo -> cli.options (Options -> Config)
       -> run.session (the run) -> cli.exits (Ending or PcheckError -> exit code)
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from pcheck._version import __version__
from pcheck.cli.check import check
from pcheck.cli.crawl import crawl
from pcheck.cli.demo import demo
from pcheck.cli.exits import ExitCode, signal_code
from pcheck.cli.fix import fix
from pcheck.cli.watch import watch
from pcheck.run import signals

app = typer.Typer(
    add_completion=True,
    # Plain click help and tracebacks: rich's renderer costs ~0.2 s on every start-up.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="pcheck: check thousands to millions of links fast, on every core, losing none.\n\n"
         "With no command, `check` is meant: `pcheck README.md docs/` is `pcheck check README.md docs/` "
         "(a file named like a command: `pcheck check check`).",
    context_settings={"help_option_names": ["-h", "--help"]},
)
# short_help: click cuts a command's first line at 45 characters in `pcheck --help` otherwise.
app.command("check", short_help="Check URLs from lists, documents, stdin and arguments (the default).")(check)
app.command("watch", short_help="Re-check the URLs every interval, printing only what changed.")(watch)
app.command("crawl", short_help="Crawl a site from its start URLs and check every link.")(crawl)
app.command("fix", short_help="Rewrite links that moved for good (301, 308) to where they went.")(fix)
app.command("demo", short_help="Check a mixed list against the embedded local site, offline.")(demo)

#: What a first argument may be without meaning `check`: a command, or an option of the app itself.
COMMANDS = tuple(command.name for command in app.registered_commands)
APP_OPTIONS = ("-h", "--help", "-V", "--version", "--install-completion", "--show-completion")
DEFAULT_COMMAND = "check"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """pcheck: a fast bulk link checker."""


def run(args: list[str] | None = None) -> None:
    """The command, under pcheck.__main__'s signal handlers: SIGTERM and SIGHUP unwind like Ctrl-C
    (a run installs its own handlers over these) instead of killing the process where it stands.

    `args` default to the command line's; always ends in SystemExit with the exit code.
    """
    args = with_default_command(sys.argv[1:] if args is None else list(args))
    _log_to_stderr()
    warm = False
    try:
        # app() would build this click command too; built once here, it also tells options from inputs.
        command = typer.main.get_command(app)
        warm = _prestart(command, args)
        # Named explicitly so `python -m pcheck` prints help and completion scripts for `pcheck`.
        command(args=args, prog_name="pcheck")
    except KeyboardInterrupt:  # before typer took over (it turns a later one into exit 130)
        sys.exit(signal_code())
    except Exception as exc:
        if signals.wrapped_interrupt(exc):  # the signal, wrapped by Python on its way
            sys.exit(signal_code())
        raise
    except SystemExit as exc:
        # Typer ends a command that a signal unwound before its run began with exit 130
        # (Ctrl-C's): say which signal it was, as a run does.
        if exc.code == ExitCode.INTERRUPTED and signals.received.first is not None:
            sys.exit(signal_code())
        raise
    finally:
        if warm:
            from pcheck.run.procs import stop_helper_processes

            stop_helper_processes()


def with_default_command(args: list[str]) -> list[str]:
    """`pcheck README.md docs/` -> `pcheck check README.md docs/`: `check` goes first unless the first
    argument is a command or an option of the app itself. No arguments at all stay that way (help)."""
    if not args or args[0] in COMMANDS or args[0].split("=", 1)[0] in APP_OPTIONS:
        return args
    return [DEFAULT_COMMAND, *args]


def _log_to_stderr() -> None:
    """Route the library's log lines (worker crashes, warnings) to stderr, above any progress bar."""
    class ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            from pcheck.models import redact_text
            from pcheck.output.progress import echo

            echo("pcheck: " + redact_text(self.format(record)))

    logger = logging.getLogger("pcheck")
    logger.handlers[:] = [ToStderr()]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _prestart(command: typer.main.TyperGroup, args: list[str]) -> bool:
    """Start the worker server before typer parses the options, so its imports overlap the parsing.

    Not for --help, nor for a few URL arguments: those are checked in this process (Config.small_run).
    """
    sub = command.commands.get(args[0]) if args else None
    if sub is None or {"--help", "-h"} & set(args) or _few_urls(sub, args[1:]):
        return False
    from pcheck.run.procs import prestart

    return prestart()


def _few_urls(sub: typer.main.TyperCommand, args: list[str]) -> bool:
    """The arguments name few enough inputs for a small run (config.is_small_run), all of them URLs, and
    --processes is not chosen."""
    from pcheck.config import is_small_run, small_run_limit

    with_value = {name for p in sub.params if getattr(p, "param_type_name", "") == "option" and not p.is_flag
                  and not p.count for name in p.opts}
    inputs, skip = [], False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            inputs += args[i + 1:]
            break
        elif arg.startswith("-") and arg != "-":
            name = arg.split("=", 1)[0]
            if name == "--processes" or arg.startswith("-p"):
                return False
            skip = name in with_value and "=" not in arg
        else:
            inputs.append(arg)
    return (0 < len(inputs) and is_small_run(len(inputs), small_run_limit(processes_chosen=False))
            and all(a.lower().startswith(("http://", "https://")) for a in inputs))

