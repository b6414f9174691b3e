"""One stop request delivered twice is one request; a deliberate second one skips the wait, and even
then every occurrence of the input gets a record (issue 32: `timeout` signals the process and its group,
two SIGTERMs 1-50 ms apart, and the URL in flight lost its record)."""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest

from support import faults as fh
from support.runs import in_flight, read_jsonl, slow_run


@pytest.mark.parametrize("gap_s", [0.001, 0.05])
def test_the_same_sigterm_twice_in_a_moment_is_one_request_and_loses_no_record(lab, tmp_path, cli_processes, gap_s):
    proc, urls, report, stderr = slow_run(lab, tmp_path, cli_processes)
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(gap_s)  # the delivery under test: two copies of one request, this far apart
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(20)
    assert proc.returncode == 143, stderr.read_text()
    records = read_jsonl(report, complete=True)
    assert sorted(r["url"] for r in records) == sorted(urls)
    outcomes = collections.Counter((r["outcome"], r["error"]) for r in records)
    assert set(outcomes) <= {("alive", None), ("unchecked", "cancelled")}
    assert "Traceback" not in stderr.read_text()


def test_a_deliberate_second_signal_skips_the_wait_and_still_records_every_occurrence(lab, tmp_path, cli_processes):
    proc, urls, report, stderr = slow_run(lab, tmp_path, cli_processes)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.6)  # after the first one's moment: a person pressing Ctrl-C again
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
    proc.wait(20)
    assert proc.returncode == 130, stderr.read_text()
    records = read_jsonl(report, complete=True)
    assert sorted(r["url"] for r in records) == sorted(urls)  # every occurrence: none lost to the second
    fh.wait_until(lambda: in_flight(lab) == 0, 5.0, "workers still had requests open after the exit")


def test_the_same_signal_twice_while_the_report_is_finished_does_not_cut_it(tmp_path):
    """finish_report waits for the report to be whole after one signal; the same one delivered again is one."""
    import io

    from pcheck.run.session import finish_report

    class Reporter:
        def finish(self, elapsed_s, interrupted):  # type: ignore[no-untyped-def]
            out.write("summary begins\n")
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)  # the copy `timeout` sends the process group
            out.write("summary ends\n")

    class Kept(io.StringIO):
        def close(self) -> None:
            self.kept = self.getvalue()
            super().close()

    out = Kept()
    finish_report(Reporter(), out, "report", 1.0, True)  # type: ignore[arg-type]
    assert out.kept == "summary begins\nsummary ends\n"


def test_a_signal_during_the_clean_up_after_a_run_still_ends_with_its_status(monkeypatch):
    """A second Ctrl-C can land after the run's handlers are gone (stopping helper processes, exiting):
    the process must still end with 128 + the first signal, not die by SIGINT with a traceback."""
    import pcheck.__main__ as entry
    import pcheck.cli.app
    from pcheck.run import signals

    def run_then_interrupted_in_clean_up(args):  # type: ignore[no-untyped-def]
        signals.received.received.append(signal.SIGINT)  # the first, handled by the run
        raise signals.Interrupted  # the second, from the handler in force during the clean-up

    monkeypatch.setattr(pcheck.cli.app, "run", run_then_interrupted_in_clean_up)
    monkeypatch.setattr(entry, "_start_workers_early", lambda args: None)
    with pytest.raises(SystemExit) as ended:
        entry.main(["check", "http://127.0.0.1:1/"])
    assert ended.value.code == 130
