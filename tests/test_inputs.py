"""Reading URL lists: every line that is not blank or a comment ends as a target or an invalid result."""

from __future__ import annotations

import errno
import io
import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_pcheck
from pcheck.config import MAX_URL_LENGTH
from pcheck.errors import InputError
from pcheck.inputs.sources import count_candidates, iter_stream, iter_targets, open_sources
from pcheck.urls import normalise
from pcheck.models import CheckResult, ErrorKind, Outcome, Target


def read(data: bytes) -> list[Target | CheckResult]:
    return list(iter_stream(io.BytesIO(data), "list.txt"))


def test_comments_and_blank_lines_are_skipped_and_line_numbers_stay_physical():
    items = read(b"# header\n\nhttp://a.example/\n   \n  # indented comment\nhttp://b.example/x\n")
    assert [(i.url, i.line) for i in items] == [("http://a.example/", 3), ("http://b.example/x", 6)]
    assert all(isinstance(i, Target) and i.source == "list.txt" for i in items)


def test_bom_and_crlf_are_accepted():
    items = read(b"\xef\xbb\xbfhttp://a.example/\r\nhttp://b.example/\r\n")
    assert [i.url for i in items] == ["http://a.example/", "http://b.example/"]
    assert all(isinstance(i, Target) for i in items)


@pytest.mark.parametrize(
    "line, reason",
    [
        ("example.com/no-scheme", "not an absolute http(s) URL"),
        ("ftp://example.com/file", "not an absolute http(s) URL"),
        ("mailto:someone@example.com", "not an absolute http(s) URL"),
        ("javascript:alert(1)", "not an absolute http(s) URL"),
        ("//example.com/scheme-relative", "not an absolute http(s) URL"),
        ("http:///no-host", "no host"),
        ("http://exa\tmple.com/", "control character"),
        ("http://example.com/a b", "whitespace"),
        ("http://example.com/\u2028", "whitespace"),
        ("http://example.com/a\rb", "control character"),
        ("http://example.com/\x1b[2J", "control character"),
        ("http://example.com/\x00", "control character"),
        ("http://example.com:99999/", "bad port"),
        ("http://a..b/", "bad host name"),
        ("http://[::1/", "IPv6"),
    ],
)
def test_invalid_lines_become_invalid_results_naming_source_and_line(line, reason):
    [item] = read(b"# first line\n" + line.encode() + b"\n")
    assert isinstance(item, CheckResult)
    assert (item.outcome, item.error, item.source, item.line) == (Outcome.INVALID, ErrorKind.INVALID_URL, "list.txt", 2)
    assert item.url == line  # shown as written, never "cleaned"
    assert reason in item.detail


def test_invalid_utf8_is_reported_with_replacement_characters():
    [item] = read(b"http://example.com/\xff\xfe\n")
    assert item.outcome is Outcome.INVALID and item.line == 1
    assert item.url == "http://example.com/\ufffd\ufffd"
    assert "UTF-8" in item.detail


def test_overlong_line_is_invalid_and_the_next_line_keeps_its_number():
    data = b"http://example.com/" + b"a" * (MAX_URL_LENGTH * 3) + b"\nhttp://ok.example/\n"
    first, second = read(data)
    assert first.outcome is Outcome.INVALID and first.line == 1 and len(first.url) < 1000
    assert isinstance(second, Target) and second.line == 2


def test_input_is_streamed_not_loaded_whole():
    class CountingStream(io.BytesIO):
        consumed = 0

        def readline(self, size=-1):
            line = super().readline(size)
            CountingStream.consumed += len(line)
            return line

    body = b"".join(b"http://example.com/%d\n" % i for i in range(100_000))
    stream = CountingStream(body)
    first = next(iter(iter_stream(stream, "big.txt")))
    assert isinstance(first, Target)
    assert CountingStream.consumed < 1000  # one line read, not 2 MB


def test_hosts_are_normalised_once_for_dedupe_and_limits():
    assert normalise("HTTP://Example.COM/Path#frag") == ("http://example.com/Path", "example.com")
    assert normalise("https://bücher.example/") == ("https://xn--bcher-kva.example/", "xn--bcher-kva.example")
    assert normalise("http://[::1]:8080/x") == ("http://[::1]:8080/x", "::1")
    assert normalise("http://user:pw@h.example:81") == ("http://user:pw@h.example:81/", "h.example")


