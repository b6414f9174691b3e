"""How a run ends when the world interferes: signals, a report that cannot be written, an output over an input.

Every test here runs the real `pcheck` (or the real pool) against the local
site and waits on something observable (the report file, the site's counters,
/proc), never on a sleep.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import faults as fh
from conftest import run_pcheck, write_list
from pcheck.config import Config
from pcheck.models import ARGS_SOURCE
from pcheck.inputs.sources import parse_url
from pcheck.models import Outcome
from pcheck.run.pool import CheckRun
from support.runs import in_flight, read_jsonl, slow_run

pytestmark = pytest.mark.timeout(60)


# == -o naming an input =======================================================================


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "absolute", "hard link", "symlink"])
def test_an_output_naming_an_input_is_refused_and_the_input_left_whole(lab, tmp_path, spelling):
    listing = write_list(tmp_path / "urls.txt", [lab.url(f"ok?i={i}") for i in range(5)])
    before = listing.read_bytes()
    other = {"same": "urls.txt", "dot-slash": "./urls.txt", "absolute": str(listing)}.get(spelling)
    if spelling == "hard link":
        os.link(listing, tmp_path / "alias.txt")
        other = "alias.txt"
    elif spelling == "symlink":
        os.symlink(listing, tmp_path / "alias.txt")
        other = "alias.txt"
    proc = run_pcheck("check", "urls.txt", "-o", other, "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "also an input" in proc.stderr and other in proc.stderr
    assert listing.read_bytes() == before


def test_an_output_over_a_document_found_in_a_directory_is_refused(lab, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "links.md"
    page.write_text(f"[ok]({lab.url('ok')})\n", encoding="utf-8")
    proc = run_pcheck("check", str(docs), "-o", str(page), "--format", "markdown", "--no-progress")
    assert proc.returncode == 2 and "also an input" in proc.stderr
    assert page.read_text(encoding="utf-8") == f"[ok]({lab.url('ok')})\n"


def test_an_output_that_is_the_redirected_stdin_is_refused(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url("ok")])
    with open(listing, "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "pcheck", "check", "-", "-o", str(listing), "--no-progress"],
                              stdin=stdin, capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"standard input" in proc.stderr
    assert listing.read_text(encoding="utf-8") == lab.url("ok") + "\n"


# == SIGTERM, SIGHUP and Ctrl-C ================================================================


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_an_ending_signal_writes_every_record_and_exits_128_plus_its_number(lab, tmp_path, cli_processes, signum, status):
    proc, urls, report, stderr = slow_run(lab, tmp_path, cli_processes)
    os.kill(proc.pid, signum)  # the parent alone, as `timeout` and `docker stop` do
    proc.wait(20)
    records = read_jsonl(report, complete=True)
    assert proc.returncode == status, stderr.read_text()
    assert sorted(r["url"] for r in records) == sorted(urls)
    outcomes = collections.Counter((r["outcome"], r["error"]) for r in records)
    assert set(outcomes) <= {("alive", None), ("unchecked", "cancelled")} and outcomes[("unchecked", "cancelled")] > 0
    assert "Traceback" not in stderr.read_text()
    fh.wait_until(lambda: in_flight(lab) == 0, 5.0, "workers still had requests open after the exit")


def test_sigterm_still_writes_the_whole_text_report(lab, tmp_path, cli_processes):
    proc, urls, report, stderr = slow_run(lab, tmp_path, cli_processes, fmt="text")
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(20)
    text = report.read_text(encoding="utf-8")
    assert proc.returncode == 143, stderr.read_text()
    assert f"{len(urls)} links, interrupted after" in text
    cancelled = int(re.search(r"^Cancelled \((\d+)\): interrupted before a verdict", text, re.M)[1])
    alive = int(re.search(r"^  alive +(\d+)$", text, re.M)[1])
    assert cancelled > 0 and alive + cancelled == len(urls), text  # the report's own counts add up to the input
    assert "/delay/" not in text.split("Cancelled (", 1)[1], "cancelled links are counted, not listed one by one"


def test_a_hangup_to_the_whole_process_group_reports_no_worker_death(lab, tmp_path, cli_processes):
    proc, urls, report, stderr = slow_run(lab, tmp_path, cli_processes)
    os.killpg(proc.pid, signal.SIGHUP)  # a closed terminal: every process of the session
    proc.wait(20)
    assert proc.returncode == 129, stderr.read_text()
    assert len(read_jsonl(report, complete=True)) == len(urls)
    assert "died" not in stderr.read_text(), stderr.read_text()


def test_an_interrupt_while_counting_the_input_reports_every_url_cancelled(lab, tmp_path, monkeypatch):
    """The count for the progress bar comes before any check; Ctrl-C there still yields a whole report."""
    import pcheck.cli.app
    import pcheck.run.session

    urls = [lab.url(f"ok?i={i}") for i in range(50)]
    listing = write_list(tmp_path / "urls.txt", urls)
    report = tmp_path / "report.jsonl"

    def interrupted_count(sources):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # what the CLI's handler raises for Ctrl-C, SIGTERM or SIGHUP here

    monkeypatch.setattr(pcheck.run.session, "count_candidates", interrupted_count)
    logger = logging.getLogger("pcheck")  # the CLI routes it to its progress bar: undone after this test
    for name, value in (("handlers", []), ("propagate", logger.propagate), ("level", logger.level)):
        monkeypatch.setattr(logger, name, value)
    result = CliRunner().invoke(pcheck.cli.app.app, ["check", str(listing), "--format", "jsonl", "-o", str(report)])
    records = read_jsonl(report, complete=True)
    assert result.exit_code == 130, result.output
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert {r["error"] for r in records} == {"cancelled"}
    assert sum(s.requests for s in lab.snapshot().values()) == 0


def test_a_signal_that_unwinds_through_exec_of_a_string_still_exits_with_its_own_status():
    """CPython kills a process with SIGINT at exit once a plain KeyboardInterrupt has left code run by
    exec() of a string (dataclasses make their methods so while a module imports): SIGTERM must stay 143."""
    script = (
        "import signal, sys\n"
        "from pcheck.run import signals as interrupts\n"
        "with interrupts.handling(interrupts.raise_interrupt):\n"
        "    try:\n"
        "        exec('import signal; signal.raise_signal(signal.SIGTERM)')\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
        "sys.exit(interrupts.received.exit_status())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert proc.returncode == 143, proc.stderr.decode()


def _catches(pid: int, signum: int) -> bool:
    """True once the process has a handler for `signum` (its SigCgt mask in /proc)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    mask = next(int(line.split()[1], 16) for line in text.splitlines() if line.startswith("SigCgt:"))
    return bool(mask & (1 << (signum - 1)))


