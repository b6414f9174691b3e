"""`pcheck demo`: a mixed URL list over the embedded local site, checked on every core (with --soft-404), each
verdict verified."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import typer

from pcheck.cli import options as opt
from pcheck.cli.declare import DEMO, command
from pcheck.cli.exits import ExitCode, ending_code, fail
from pcheck.config import Config
from pcheck.errors import PcheckError
from pcheck.models import CheckResult, Outcome

if TYPE_CHECKING:
    from pcheck.lab import Lab

A, BR, BL, IN = Outcome.ALIVE, Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID

#: What the report calls the demo's list: a label, not a path to look for afterwards (the file is
#: read from a temporary folder that is gone when the demo ends).
LIST_NAME = "<demo-urls>"


def demo_cases(lab: Lab, fast_urls: int = 200) -> list[tuple[str, Outcome]]:
    """(line, expected outcome) pairs; the lab is known to serve each of them so."""
    hosts = len(lab.addresses)
    cases = [(lab.url(f"ok?page={i}", i % hosts), A) for i in range(fast_urls)]
    cases += [
        (lab.url("redirect/3", 1 % hosts), A),
        (lab.url("head-refused"), A),
        (lab.url("reset-on-head", 2 % hosts), A),
        (lab.url("retry-after/1/demo"), A),
        (lab.url("bytes/1073741824"), A),
        (lab.url("status/404"), BR),
        (lab.url("status/410", 1 % hosts), BR),
        (lab.url("status/500"), BR),
        (lab.url("loop/a/demo"), BR),
        (lab.url("redirect/15"), BR),
        (lab.url("soft/deep/old", 2 % hosts), BR),  # a soft 404 (--soft-404): a deep page moved to the home page
        (lab.url("hang", 3 % hosts), BR),
        (lab.url("drip-headers", 3 % hosts), BR),
        ("http://127.0.0.1:1/refused", BR),
        (lab.url("challenge"), BL),
        (lab.url("status/403", 1 % hosts), BL),
        (lab.url("status/401"), BL),
        ("this is not a URL", IN),
        ("ftp://example.com/file.txt", IN),
        ("http://exa\u0007mple.com/", IN),
        (lab.url("ok?page=0"), A),  # a duplicate: checked once, reported twice
    ]
    return cases


def run_demo(processes: int | None, format: str) -> None:  # noqa: A002 - the option's name
    """Start the embedded local site, check a mixed list on every core, and show the report (offline)."""
    from pcheck.inputs.sources import Source
    from pcheck.lab import Lab
    from pcheck.run.session import Plan, Session
    from pcheck.run.soft404 import Soft404Judge

    outcomes: dict[int, Outcome] = {}

    def remember(result: CheckResult) -> None:
        if result.line is not None:
            outcomes[result.line] = result.outcome

    with Lab(hosts=4) as lab, tempfile.TemporaryDirectory(prefix="pcheck-demo-") as tmp:
        cases = demo_cases(lab)
        path = os.path.join(tmp, "demo-urls.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("# pcheck demo: a mixed list served by the local site\n")
            f.writelines(line + "\n" for line, _ in cases)
        try:
            config = Config(
                **({"processes": processes} if processes is not None else {}),
                timeout=1.5, retries=1, backoff_base=0.1, threads=16, max_retry_after=5.0, recheck_after=1.0,
            )
            source = Source(LIST_NAME, "file", path=path)
            soft404 = Soft404Judge(config)
            try:
                ending = Session(config, Plan((source,), fmt=format, progress=True, soft404=soft404), remember).run()
            finally:
                soft404.close()
        except PcheckError as exc:
            fail(exc)
    expected = {i + 2: want for i, (_, want) in enumerate(cases)}
    wrong = {line: (outcomes.get(line), want) for line, want in expected.items() if outcomes.get(line) is not want}
    typer.echo(f"pcheck demo: {config.processes} process(es) x {config.threads} threads; "
               f"{len(expected) - len(wrong)}/{len(expected)} verdicts match what the local site serves", err=True)
    for line, (got, want) in sorted(wrong.items()):
        typer.echo(f"  line {line}: got {got and got.value}, expected {want.value}", err=True)
    if ending.signal is not None or ending.interrupted:
        raise typer.Exit(ending_code(ending, fail_on_blocked=False))
    raise typer.Exit(ExitCode.FAILED if wrong else ExitCode.OK)


#: The command typer sees: `run_demo` with the options declared for demo (cli.options).
demo = command(opt.Options, DEMO, run_demo, [])
