"""`python -m pcheck` and the `pcheck` command.

The ending signals are caught before the CLI is even imported (typer alone
takes a tenth of a second to load): Ctrl-C, SIGTERM or SIGHUP at start-up
exits with 128 + the signal, quietly, instead of a traceback or a silent death.
"""

import atexit
import importlib.util
import os
import signal
import sys

from pcheck.run import signals


def main(args: list[str] | None = None) -> None:
    """Run the `pcheck` command with `args` (default: the command line's); ends in SystemExit.

    Tests call this in-process with their own args, as the console script does with sys.argv.
    """
    signals.received.received.clear()
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_interrupts(hook)
    main_module = sys.modules["__main__"]
    spec = getattr(main_module, "__spec__", None)
    try:
        with signals.handling(signals.raise_interrupt):
            try:
                _start_workers_early(sys.argv[1:] if args is None else args)
                from pcheck.cli.app import run
            except KeyboardInterrupt:
                raise SystemExit(signals.received.exit_status()) from None
            except Exception as exc:
                if signals.wrapped_interrupt(exc):  # the import failed because of the signal: end as it says
                    raise SystemExit(signals.received.exit_status()) from None
                raise
            if signals.received.first is not None:  # it landed where it could not unwind (see _quiet_interrupts)
                raise SystemExit(signals.received.exit_status())
            _workers_skip_the_console_script()
            try:
                run(args)
            except KeyboardInterrupt:  # a signal during the run's own clean-up, after its handlers: end as it says
                raise SystemExit(signals.received.exit_status()) from None
    finally:
        sys.unraisablehook = hook
        main_module.__spec__ = spec  # an in-process caller gets its own main module back
        if args is None:
            _exit_at_a_late_signal()


def _exit_at_a_late_signal() -> None:
    """The command has ended and the process only exits now (workers reaped, threads joined): an ending
    signal from here on (a second Ctrl-C, `timeout`'s copy to the group) ends it at once with the first
    signal's status, instead of a KeyboardInterrupt in the interpreter's shutdown killing it by SIGINT."""
    def leave(signum: int, frame: object) -> None:
        sys.stderr.flush()
        os._exit(signals.received.exit_status() if signals.received.first is not None else 128 + signum)

    for signum in signals.ENDING_SIGNALS:
        signal.signal(signum, leave)
    # The interpreter's last steps put SIG_DFL back for a signal with a Python handler (a late Ctrl-C would
    # kill the process by SIGINT), not for an ignored one; by then its threads are joined and only its
    # modules are torn down, quickly: the atexit callbacks (after those joins) ignore the ending signals.
    atexit.register(lambda: [signal.signal(signum, signal.SIG_IGN) for signum in signals.ENDING_SIGNALS])


def _quiet_interrupts(hook):  # type: ignore[no-untyped-def]
    """An unraisable-exception hook that lets an ending signal pass silently.

    A signal can land while CPython runs a callback whose exceptions cannot
    propagate (an import lock's weakref callback at start-up): the
    Interrupted it raises is then printed as "Exception ignored in ..." and
    dropped. The signal is recorded all the same, and main() ends with its
    status once the import is done; the traceback would only be noise.
    """
    def quiet(unraisable) -> None:  # type: ignore[no-untyped-def]
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        hook(unraisable)

    return quiet


#: Arguments after which nothing is checked, or worker processes are chosen otherwise: no early start.
_NO_EARLY_START = {"-h", "--help", "-V", "--version", "--dump", "--start-method", "--distributor",
                   "--install-completion", "--show-completion"}


def _start_workers_early(args: list[str]) -> None:
    """Start the worker server before the CLI is imported (typer and the commands: 0.08 s), when the
    command line surely checks through worker processes: an input file, folder or stdin, or -p.

    A guess from the raw arguments (the CLI confirms it once it has parsed them, cli/app._prestart): it
    errs towards no early start, which only leaves the start where it was. A lone word that is neither
    a URL nor a path may be an option's value, so it decides nothing.
    """
    if not args or _NO_EARLY_START & {a.split("=", 1)[0] for a in args} or args[0] in ("demo",):
        return
    sure = args[0] == "crawl"  # a crawl always checks through worker processes
    for before, a in zip(["check", *args], args):
        if a == "-" or a.split("=", 1)[0] == "--processes" or (a.startswith("-p") and a[2:3] != "-"):
            sure = True
        elif before.startswith("-") and "=" not in before:
            continue  # perhaps that option's value (`-o report.jsonl`, `--config pcheck.toml`): not an input
        elif not a.startswith("-") and a not in ("check", "watch") and os.path.exists(a):
            sure = True
    if sure:
        from pcheck.run.procs import prestart

        prestart()


def _workers_skip_the_console_script() -> None:
    """Let worker processes start as under `python -m pcheck`, without re-running the console script.

    multiprocessing re-imports a main module it knows only by path (the
    `pcheck` script) in the forkserver and in every spawned worker: typer and
    the whole CLI, 0.1 s of CPU each, that a worker never uses. Known by the
    name of a package's `__main__`, the main module is not imported at all.
    """
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None:
        main.__spec__ = importlib.util.find_spec("pcheck.__main__")


if __name__ == "__main__":
    main()