def test_sigterm_while_the_command_line_is_being_built_ends_quietly_with_143(lab, monkeypatch):
    """The moment the timed test below hit once in 50 runs under load: typer building its click command."""
    import typer.main

    real = typer.main.get_command

    def signalled(app):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)  # pcheck's handler raises at the next line of Python
        return real(app)

    monkeypatch.setattr(typer.main, "get_command", signalled)
    proc = run_pcheck("check", lab.url("ok"), "--no-progress")
    assert proc.returncode == 143, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("delay_s", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_sigterm_at_any_moment_of_start_up_ends_quietly_with_143(lab, delay_s):
    """From pcheck's first line (its handler in place) to the run, SIGTERM is always 143, never a traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", lab.url("delay/3000"), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        fh.wait_until(lambda: proc.poll() is not None or _catches(proc.pid, signal.SIGTERM), fh.MAX_WAIT_S,
                      "pcheck's SIGTERM handler in place")
        time.sleep(delay_s)  # not a synchronisation: the moment of the signal is what varies
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 143, err.decode()
    assert b"Traceback" not in err


@pytest.mark.parametrize("shape", ["an endless line", "a stdin that sends nothing more"])
def test_the_first_interrupt_ends_a_run_stuck_reading_stdin(lab, tmp_path, cli_processes, shape):
    first = lab.url("ok")
    report = tmp_path / "report.jsonl"
    stderr = tmp_path / "stderr.txt"
    read_end, write_end = os.pipe()
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pcheck", "check", "-", "--format", "jsonl", "-o", str(report), "--no-progress"],
            stdin=read_end, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    cli_processes.append(proc)
    writer = os.fdopen(write_end, "wb", buffering=0)
    writer.write((first + "\n").encode())
    if shape == "an endless line":
        # pcheck is inside the line once it has taken far more than a pipe holds (64 KiB); the writer stays.
        chunk, sent = b"a" * 65536, 0
        while sent < 4 << 20:
            sent += writer.write(chunk)
    else:
        # Everything written has been read, and the writer lives on: the next read waits for ever.
        fh.wait_until(lambda: proc.poll() is not None or _unread(read_end) == 0, fh.MAX_WAIT_S, "stdin read")
    try:
        os.kill(proc.pid, signal.SIGINT)  # once, to pcheck alone: the writer does not stop
        proc.wait(10)
    finally:
        writer.close()
        os.close(read_end)
    assert proc.returncode == 130, stderr.read_text()
    assert [r["url"] for r in read_jsonl(report, complete=True)] == [first]
    assert "input not read to its end" in stderr.read_text()


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe."""
    import fcntl
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


# == The report cannot be written ===============================================================


def test_a_full_disk_is_one_line_and_exit_3(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url(f"ok?i={i}") for i in range(20)])
    for args in (["-o", "/dev/full"], []):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl",
                                   "--no-progress", *args], stdout=full, stderr=subprocess.PIPE, timeout=60)
        err = proc.stderr.decode()
        assert proc.returncode == 3, err
        assert err.count("\n") == 1 and "No space left on device" in err, err