def test_unreadable_inputs_are_usage_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_sources([str(tmp_path / "missing.txt")])
    with pytest.raises(InputError, match="directory"):
        open_sources([str(tmp_path)])


def test_arguments_are_classified_as_stdin_url_or_file(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("http://a.example/\n")
    kinds = [s.kind for s in open_sources(["-", "http://x.example/", str(path)])]
    assert kinds == ["stdin", "url", "file"]


#: Padding a list's reader must take as blank: spaces, tabs, and the CR of a CRLF line end.
_PAD = st.lists(st.sampled_from([b" ", b"\t", b"\r"]), max_size=3).map(b"".join)
_REST = st.binary(max_size=40).filter(lambda b: b"\n" not in b)
#: Bytes that start a line's content: printable ASCII or any non-ASCII byte, but never `#` or whitespace.
_FIRST = st.sampled_from([bytes([c]) for c in range(0x21, 0x100) if c != ord("#")])
#: URLs known to be valid, and what the reader must report for them: the URL as written.
_KNOWN_URLS = [b"http://a.example/", b"https://B.example:8443/x?y=1#frag", b"http://127.0.0.1/",
               b"http://xn--bcher-kva.example/p", b"HTTP://a.example/%41"]


def _line(kind: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """A line of a known kind, built from its parts (so its kind is known without parsing it)."""
    if kind == "blank":
        parts = st.tuples(_PAD)
    elif kind == "comment":
        parts = st.tuples(_PAD, st.just(b"#"), _REST)
    elif kind == "url":
        parts = st.tuples(_PAD, st.sampled_from(_KNOWN_URLS), _PAD)
    else:  # anything else that is not blank and does not start with `#`: a target or an invalid result
        parts = st.tuples(_PAD, _FIRST, _REST)
    return parts.map(lambda p: (kind, b"".join(p)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["blank", "comment", "url", "other"]).flatmap(_line), max_size=20), st.booleans())
def test_any_list_yields_exactly_one_item_per_candidate_line(lines, bom):
    """The kind of each line is known by construction: blanks and comments yield nothing, every other
    line exactly one item with its physical line number; a known-valid URL is a target, as written."""
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(raw for _, raw in lines) + b"\n"
    items = read(data)  # never raises
    expected = [n for n, (kind, _) in enumerate(lines, start=1) if kind in ("url", "other")]
    assert [i.line for i in items] == expected
    assert all(i.source == "list.txt" for i in items)
    assert all(isinstance(i, Target) or i.outcome is Outcome.INVALID for i in items)
    by_line = {i.line: i for i in items}
    for n, (kind, raw) in enumerate(lines, start=1):
        if kind == "url":
            item = by_line[n]
            assert isinstance(item, Target), (raw, item)
            assert item.url == raw.strip(b" \t\r").decode()


@settings(max_examples=300, deadline=None)
@given(st.lists(_REST, max_size=20))
def test_any_bytes_yield_at_most_one_item_per_line_and_never_raise(lines):
    data = b"\n".join(lines) + b"\n"
    items = read(data)  # never raises
    numbers = [i.line for i in items]
    assert numbers == sorted(set(numbers)) and all(1 <= n <= len(lines) for n in numbers)
    assert all(isinstance(i, Target) or i.outcome is Outcome.INVALID for i in items)
    for n, raw in enumerate(lines, start=1):
        if raw.startswith(b"#") or not raw.strip(b" \t\r"):
            assert n not in numbers, raw  # a comment or a blank line
        elif raw[:1] not in b" \t\r\x0b\x0c" and not (n == 1 and raw.startswith(b"\xef\xbb\xbf")):
            assert n in numbers, raw  # content from its first byte: always one item


# -- pipes, devices and files that cannot be read --------------------------------------------

#: Seconds a test that could block on a pipe may take before pytest-timeout fails it.
PIPE_TEST_TIMEOUT_S = 20


@pytest.mark.timeout(PIPE_TEST_TIMEOUT_S)
def test_a_fifo_is_read_like_a_file_and_the_count_ahead_leaves_it_unread(tmp_path):
    fifo = tmp_path / "urls"
    os.mkfifo(fifo)
    [source] = open_sources([str(fifo)])
    assert source.kind == "file"
    assert count_candidates([source]) is None  # never opened: a second reader would steal its lines

    def write() -> None:
        with open(fifo, "w") as f:
            f.write("http://a.example/\n# comment\nhttp://b.example/\n")

    writer = threading.Thread(target=write)
    writer.start()
    items = list(iter_targets([source]))
    writer.join(PIPE_TEST_TIMEOUT_S)
    assert [(i.url, i.line) for i in items] == [("http://a.example/", 1), ("http://b.example/", 3)]


def test_a_process_substitution_path_is_read_like_a_file(tmp_path):
    read_end, write_end = os.pipe()
    os.write(write_end, b"http://a.example/\n")
    os.close(write_end)
    try:
        path = f"/dev/fd/{read_end}"  # what bash's <(...) hands over
        [source] = open_sources([path])
        assert [i.url for i in iter_targets([source])] == ["http://a.example/"]
    finally:
        os.close(read_end)


def test_dev_stdin_is_read_like_a_file(lab):
    proc = run_pcheck("check", "/dev/stdin", "--format", "jsonl", "--timeout", "3", "--retries", "0", "-p", "1",
                      stdin=lab.url("ok") + "\n", subprocess=True)  # /dev/stdin is the process's descriptor 0
    assert proc.returncode == 0, proc.stderr
    [record] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (record["url"], record["outcome"], record["source"]) == (lab.url("ok"), "alive", "/dev/stdin")


def test_a_device_is_refused_with_an_error_naming_it():
    with pytest.raises(InputError, match="^/dev/zero: a device"):
        open_sources(["/dev/zero"])


def test_an_unreadable_file_found_by_a_directory_walk_is_a_usage_error_like_a_named_one(lab, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(f"[a]({lab.url('ok?walk=1')})\n", encoding="utf-8")
    (docs / "gone.md").symlink_to(docs / "nowhere.md")  # met by the walk; cannot be opened
    for inputs in ([str(docs)], [str(docs / "gone.md")]):
        for progress in ([], ["--no-progress"]):  # the count ahead would meet it first
            proc = run_pcheck("check", *inputs, "--format", "jsonl", "--timeout", "3", "--retries", "0", "-p", "1",
                              *progress)
            assert proc.returncode == 2, (inputs, proc.stderr)
            assert proc.stderr.strip() == f"pcheck: error: {docs / 'gone.md'}: no such file"
            assert proc.stdout == ""
    assert not any("walk=1" in r.target for r in lab.log)  # nothing was checked


def test_a_globbed_file_that_cannot_be_read_when_its_turn_comes_becomes_one_unchecked_result(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"http://{name}.example/\n", encoding="utf-8")
    sources = open_sources([str(tmp_path / "*.txt")])
    (tmp_path / "a.txt").unlink()
    (tmp_path / "a.txt").mkdir()  # between the glob and the read, a.txt stopped being a file
    assert count_candidates(sources) == 2
    first, second = iter_targets(sources)
    assert (first.outcome, first.source, first.line) == (Outcome.UNCHECKED, str(tmp_path / "a.txt"), None)
    assert "cannot read this file (Is a directory)" in first.detail
    assert isinstance(second, Target) and second.url == "http://b.txt.example/"


@pytest.mark.timeout(PIPE_TEST_TIMEOUT_S)
def test_a_fifo_in_a_walked_directory_is_skipped_not_waited_for(tmp_path):
    (tmp_path / "a.md").write_text("[a](http://a.example/)\n", encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.md")
    sources = open_sources([str(tmp_path)])
    assert [s.name for s in sources] == [str(tmp_path / "a.md")]
    assert [i.url for i in iter_targets(sources)] == ["http://a.example/"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file; the dangling-link test covers the path")
def test_a_walked_file_without_read_permission_is_a_usage_error(tmp_path):
    (tmp_path / "secret.md").write_text("[a](http://a.example/)\n", encoding="utf-8")
    (tmp_path / "secret.md").chmod(0)
    try:
        with pytest.raises(InputError, match="secret.md: permission denied"):
            open_sources([str(tmp_path)])
    finally:
        (tmp_path / "secret.md").chmod(0o600)


def test_a_folder_a_directory_walk_cannot_list_is_a_usage_error_not_silently_skipped(tmp_path, monkeypatch):
    (tmp_path / "a.md").write_text("[a](http://a.example/)\n", encoding="utf-8")
    private = tmp_path / "private"
    private.mkdir()
    (private / "b.md").write_text("[b](http://b.example/)\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path="."):  # EACCES as a non-root user would meet it (root lists any folder)
        if os.fspath(path) == str(private):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    for named in (tmp_path, private):
        with pytest.raises(InputError, match=f"^{private}: Permission denied"):
            open_sources([str(named)])
