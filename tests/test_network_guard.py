"""The network boundary (issue 5): NetGuard in the transport (--exclude-private), with an injected resolver.

No test asks a real DNS server: names go through an injected resolver, and `no_dns` turns any other
non-numeric lookup into an error it records.

The lab's addresses stand in for the Internet: the policy `lab_policy` treats 127.0.0.1 and 127.0.0.3 as
public and everything else (127.0.0.2 above all) as private, so "refused" and "allowed" can both be
watched on the lab's counters.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import quote

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl
from support.servers import tls_site

from pcheck.check.checker import Checker
from pcheck.check.netguard import (
    NetGuard,
    PrivateAddressRefused,
    is_private,
    system_resolver,
)
from pcheck.check.transport import Transport
from pcheck.config import Config
from pcheck.inputs.sources import parse_url
from pcheck.lab import Lab
from pcheck.models import ErrorKind, Outcome, Target

pytestmark = pytest.mark.timeout(30)

_real_getaddrinfo = socket.getaddrinfo  # captured before any test patches it


def numeric(host: str, port: int) -> list[str]:
    """What getaddrinfo parses locally (2130706433, 0x7f.1, ::ffff:1.2.3.4); never a DNS query."""
    infos = _real_getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [info[4][0] for info in infos]


class FakeResolver:
    """Names from a table (or a sequence of answers, for rebinding); numeric hosts parsed locally."""

    def __init__(self, names: dict[str, list[str]] | None = None, rebinding: dict[str, list[list[str]]] | None = None):
        self.names = names or {}
        self.rebinding = {k: list(v) for k, v in (rebinding or {}).items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.rebinding:
            answers = self.rebinding[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]
        if host in self.names:
            return self.names[host]
        try:
            return numeric(host, port)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"test resolver: no such name {host!r}") from None


ALLOWED = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.3")}


def lab_policy(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Refuse everything but 127.0.0.1 and 127.0.0.3: 127.0.0.2 plays the private network."""
    return ip not in ALLOWED


@pytest.fixture
def no_dns(monkeypatch):
    """Only numeric hosts may be resolved by socket.getaddrinfo; the names asked are recorded."""
    asked: list = []

    def numeric_only(host, port, family=0, type=0, proto=0, flags=0):
        try:
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"test: no DNS for {host!r}") from None

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    return asked


# -- network boundary: NetGuard in the transport, with an injected resolver ------------------------------

def test_allowed_name_is_checked_through_the_guard(lab, make_checker, no_dns):
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    verdict = make_checker(guard=(resolver, lab_policy)).check(f"http://public.test:{lab.port}/ok")
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert resolver.calls == ["public.test"] and no_dns == []
    assert dict(lab.log[0].headers)["Host"] == f"public.test:{lab.port}"


def test_idn_host_is_resolved_and_requested_as_punycode(lab, make_checker, no_dns):
    resolver = FakeResolver({"xn--bcher-kva.test": ["127.0.0.1"]})
    item = parse_url(f"http://BÜCHER.test:{lab.port}/ok", "<args>", None)
    assert isinstance(item, Target) and item.host == "xn--bcher-kva.test"
    verdict = make_checker(guard=(resolver, lab_policy)).check(item.key)
    assert verdict.outcome is Outcome.ALIVE
    assert resolver.calls == ["xn--bcher-kva.test"] and no_dns == []
    assert dict(lab.log[0].headers)["Host"] == f"xn--bcher-kva.test:{lab.port}"


@pytest.mark.parametrize("name, answer", [("evil.test", ["127.0.0.2"]), ("mixed.test", ["127.0.0.1", "127.0.0.2"])])
def test_name_resolving_to_a_private_address_is_excluded_without_connecting(lab, make_checker, no_dns, name, answer):
    resolver = FakeResolver({name: answer})
    verdict = make_checker(guard=(resolver, lab_policy), retries=2).check(f"http://{name}:{lab.port}/ok")
    assert (verdict.outcome, verdict.error, verdict.status) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS, None)
    assert "127.0.0.2" in verdict.detail
    assert verdict.attempts == 1 and resolver.calls == [name]  # no GET fallback, no retry
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0 and stats["127.0.0.1"].connections == 0
    assert no_dns == []


@pytest.mark.parametrize("target", [
    "http://evil.test:{port}/ok",
    "http://127.0.0.2:{port}/ok",
    "http://2130706434:{port}/ok",
    "http://0x7f.2:{port}/ok",
    "http://127.2:{port}/ok",
    "http://0177.0.0.2:{port}/ok",
    "http://[::ffff:127.0.0.2]:{port}/ok",
])
def test_redirect_from_allowed_to_private_is_refused_at_hop_2(lab, make_checker, no_dns, target):
    target = target.format(port=lab.port)
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "evil.test": ["127.0.0.2"]})
    start = f"http://public.test:{lab.port}/redirect-to?url=" + quote(target, safe="")
    verdict = make_checker(guard=(resolver, lab_policy)).check(start)
    assert (verdict.outcome, verdict.error) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS)
    assert verdict.redirects == 1 and verdict.attempts == 2
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0
    assert stats["127.0.0.1"].requests == 1
    assert no_dns == []


