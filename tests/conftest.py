"""Shared fixtures: the local site on loopback, checkers (real or fake transport), and runners for `pcheck`.

Helpers that are not fixtures are in tests/support/ (see its __init__): FAST options, the fake transport,
stand-ins for Checker.check, fault injection, helpers for runs of many URLs.

`run_pcheck(...)` runs the command in this process by default (`pcheck.__main__.main(args)`, the
console script's own entry point), isolated the way a subprocess is: its own stdin/stdout/stderr,
environment, working directory, signal handlers and "pcheck" logger, all restored afterwards.
That saves the 0.4-0.5 s of interpreter and import start-up of every `python -m pcheck`.

`run_pcheck(..., subprocess=True)` (or `run_pcheck_process`) is the real `python -m pcheck`: use it
wherever a process is the point: signals, exit by signal, closed or redirected descriptors, broken
pipes, start-up, environment read at interpreter start (PYTHONIOENCODING, locale), resource limits,
helper processes left behind, `/dev/stdin`, anything that touches descriptors 0/1/2.
"""

from __future__ import annotations

import faulthandler
import io
import logging
import os
import signal
import subprocess as _subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest
from support.runs import kill_group
from support.transport import FakeTransport, NoWaits

from pcheck.lab import Lab

ROOT = Path(__file__).resolve().parent.parent

#: Config options of a checker made by `make_checker` or `fake_checker`, before the test's own.
CHECKER_OPTIONS = {"processes": 1, "timeout": 2.0, "retries": 0, "backoff_base": 0.05}


@pytest.fixture
def lab():
    """A fresh local site on 127.0.0.1-4 with zeroed counters."""
    with Lab(hosts=4) as site:
        yield site


@pytest.fixture
def make_checker():
    """Checker factory over a real Transport (closed at teardown): `make_checker(**config_options)`.

    `guard` is a NetGuard, or a (resolver, refuse) pair to make one; `verify`, `proxy`, `pool_maxsize`
    and `pool_hosts` go to the Transport.
    """
    from pcheck.check.checker import Checker
    from pcheck.check.netguard import NetGuard
    from pcheck.check.transport import Transport
    from pcheck.config import Config

    transports = []

    def make(pool_maxsize=4, pool_hosts=None, verify=True, guard=None, proxy=None, **options):
        if isinstance(guard, tuple):
            guard = NetGuard(resolver=guard[0], refuse=guard[1])
        transport = Transport(pool_maxsize=pool_maxsize, verify=verify, guard=guard, pool_hosts=pool_hosts, proxy=proxy)
        transports.append(transport)
        return Checker(Config(**{**CHECKER_OPTIONS, **options}), transport)

    yield make
    for transport in transports:
        transport.close()


@pytest.fixture
def fake_checker():
    """Checker factory over a FakeTransport (support/transport.py): `fake_checker(handler, **config_options)`.

    No socket is opened and no wait is slept: `checker.transport.requests` holds the requests made,
    `checker.stop.waits` the waits asked for (retries). `defer_rate_limits` goes to the Checker.
    """
    from pcheck.check.checker import Checker
    from pcheck.config import Config

    def make(handler, defer_rate_limits=False, **options):
        return Checker(Config(**{**CHECKER_OPTIONS, **options}), FakeTransport(handler), NoWaits(),
                       defer_rate_limits=defer_rate_limits)

    return make


#: The start methods pool tests run under (fork is the one the CLI never uses).
START_METHODS = ["forkserver", "spawn"]


@pytest.fixture(params=START_METHODS)
def start_method(request):
    """Each start method a pool test runs under."""
    return request.param


@pytest.fixture
def cli_processes():
    """Every CLI run started by a test (append it); killed (whole group) and reaped at teardown whatever happened."""
    started: list[_subprocess.Popen] = []
    yield started
    for proc in started:
        kill_group(proc)


@pytest.fixture(scope="session", autouse=True)
def _stop_helper_processes_at_the_end():
    """In-process CLI runs leave multiprocessing's forkserver and resource tracker running (see
    _in_process_helpers); stop and reap them once, when the session ends."""
    yield
    _real_stop_helpers()