def test_no_room_for_the_reports_spool_is_one_line_and_exit_3(tmp_path):
    """Text reports sort their problems on disk at the end; a temp directory that fills up ends the run cleanly."""
    listing = tmp_path / "invalid.txt"
    listing.write_text("".join(f"not a url {i} {'x' * 40}\n" for i in range(200_000)), encoding="utf-8")

    def small_files():  # type: ignore[no-untyped-def]
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # Python ignores SIGXFSZ: writes fail

    proc = subprocess.run([sys.executable, "-m", "pcheck", "check", str(listing), "-o", str(tmp_path / "r.txt"),
                           "--no-progress"], capture_output=True, timeout=60, preexec_fn=small_files,
                          env={**os.environ, "SQLITE_TMPDIR": str(tmp_path)})
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and "cannot write the report" in err, err


def test_a_closed_stdout_is_one_line_and_exit_3_before_any_check(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url("ok")])
    proc = subprocess.run(
        [sys.executable, "-m", "pcheck", "check", str(listing), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        preexec_fn=lambda: os.close(1))
    err = proc.stderr.decode()
    assert proc.returncode == 3 and err.count("\n") == 1 and "stdout" in err, err
    assert sum(s.requests for s in lab.snapshot().values()) == 0


def test_an_unwritable_output_file_is_exit_3_before_any_check(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url("ok")])
    proc = run_pcheck("check", str(listing), "-o", str(tmp_path / "no-such-dir" / "r.txt"), "--no-progress")
    assert proc.returncode == 3 and "no-such-dir" in proc.stderr and "Traceback" not in proc.stderr
    assert sum(s.requests for s in lab.snapshot().values()) == 0


def test_a_reader_that_goes_away_ends_the_run_quietly(lab, tmp_path):
    listing = write_list(tmp_path / "urls.txt", [lab.url(f"delay/200?i={i}", host=i % 4) for i in range(400)])
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl",
                             "--no-progress", "--max-per-host", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().startswith(b"{")  # `| head -1`
        proc.stdout.close()
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 141, err.decode()
    assert err == b"", err.decode()
    fh.wait_until(lambda: in_flight(lab) == 0, 10.0, "checks went on after the reader left")