def test_rebinding_resolver_cannot_move_a_connection(lab, make_checker, no_dns):
    resolver = FakeResolver(rebinding={"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    checker = make_checker(guard=(resolver, lab_policy))
    base = f"http://rebind.test:{lab.port}"
    assert checker.check(base + "/ok?i=1").outcome is Outcome.ALIVE
    assert checker.check(base + "/redirect/2").outcome is Outcome.ALIVE  # same pooled connection
    assert resolver.calls == ["rebind.test"]  # one lookup per connection, never a second one
    assert lab.snapshot()["127.0.0.1"].connections == 1
    # The lab resets the pooled connection; the GET fallback must open a new one, and re-check it.
    verdict = checker.check(base + "/reset-on-head")
    assert (verdict.outcome, verdict.error, verdict.method) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS, "GET")
    assert resolver.calls == ["rebind.test", "rebind.test"]
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0 and stats["127.0.0.1"].connections == 1
    assert no_dns == []  # nothing resolved the name behind the guard's back


def test_only_the_first_resolved_address_is_connected_to():
    with Lab(hosts=3) as site:
        resolver = FakeResolver({"multi.test": ["127.0.0.3", "127.0.0.1"]})
        transport = Transport(pool_maxsize=2, guard=NetGuard(resolver=resolver, refuse=lab_policy))
        try:
            checker = Checker(Config(processes=1, timeout=2.0, retries=0), transport)
            assert checker.check(f"http://multi.test:{site.port}/ok").outcome is Outcome.ALIVE
        finally:
            transport.close()
        stats = site.snapshot()
        assert (stats["127.0.0.3"].connections, stats["127.0.0.1"].connections) == (1, 0)


def test_guarded_tls_connects_to_the_checked_address_but_verifies_the_name(tmp_path, make_checker, no_dns):
    server, ca_path = tls_site(tmp_path, "secure.test")
    with Lab(hosts=1, ssl_context=server) as site:
        resolver = FakeResolver({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        checker = make_checker(guard=(resolver, lab_policy), verify=str(ca_path))
        assert checker.check(f"https://secure.test:{site.port}/ok").outcome is Outcome.ALIVE
        verdict = checker.check(f"https://other.test:{site.port}/ok")
        assert (verdict.outcome, verdict.error) == (Outcome.BROKEN, ErrorKind.TLS)
    assert no_dns == []


PRIVATE_FORMS = [
    "127.0.0.1", "2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001", "017700000001",
    "0", "0.0.0.0", "::1", "[::1]", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "169.254.169.254", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "198.18.0.1", "240.0.0.1",
    "255.255.255.255", "224.0.0.1", "fe80::1", "ff02::1", "fd00:ec2::254", "fc00::1", "2001:db8::1",
    "64:ff9b::a9fe:a9fe",  # NAT64 (RFC 6052) of the metadata address
    "64:ff9b::7f00:1",  # NAT64 of loopback
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 prefix (RFC 8215)
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::7f00:1",  # deprecated IPv4-compatible form of 127.0.0.1
]
PUBLIC_FORMS = ["8.8.8.8", "1.1.1.1", "134744072", "2001:4860:4860::8888", "2002:808:808::1",
                "::ffff:8.8.8.8"]  # IPv4-mapped: judged as the IPv4 address it connects to


@pytest.mark.parametrize("host", PRIVATE_FORMS)
def test_numeric_forms_of_private_addresses_are_refused(host):
    addresses = numeric(host.strip("[]"), 80)  # precondition: local parsing only, no DNS
    assert system_resolver(host.strip("[]"), 80) == addresses
    assert all(is_private(ipaddress.ip_address(a)) for a in addresses)
    with pytest.raises(PrivateAddressRefused):
        NetGuard().address_for(host, 80)


@pytest.mark.parametrize("host", PUBLIC_FORMS)
def test_numeric_forms_of_public_addresses_are_allowed(host):
    [address] = sorted(set(numeric(host, 80)))
    assert not is_private(ipaddress.ip_address(address))
    assert NetGuard().address_for(host, 80) == address


@pytest.mark.timeout(60)
def test_cli_exclude_private_refuses_loopback_in_every_spelling(lab):
    p = lab.port
    urls = [lab.url("ok"), f"http://2130706433:{p}/ok", f"http://0x7f.1:{p}/ok", f"http://127.1:{p}/ok",
            f"http://0:{p}/ok", f"http://[::1]:{p}/ok", f"http://[::ffff:127.0.0.1]:{p}/ok",
            lab.url("redirect/1", host=1)]
    proc = run_pcheck("check", *urls, "--exclude-private", "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    records = jsonl(proc)
    assert len(records) == len(urls)
    assert {(r["outcome"], r["error"]) for r in records} == {("excluded", "private_address")}
    assert all(s.connections == 0 for s in lab.snapshot().values())
