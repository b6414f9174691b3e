"""--include-fragments on pages whose body is slow or odd: the status decides alive, the body only the fragment.

A page that answers 200 at once is alive however slowly its body comes; the body is read within a bound
of its own, and a fragment it could not judge says so in `detail` (never `broken`, never `timeout`). A
page that is not HTML (or came encoded) is not read at all. A declared charset that is no text encoding
(zlib, base64, rot13...) is not used to decode the page.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_pcheck

pytestmark = pytest.mark.timeout(60)
FAST = ["--retries", "0", "--no-progress", "-p", "1", "--recheck-after", "0", "--format", "jsonl",
        "--include-fragments"]


def check(*urls, timeout="1"):
    started = time.monotonic()
    proc = run_pcheck("check", *urls, "--timeout", timeout, *FAST)
    took = time.monotonic() - started
    return proc, {r["url"]: r for r in map(json.loads, proc.stdout.splitlines())}, took


def test_a_slow_body_leaves_its_page_alive_and_judges_what_arrived(lab):
    found, missing = lab.url("slow-page/a,b#a"), lab.url("slow-page/a,b#zzz")
    proc, records, took = check(found, missing)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (records[found]["outcome"], records[found]["status"], records[found]["error"]) == ("alive", 200, None)
    late = records[missing]
    assert (late["outcome"], late["status"], late["error"]) == ("alive", 200, None), late
    assert "not judged" in late["detail"] and "--timeout" in late["detail"]
    assert took < 10


def test_a_body_that_drips_from_the_start_is_alive_with_its_fragment_not_judged(lab):
    url = lab.url("drip-body#x")
    proc, records, _ = check(url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (records[url]["outcome"], records[url]["error"]) == ("alive", None)
    assert "not judged" in records[url]["detail"]


@pytest.mark.parametrize("kind", ["application/pdf", "image/png", "text/plain"])
def test_a_page_that_is_not_html_is_not_read_at_all(lab, kind):
    url = lab.url(f"slow-page/a?type={kind}#page=2")
    proc, records, took = check(url, timeout="5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert records[url]["outcome"] == "alive" and "not an HTML page" in records[url]["detail"]
    assert took < 4  # not read to its end (nor to the body's bound)


def test_an_encoded_page_is_not_read_at_all(lab):
    bomb = lab.url("typed-page/a?type=text/html&encoding=gzip#a")
    proc, records, _ = check(bomb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert records[bomb]["outcome"] == "alive" and "encoded" in records[bomb]["detail"]


@pytest.mark.parametrize("charset", ["zlib_codec", "zlib", "base64", "rot13", "hex", "bz2", "uu", "nonesuch",
                                     "utf-16", "idna"])
def test_a_declared_charset_that_is_no_text_encoding_is_not_used(lab, charset):
    url = lab.url(f"typed-page/a?type=text/html;charset={charset}#a")
    proc, records, _ = check(url)
    assert "Traceback" not in proc.stderr
    record = records[url]
    assert record["outcome"] == "alive" and record["error"] is None, record


@pytest.mark.parametrize("query", ["type=text/html;charset=latin-1&as=utf-16",  # a BOM wins over the header
                                   "type=text/html;charset=utf-16&as=utf-16-le",  # no BOM: UTF-16LE, as WHATWG reads it
                                   "type=text/html;charset=utf-16be&as=utf-16-be",
                                   "type=text/html;charset=ascii&as=utf-8-sig"])
def test_a_page_in_the_encoding_its_bytes_say_is_judged(lab, query):
    found, missing = lab.url(f"typed-page/a?{query}#a"), lab.url(f"typed-page/a?{query}#zz")
    proc, records, _ = check(found, missing)
    assert (records[found]["outcome"], records[found]["detail"]) == ("alive", None), records[found]
    assert records[missing]["error"] == "missing_fragment", records[missing]


def test_a_page_with_no_content_type_is_read_as_html(lab):
    url = lab.url("typed-page/a#a")
    proc, records, _ = check(url)
    assert proc.returncode == 0 and records[url]["detail"] is None, proc.stdout


def test_a_sitemap_whose_body_is_slow_is_not_read_and_says_why(lab):
    url = lab.url("slow-page/a/sitemap.xml")
    proc = run_pcheck("check", url, "--timeout", "1", *FAST[:-1])
    [record] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert record["outcome"] in ("unchecked", "broken") and "did not all arrive" in record["detail"], record