def test_a_stdout_that_cannot_encode_a_url_shows_escapes_not_a_traceback(lab):
    url = lab.url("status/404?q=\u00fc")
    proc = run_pcheck("check", url, "--no-progress", env={"PYTHONIOENCODING": "ascii"}, subprocess=True)
    assert proc.returncode == 1, proc.stderr
    assert "q=\\xfc" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["text", "jsonl", "json", "csv", "markdown", "junit"])
def test_every_format_writes_an_undecodable_argument_and_never_a_password(tmp_path, fmt):
    """A lone surrogate (an argument that is not UTF-8) is escaped, not the end of the report."""
    report = tmp_path / "report"
    # The argument as the interpreter hands the bytes b"...\xff" of argv to pcheck: with a lone surrogate.
    undecodable = os.fsdecode(b"http://127.0.0.1:1/\xff")
    proc = run_pcheck("check", undecodable, "http://user:s3cret@127.0.0.1:1/x", "--format", fmt, "-o", str(report),
                      "--no-progress", "--retries", "0", "--timeout", "2", "--recheck-after", "0")
    text = report.read_text(encoding="utf-8")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "udcff" in text or "%FF" in text
    assert "s3cret" not in text and "user:***@" in text


def test_a_parent_out_of_descriptors_reports_every_url_unchecked_without_a_traceback(lab, tmp_path):
    """No descriptor left to start a worker: the machine's fault, said once; every URL still gets a record."""
    listing = write_list(tmp_path / "urls.txt", [lab.url(f"ok?i={i}") for i in range(50)])
    report = tmp_path / "report.jsonl"

    def few_files():  # type: ignore[no-untyped-def]
        resource.setrlimit(resource.RLIMIT_NOFILE, (10, 10))

    proc = subprocess.run([sys.executable, "-m", "pcheck", "check", str(listing), "--format", "jsonl", "-o",
                           str(report), "--no-progress"], capture_output=True, timeout=60, preexec_fn=few_files)
    err = proc.stderr.decode()
    records = read_jsonl(report, complete=True)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "cannot start a worker process" in err
    assert len(records) == 50
    assert {(r["outcome"], r["error"]) for r in records} == {("unchecked", "local_resources")}


def test_a_dead_workers_urls_still_end_when_no_new_worker_can_start(lab, monkeypatch):
    """The retry waits for a fresh worker only while one can come: otherwise a surviving sibling takes it."""
    urls = [lab.url(f"delay/300?i={i}", host=i % 4) for i in range(8)]
    config = Config(processes=2, threads=2, timeout=10, retries=0, start_method="forkserver")
    results = []
    with CheckRun(config) as run:
        real_spawn = run._spawn
        started = []

        def spawn_twice(in_process):  # type: ignore[no-untyped-def]
            if len(started) >= 2:
                raise OSError(24, "Too many open files")  # what the OS says once the limit is reached
            started.append(real_spawn(in_process))
            return started[-1]

        monkeypatch.setattr(run, "_spawn", spawn_twice)
        collected = threading.Thread(
            target=lambda: results.extend(run.results(parse_url(u, ARGS_SOURCE, None) for u in urls)), daemon=True)
        collected.start()
        fh.wait_until(lambda: len(run._workers) == 2 and all(w.in_flight for w in run._workers),
                      fh.MAX_WAIT_S, "both workers checking")
        os.kill(run._workers[0].process.pid, signal.SIGKILL)
        collected.join(30)
    assert not collected.is_alive(), "the run waited for ever for a worker that could not start"
    assert sorted(r.url for r in results) == sorted(urls)
    assert collections.Counter(r.outcome for r in results) == {Outcome.ALIVE: len(urls)}


# == Workers dying together =====================================================================


