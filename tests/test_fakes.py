"""The tests' stand-ins keep to what they stand in for: a fake with another signature tests nothing.

FakeTransport (support/transport.py) is held to pcheck's Transport, method by method; every stand-in for
Checker.check (registered in support/checks.py with @stands_in_for_check) to Checker.check and to the
worker's CheckFn. A new stand-in written outside support/ is found here too, and refused.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from support.checks import CHECK_STAND_INS
from support.faults import FaultyCheck
from support.transport import FakeTransport

from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.run.worker import CheckFn

TESTS = Path(__file__).resolve().parent


def parameters(fn) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter, `self` left out: annotations are strings here and there."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def public_methods(cls) -> dict[str, object]:
    return {name: fn for name, fn in vars(cls).items() if callable(fn) and not name.startswith("_")}


@pytest.mark.parametrize("name", sorted(public_methods(Transport)))
def test_the_fake_transport_has_each_method_of_the_real_one_with_its_signature(name):
    assert name in public_methods(FakeTransport), f"FakeTransport has no {name}()"
    assert parameters(getattr(FakeTransport, name)) == parameters(getattr(Transport, name))


def test_the_fake_transport_has_what_the_checker_keeps_on_a_transport():
    fake = FakeTransport(lambda method, url, headers: None)
    assert fake.short_since is None  # Checker._attempt_within_means reads and writes it


def test_there_are_stand_ins_for_checker_check_to_hold_to_it():
    names = {fn.__qualname__ for fn in CHECK_STAND_INS}
    assert {"unpicklable_for_bad_urls", "check_unpicklable_in_parent"} <= names
    assert FaultyCheck.__call__ in CHECK_STAND_INS  # the fault worker's, registered when support.faults is imported


@pytest.mark.parametrize("stand_in", CHECK_STAND_INS, ids=lambda fn: fn.__qualname__)
def test_every_stand_in_for_checker_check_has_its_signature(stand_in):
    assert parameters(stand_in) == parameters(Checker.check)


def test_the_worker_calls_a_check_function_with_as_many_arguments_as_checker_check_takes():
    arguments, _ = typing.get_args(CheckFn)
    assert len(arguments) == len(parameters(Checker.check))


def _functions_named_check_taking_a_url(path: Path) -> list[str]:
    """Functions in a test file that look like stand-ins for Checker.check: named check (or a __call__),
    taking `url` first (after self)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("check", "__call__"):
            names = [a.arg for a in node.args.args]
            if names[:1] == ["self"]:
                names = names[1:]
            if names[:1] == ["url"]:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.name}")
    return found


def test_stand_ins_for_checker_check_are_written_in_support_only():
    outside = [hit for path in sorted(TESTS.glob("test_*.py")) for hit in _functions_named_check_taking_a_url(path)]
    assert not outside, f"write stand-ins for Checker.check in tests/support/checks.py, registered: {outside}"


def test_no_test_module_imports_from_another_test_module():
    offenders = []
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[-1].startswith("test_")
                          or n.startswith("tests.")]
    assert not offenders, f"shared helpers belong in tests/support/ or conftest.py: {offenders}"
