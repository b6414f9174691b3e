"""What an availability API answer allows (fix/archive.py): the archive is a stranger, its answer is checked,
and only a copy captured alive before the link failed is offered; which links are dead enough to replace."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pcheck.fix.archive import Snapshot, is_dead, question, read_answer
from pcheck.models import CheckResult, ErrorKind, Outcome

WHEN = 1_600_000_000.0  # 2020-09-13T12:26:40Z


def _answer(**closest) -> bytes:
    return json.dumps({"url": "x", "archived_snapshots": {"closest": closest} if closest else {}}).encode()


def test_a_copy_captured_alive_before_the_time_asked_is_offered_over_https():
    body = _answer(available=True, status="200", timestamp="20200101000000",
                   url="http://web.archive.org/web/20200101000000/https://gone.example/page")
    assert read_answer(body, WHEN) == Snapshot("https://web.archive.org/web/20200101000000/https://gone.example/page",
                                               1_577_836_800.0)


def test_a_copy_on_another_archive_keeps_its_scheme():
    body = _answer(available=True, status="200", timestamp="20200101000000", url="http://mirror.test/web/1/x")
    assert read_answer(body, WHEN).url == "http://mirror.test/web/1/x"


def test_no_copy_a_later_copy_and_a_copy_of_an_error_are_refused_with_why():
    assert read_answer(_answer(), WHEN) == "the archive has none"
    later = _answer(available=True, status="200", timestamp="20210101000000", url="https://w/1")
    assert read_answer(later, WHEN) == "the archive's closest copy is from 2021-01-01, later than that"
    assert read_answer(_answer(available=True, status="302", timestamp="20200101000000", url="https://w/1"),
                       WHEN) == "the archive's closest copy was captured with status 302"
    assert read_answer(_answer(available=False, status="200", timestamp="20200101000000", url="https://w/1"),
                       WHEN) == "the archive has none"


def test_answers_that_are_not_the_apis_shape_are_said_never_trusted():
    odd = [b"<html>rate limited</html>", b"[]", b'{"archived_snapshots": []}', b'{"archived_snapshots": {"closest": 3}}',
           _answer(available=True, status="200", timestamp="2020", url="https://w/1"),
           _answer(available=True, status="200", timestamp="20201399000000", url="https://w/1"),
           _answer(available=True, status="200", timestamp="20200101000000", url="javascript:alert(1)"),
           _answer(available=True, status="200", timestamp="20200101000000", url=["https://w/1"]),
           b"\xff\xfe"]
    for body in odd:
        assert isinstance(read_answer(body, WHEN), str), body


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["archived_snapshots", "closest", "url", "timestamp", "status", "available"]),
                        inner, max_size=5), max_leaves=12))
def test_any_json_answer_gives_a_snapshot_or_a_reason_never_an_exception(answer):
    said = read_answer(json.dumps(answer).encode(), WHEN)
    assert isinstance(said, (str, Snapshot))


def test_the_question_names_the_url_and_the_time_and_keeps_the_apis_own_query():
    assert question("https://archive.org/wayback/available", "https://a.example/x?y=1&z", WHEN) == (
        "https://archive.org/wayback/available?url=https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z&timestamp=20200913122640")
    assert question("http://127.0.0.1:9/api?key=k", "http://a/", WHEN).startswith("http://127.0.0.1:9/api?key=k&url=")


def _broken(status=None, error=None, detail=None) -> CheckResult:
    return CheckResult(url="https://a.example/x", outcome=Outcome.BROKEN, status=status, error=error, detail=detail)


def test_only_links_gone_for_good_are_dead():
    assert is_dead(_broken(404)) and is_dead(_broken(410))
    assert is_dead(_broken(error=ErrorKind.DNS, detail="Name or service not known"))
    for transient_or_other in (_broken(503), _broken(429), _broken(403), _broken(500),
                               _broken(error=ErrorKind.TIMEOUT), _broken(error=ErrorKind.CONNECTION),
                               _broken(error=ErrorKind.DNS, detail="Temporary failure in name resolution"),
                               _broken(error=ErrorKind.TLS)):
        assert not is_dead(transient_or_other), transient_or_other
    assert not is_dead(CheckResult(url="https://a/", outcome=Outcome.BLOCKED, status=404))