def test_when_every_worker_dies_at_once_the_retry_goes_to_a_worker_started_after(lab):
    """A sibling that is dying too is no place for a retry: a URL ends worker_crashed only after two deaths of its own.

    Worker B is stopped (alive to the parent, but doomed) while worker A is
    killed; once the parent has re-dispatched A's URLs, B is killed as well.
    """
    urls = [lab.url(f"delay/1500?i={i}", host=i % 4) for i in range(4)]
    # Two threads each: the stopped sibling has room for a retry, as a busy pool's workers do.
    config = Config(processes=2, threads=2, timeout=10, retries=0, start_method="forkserver")
    results = []
    with CheckRun(config) as run:
        collected = threading.Thread(
            target=lambda: results.extend(run.results(parse_url(u, ARGS_SOURCE, None) for u in urls)), daemon=True)
        collected.start()
        fh.wait_until(lambda: len(run._workers) == 2 and all(w.in_flight for w in run._workers)
                      and in_flight(lab) == 4, fh.MAX_WAIT_S, "both workers checking")
        first, second = (w.process.pid for w in run._workers)
        requests_before = len(lab.log)
        os.kill(second, signal.SIGSTOP)
        os.kill(first, signal.SIGKILL)
        # The dead worker's URLs go out again (to its replacement, or, wrongly, to the stopped sibling).
        fh.wait_until(lambda: len(lab.log) > requests_before, fh.MAX_WAIT_S, "a lost URL sent again")
        os.kill(second, signal.SIGKILL)
        collected.join(30)
    assert not collected.is_alive()
    assert sorted(r.url for r in results) == sorted(urls)
    assert collections.Counter(r.outcome for r in results) == {Outcome.ALIVE: len(urls)}, \
        [(r.url, r.outcome, r.error, r.detail) for r in results]


def test_a_signal_landing_where_it_cannot_unwind_still_ends_the_start_up_quietly_with_its_status():
    """A signal during a callback whose exceptions CPython drops (an import lock's weakref callback):
    no "Exception ignored" traceback, and the command ends with 128 + the signal instead of running."""
    script = (
        "import builtins, signal, weakref\n"
        "import pcheck.__main__ as entry\n"
        "class Token: pass\n"
        "token = Token()\n"
        "ref = weakref.ref(token, lambda _: signal.raise_signal(signal.SIGTERM))\n"
        "real_import = builtins.__import__\n"
        "def importing(name, *args, **kwargs):\n"
        "    global token\n"
        "    if name == 'pcheck.cli.app' and token is not None:\n"
        "        token = None  # the callback runs here, inside main()'s signal handling\n"
        "    return real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = importing\n"
        "entry.main(['--version'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert proc.returncode == 143, proc.stderr.decode()
    assert proc.stderr == b"" and b"pcheck" not in proc.stdout


def test_a_signal_wrapped_by_python_while_the_cli_is_imported_still_ends_with_its_status(monkeypatch):
    """SIGTERM landing in a dataclass's `__set_name__` while `pcheck.config` is imported comes out as
    `RuntimeError: Error calling __set_name__ on 'Field' instance 'processes'` (seen in CI, 1 run in a few
    hundred): exit 143, quietly, not a traceback and exit 1."""
    import types

    from pcheck import __main__ as entry
    from pcheck.run import signals as run_signals

    app = types.ModuleType("pcheck.cli.app")

    def landing(name: str) -> object:
        run_signals.received.received.append(signal.SIGTERM)  # recorded by the handler, then raised in a class body
        raise RuntimeError("Error calling __set_name__ on 'Field' instance 'processes' in 'Config'") \
            from run_signals.Interrupted()

    app.__getattr__ = landing  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "pcheck.cli.app", app)
    with pytest.raises(SystemExit) as ended:
        entry.main(["check", "http://127.0.0.1:9/"])
    assert ended.value.code == 143
    run_signals.received.received.clear()


def test_an_error_at_start_up_that_no_signal_caused_is_not_hidden_by_an_earlier_signal(monkeypatch):
    import types

    from pcheck import __main__ as entry
    from pcheck.run import signals as run_signals

    app = types.ModuleType("pcheck.cli.app")

    def broken(name: str) -> object:
        run_signals.received.received.append(signal.SIGTERM)
        raise RuntimeError("a bug of pcheck's own")  # no Interrupted behind it

    app.__getattr__ = broken  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "pcheck.cli.app", app)
    with pytest.raises(RuntimeError, match="a bug of pcheck's own"):
        entry.main(["check", "http://127.0.0.1:9/"])
    run_signals.received.received.clear()
