"""`python -m pcheck` and the `pcheck` command.

The ending signals are caught before the CLI is even imported (typer alone
takes a tenth of a second to load): Ctrl-C, SIGTERM or SIGHUP at start-up
exits with 128 + the signal, quietly, instead of a traceback or a silent death.
"""

from . import interrupts


def main() -> None:
    interrupts.received.received.clear()
    with interrupts.handling(interrupts.raise_interrupt):
        try:
            from .cli import run
        except KeyboardInterrupt:
            raise SystemExit(interrupts.received.exit_status()) from None
        run()


if __name__ == "__main__":
    main()