def run_pcheck(*args: str, stdin: str | bytes | None = None, timeout: float = 60, env: dict | None = None,
               cwd: Path | None = None, subprocess: bool = False) -> _subprocess.CompletedProcess:
    """Run the `pcheck` command with ARGS, bounded in time: in this process, or as `python -m pcheck`.

    Either way the result is a CompletedProcess with str stdout and stderr. PCHECK_TESTS_SUBPROCESS=1 in
    the environment runs every one as a subprocess (to compare the two ways).
    """
    if subprocess or os.environ.get("PCHECK_TESTS_SUBPROCESS") == "1":
        return run_pcheck_process(*args, stdin=stdin, timeout=timeout, env=env, cwd=cwd)
    return run_pcheck_in_process(*args, stdin=stdin, timeout=timeout, env=env, cwd=cwd)


def run_pcheck_process(*args: str, stdin: str | bytes | None = None, timeout: float = 60, env: dict | None = None,
                       cwd: Path | None = None) -> _subprocess.CompletedProcess:
    """Run `python -m pcheck ARGS` as a user would, bounded in time."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {**os.environ, **(env or {})}
    proc = _subprocess.run(
        [sys.executable, "-m", "pcheck", *args],
        input=data, capture_output=True, timeout=timeout, env=full_env, cwd=cwd,
    )
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


# -- the in-process runner ---------------------------------------------------------------------------

#: Handlers saved before and restored after every in-process run (pcheck installs its own).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGALRM", "SIGPIPE", "SIGCHLD")
                 if hasattr(signal, name))
#: After `timeout`, an in-process run is interrupted as Ctrl-C would (twice); after this much more,
#: the whole test process is ended with every thread's traceback, as pytest-timeout's thread method does.
_KILL_GRACE_S = 15.0


class _KeptBytesIO(io.BytesIO):
    """A BytesIO whose bytes outlive close() (the command may close its streams)."""

    kept = b""

    def close(self) -> None:
        if not self.closed:
            self.kept = self.getvalue()
        super().close()

    def value(self) -> bytes:
        return self.kept if self.closed else self.getvalue()


def _text_stream(buffer: io.BytesIO, like: object, default_errors: str) -> io.TextIOWrapper:
    """A text stream over `buffer`, with the encoding and error handler a child interpreter would get."""
    encoding = getattr(like, "encoding", None) or "utf-8"
    errors = getattr(like, "errors", None) or default_errors
    return io.TextIOWrapper(buffer, encoding=encoding, errors=errors, write_through=True)


def _procs():
    """pcheck's module of helper processes, or None if it has moved (runs then restart the forkserver)."""
    try:
        from pcheck.run import procs
    except ImportError:
        return None
    return procs if hasattr(procs, "stop_helper_processes") else None


def _real_stop_helpers() -> None:
    procs = _procs()
    if procs is not None:
        getattr(procs, "_real_stop_helper_processes", procs.stop_helper_processes)()


class _in_process_helpers:
    """While a CLI run is in process, its end does not stop multiprocessing's forkserver.

    The CLI stops the forkserver and resource tracker when it ends (so that a `pcheck` process
    leaves no zombie behind); in process, that would make every run start a new forkserver
    (~0.3 s). The helper-reaping tests run `python -m pcheck` in a subprocess. A run with its own
    environment gets a forkserver started under that environment (workers fork from the
    forkserver and inherit ITS environment: proxies, netrc, ...), stopped again afterwards.
    """

    def __init__(self, fresh: bool) -> None:
        self.fresh = fresh

    def __enter__(self) -> None:
        self.module = procs = _procs()
        if procs is None:
            return
        if not hasattr(procs, "_real_stop_helper_processes"):
            procs._real_stop_helper_processes = procs.stop_helper_processes
        if self.fresh:
            procs._real_stop_helper_processes()
        procs.stop_helper_processes = lambda: None

    def __exit__(self, *exc: object) -> None:
        if self.module is None:
            return
        self.module.stop_helper_processes = self.module._real_stop_helper_processes
        if self.fresh:
            self.module._real_stop_helper_processes()


