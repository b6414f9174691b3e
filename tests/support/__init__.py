"""What the tests share, in one place (pytest fixtures themselves are in tests/conftest.py).

- `support.fast`: the command-line options (and Config keywords) that make a check of the local site quick.
- `support.transport`: `FakeTransport`, a transport without sockets that answers from a function, for the
  Checker's rules (statuses, fallbacks, redirects, retries); the local site (pcheck.lab) is for what needs sockets.
- `support.checks`: stand-ins for `Checker.check`, kept here so that one test holds their signatures to the real one.
- `support.faults`: bounded waiting, process trees, and the fault-injecting worker (imported by name in workers).
- `support.runs`: helpers for runs of many URLs: one result per URL, a `pcheck` process started in its own group.

tests/ is on sys.path (pytest puts the rootdir-less conftest's folder there), so test modules write
`from support.fast import FAST`. No test module imports from another test module.
"""
