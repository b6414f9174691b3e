"""Reading URL lists: every line that is not blank or a comment ends as a target or an invalid result."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcheck.config import MAX_URL_LENGTH
from pcheck.inputs import InputError, iter_stream, normalise, open_sources
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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b), max_size=20))
def test_any_bytes_yield_exactly_one_item_per_candidate_line(lines):
    data = b"\n".join(lines) + b"\n"
    items = read(data)  # never raises
    expected = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if number == 1 and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:].strip()
        if text and not text.startswith(b"#"):
            expected.append(number)
    assert [i.line for i in items] == expected
    assert all(isinstance(i, Target) or i.outcome is Outcome.INVALID for i in items)