def run_pcheck_in_process(*args: str, stdin: str | bytes | None = None, timeout: float = 60,
                          env: dict | None = None, cwd: Path | None = None) -> _subprocess.CompletedProcess:
    """`pcheck.__main__.main(args)` in this process, isolated as a subprocess would be.

    stdin/stdout/stderr are text streams over BytesIO (with `.buffer`); `env` is applied to
    os.environ and `cwd` with chdir for the run; signal handlers, the "pcheck" logger, sys.argv
    and the main module's __spec__ are put back afterwards. A run still going after `timeout`
    is interrupted as Ctrl-C would be and ends in subprocess.TimeoutExpired.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("in-process pcheck runs need the main thread (signal handlers)")
    from pcheck.__main__ import main

    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    in_buf, out_buf, err_buf = _KeptBytesIO(data), _KeptBytesIO(), _KeptBytesIO()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = sys.argv[:]
    saved_handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    logger = logging.getLogger("pcheck")
    saved_logger = logger.handlers[:], logger.level, logger.propagate, logger.disabled
    main_module = sys.modules["__main__"]
    saved_spec = getattr(main_module, "__spec__", None)
    main_thread = threading.main_thread().ident
    timed_out = threading.Event()
    finished = threading.Event()

    def watchdog() -> None:
        if finished.wait(timeout):
            return
        timed_out.set()
        for _ in range(2):  # the first asks the run to cancel, the second stops it at once
            if finished.wait(1.0):
                return
            signal.pthread_kill(main_thread, signal.SIGINT)
        if not finished.wait(_KILL_GRACE_S):
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
            print(f"in-process pcheck {args} still running {timeout + _KILL_GRACE_S:.0f} s on: ending the tests",
                  file=sys.__stderr__, flush=True)
            os._exit(1)

    code: object = None
    helpers = _in_process_helpers(fresh=bool(env))
    try:
        if env:
            os.environ.update(env)
        os.environ.setdefault("COLUMNS", "80")  # a child's stdout is a pipe: click formats help for 80 columns
        os.environ.setdefault("LINES", "24")
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [str(Path(sys.modules["pcheck"].__file__).with_name("__main__.py")), *args]
        sys.stdin = _text_stream(in_buf, sys.__stdin__, "strict")
        sys.stdout = _text_stream(out_buf, sys.__stdout__, "strict")
        sys.stderr = _text_stream(err_buf, None, "backslashreplace")
        with helpers:
            threading.Thread(target=watchdog, name="run_pcheck-watchdog", daemon=True).start()
            try:
                try:
                    main(list(args))
                    code = 0  # main() always ends in SystemExit; falling off its end is exit 0 too
                except SystemExit as exc:
                    code = exc.code
                except KeyboardInterrupt:  # an unhandled Ctrl-C kills an interpreter with SIGINT
                    traceback.print_exc(file=sys.stderr)
                    code = -signal.SIGINT
                except Exception:  # an uncaught exception: a traceback and exit 1, as the interpreter does
                    traceback.print_exc(file=sys.stderr)
                    code = 1
                finally:
                    finished.set()
            except KeyboardInterrupt:  # the watchdog's interrupt, landing just as the run ended
                if not timed_out.is_set():
                    raise
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        elif code >= 0:
            code &= 0xFF
        for stream in (sys.stdout, sys.stderr):
            if not stream.closed:
                stream.flush()
    finally:
        finished.set()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        left = {s: h for s, h in ((s, signal.getsignal(s)) for s in _SIGNALS) if h != saved_handlers[s]}
        for signum, handler in saved_handlers.items():
            signal.signal(signum, handler)
        logger.handlers[:], logger.level, logger.propagate, logger.disabled = saved_logger
        if getattr(main_module, "__spec__", None) is not saved_spec:
            main_module.__spec__ = saved_spec
    if left:  # pcheck's own handlers must be undone by pcheck: a library caller would keep them
        raise AssertionError(f"pcheck left signal handlers installed: {left}")
    if timed_out.is_set():
        raise _subprocess.TimeoutExpired(["pcheck", *args], timeout, out_buf.value(), err_buf.value())
    return _subprocess.CompletedProcess(["pcheck", *args], code, out_buf.value().decode("utf-8", "replace"),
                                        err_buf.value().decode("utf-8", "replace"))


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def pcheck_warnings():
    """The warnings pcheck's logger gives during a test, as lines."""
    handler = _Warnings()
    logger = logging.getLogger("pcheck")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)

