"""What the tests share, in one place (pytest fixtures themselves are in tests/conftest.py).

- `support.fast`: the command-line options (and Config keywords) that make a check of the local site quick.
- `support.transport`: `FakeTransport`, a transport without sockets that answers from a function, for the
  Checker's rules (statuses, fallbacks, redirects, retries); the local site (pcheck.lab) is for what needs sockets.
- `support.checks`: stand-ins for `Checker.check`, kept here so that one test holds their signatures to the real one.
- `support.faults`: bounded waiting, process trees, and the fault-injecting worker (imported by name in workers).
- `support.runs`: helpers for runs of many URLs: one result per URL, a `pcheck` process started in its own group.
- `support.repos`: a documentation repository as CI checks one out (git, a committed and an untracked
  document, `a,b:c.md`), and where each of its links is.
- `support.servers`: small servers for answers the local site cannot give (a raw response, TLS with a test CA).

tests/ has no __init__.py, so pytest (import mode "prepend") puts it on sys.path: test modules write
`from support.fast import FAST`, and worker processes find `support.faults` by that name too.
No test module imports from another test module (test_fakes.py checks).
"""
