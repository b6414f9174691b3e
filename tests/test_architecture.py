"""The package's layout rules (issue 17), kept true by reading pcheck's source with `ast`, importing none of it.

Each checker also runs on a fake package in tmp_path that breaks its rule: a rule that cannot fail is no rule.
"""

from __future__ import annotations

import ast
import functools
import importlib
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

LOOKABLE = sys.stdlib_module_names  # where a base class is looked up; any other is judged by its name
PACKAGE = Path(__file__).resolve().parent.parent / "pcheck"
MAX_LINES = 400
MAX_FLOORS = 8

GROUND = {"config", "models", "urls", "errors", "anchors", "_version"}
MIDDLE = {"inputs", "store", "output", "check", "fix"}  # fix: `pcheck fix`'s editor, the step after output
FOLDERS = {"cli", "run", "lab", *MIDDLE}  # lab: the embedded test site, a package of its own
TOP_FILES = {"__init__", "__main__", *GROUND}
MAY_IMPORT = {  # layer -> the layers it may import besides its own folder ("face" is pcheck/__init__.py)
    "__main__": {"cli", "run", *MIDDLE, "ground"}, "face": {"run", *MIDDLE, "ground"},
    "cli": {"run", *MIDDLE, "ground", "lab"}, "run": {*MIDDLE, "ground"},
    **{middle: {"ground"} for middle in MIDDLE}, "ground": {"ground"}, "lab": {"ground"},
}

# Imports from one middle folder (inputs, store, output, check, fix) into another, (importer, imported).
# None today: what two of them share lives on the ground floor (models.STDIN, config.REPORT_ERRORS).
MIDDLE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()

# Exceptions outside the PcheckError tree: private control flow that callers of pcheck never see.
EXCEPTIONS_OUTSIDE_THE_TREE = {
    "pcheck.check.deadlines.DeadlineExceeded": "the per-URL deadline, raised in the transport, turned into a verdict by the checker",
    "pcheck.check.netguard.PrivateAddressRefused": "raised inside urllib3's connect, found in the cause chain by the checker, a verdict",
    "pcheck.run.signals.InputAbandoned": "a stalled input read after an interrupt, caught in signals itself",
}

# Imports of other libraries: top-level name -> (where allowed, test on (module, layer)).
LIBRARY_RULES = {
    "multiprocessing": ("only under run/", lambda module, layer: layer == "run"),
    "ray": ("only under run/", lambda module, layer: layer == "run"),
    "tqdm": ("only in output/progress.py", lambda module, layer: module == "pcheck.output.progress"),
    "requests": ("never under cli/", lambda module, layer: layer != "cli"),
    "urllib3": ("never under cli/", lambda module, layer: layer != "cli"),
}

Module = namedtuple("Module", "name where source tree is_package")  # where: "pcheck/run/pool.py", for messages
Import = namedtuple("Import", "importer target line in_function type_checking")  # target: "pcheck.run.pool", "ray"


def load(root: Path) -> dict[str, Module]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        source, where = path.read_bytes(), str(path.relative_to(root.parent))
        modules[name] = Module(name, where, source, ast.parse(source, where), is_package)
    return modules


pcheck = functools.lru_cache(maxsize=None)(lambda: load(PACKAGE))  # the real package, read once


def layer(name: str) -> str | None:
    """The layer of a module: "face" (pcheck/__init__.py), "__main__", a folder, "ground", "lab"; None if unknown."""
    parts = name.split(".")[1:]
    if not parts or parts[0] in FOLDERS:
        return parts[0] if parts else "face"
    single = len(parts) == 1 and parts[0] in GROUND | {"lab", "__main__"}
    return ("ground" if parts[0] in GROUND else parts[0]) if single else None


class Imports(ast.NodeVisitor):  # all imports of a module, in `found`: in a function or not, under TYPE_CHECKING or not
    def __init__(self, module: Module, known: set[str]):
        self.module, self.known, self.found = module, known, []
        self.functions = self.type_checking = 0
        self.visit(module.tree)

    def add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.module.name, target, node.lineno, self.functions > 0, self.type_checking > 0))

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        checking = "TYPE_CHECKING" in (getattr(node.test, "id", None), getattr(node.test, "attr", None))
        self.type_checking += checking
        for statement in node.body:
            self.visit(statement)
        self.type_checking -= checking
        for statement in node.orelse:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = absolute(self.module, node)
        for alias in node.names:  # `from pcheck.run import signals` is the module pcheck.run.signals
            self.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in self.known else base, node)


def absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def internal_imports(modules: dict[str, Module]) -> list[Import]:
    """The imports of pcheck modules that make the graph, type-only ones (under TYPE_CHECKING) too: an arrow is an arrow.

    Only the face's lazy imports (in functions: its module __getattr__) are left out."""
    found = []
    for module in modules.values():
        for imp in Imports(module, set(modules)).found:
            if imp.target.split(".")[0] != "pcheck" or imp.target == module.name:
                continue
            if layer(module.name) == "face" and imp.in_function:
                continue  # the public face may import lazily (module __getattr__) from anywhere
            found.append(imp)
    return found


def at(modules: dict[str, Module], imp: Import) -> str:
    return f"{modules[imp.importer].where}:{imp.line}"


def cycles_and_longest_chain(modules: dict[str, Module]) -> tuple[list[str], list[str]]:
    """The import cycles, type-only imports included, each edge with its file:line; and the longest chain of
    imports that run (type-only ones load nothing), not following an edge that closes a cycle."""
    imports = internal_imports(modules)
    cycles = cycles_and_chain(modules, imports)[0]
    return cycles, cycles_and_chain(modules, [imp for imp in imports if not imp.type_checking])[1]


def cycles_and_chain(modules: dict[str, Module], imports: list[Import]) -> tuple[list[str], list[str]]:
    edges, best, stack, knots = {name: {} for name in modules}, {}, [], {}
    for imp in imports:
        if imp.target in modules:
            edges[imp.importer].setdefault(imp.target, imp)

    def walk(node: str) -> list[str]:
        if node not in best:
            stack.append(node)
            chains = []
            for target in sorted(edges[node]):
                if target in stack:
                    cycle = stack[stack.index(target):] + [target]
                    knots.setdefault(frozenset(cycle), cycle)
                else:
                    chains.append(walk(target))
            stack.pop()
            best[node] = [node] + max(chains, key=len, default=[])
        return best[node]

    chain = max((walk(name) for name in sorted(edges)), key=len, default=[])
    hops = lambda cycle: [f"{a} -> {b} ({at(modules, edges[a][b])})" for a, b in zip(cycle, cycle[1:])]
    return [" -> ".join(cycle) + "\n    " + "\n    ".join(hops(cycle)) for cycle in knots.values()], chain


def layer_violations(modules: dict[str, Module], allowed=MIDDLE_IMPORTS_ALLOWED) -> list[str]:
    """Upward and sideways imports; a module outside the layout (layer None) is left to the layout test."""
    found, used = [], set()
    for imp in internal_imports(modules):
        source, target = layer(imp.importer), layer(imp.target)
        if imp.target not in modules:
            found.append(f"{at(modules, imp)}: {imp.importer} imports {imp.target}, which does not exist")
        elif source in MIDDLE and target in MIDDLE and source != target:
            used.add((imp.importer, imp.target))
            if (imp.importer, imp.target) not in allowed:
                found.append(f"{at(modules, imp)}: {imp.importer} imports {imp.target} ({source} -> {target})")
        elif target not in MAY_IMPORT.get(source, {target}) | {None} and not (source == target and source in FOLDERS):
            found.append(f"{at(modules, imp)}: {imp.importer} ({source}) imports {imp.target} ({target})")
    found += [f"MIDDLE_IMPORTS_ALLOWED lists {a} -> {b}, which no longer happens" for a, b in set(allowed) - used]
    return found


def library_violations(modules: dict[str, Module], libraries: set[str], only: str | None = None) -> list[str]:
    found = []  # `only`: check just the modules of this layer
    for module in (m for m in modules.values() if only in (None, layer(m.name))):
        for imp in Imports(module, set(modules)).found:  # at any level, TYPE_CHECKING too
            top = imp.target.split(".")[0]
            if top in libraries and not LIBRARY_RULES[top][1](module.name, layer(module.name)):
                found.append(f"{at(modules, imp)}: {module.name} imports {imp.target} ({top}: {LIBRARY_RULES[top][0]})")
    return found


def locals_uses(modules: dict[str, Module]) -> list[str]:
    found = []  # any mention of locals, and vars() which is locals()
    for module in (m for m in modules.values() if layer(m.name) == "cli"):
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Name) and node.id == "locals":
                found.append(f"{module.where}:{node.lineno}: locals")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars" and not node.args:
                found.append(f"{module.where}:{node.lineno}: vars() without an argument, which is locals()")
    return sorted(found, key=lambda p: (p.split(":")[0], int(p.split(":")[1])))


def exception_violations(modules: dict[str, Module], allowed=EXCEPTIONS_OUTSIDE_THE_TREE) -> list[str]:
    classes, names = {}, {}  # "module.Class" -> (module, ClassDef); module -> {local name: dotted origin}
    for module in modules.values():
        names[module.name] = local = {}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                classes[f"{module.name}.{node.name}"] = (module, node)
                local.setdefault(node.name, f"{module.name}.{node.name}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:  # `import a.b` binds a, `import a.b as c` binds c to a.b
                    bound = alias.name if alias.asname or isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
                    local[alias.asname or bound] = f"{absolute(module, node)}.{bound}" if isinstance(node, ast.ImportFrom) else bound

    def dotted(module: str, expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Subscript):  # Generic[T]
            return dotted(module, expr.value)
        if isinstance(expr, ast.Attribute):
            head = dotted(module, expr.value)
            return head and f"{head}.{expr.attr}"
        return names[module].get(expr.id, f"builtins.{expr.id}") if isinstance(expr, ast.Name) else None

    def ancestry(name: str, hops: int = 0) -> set[str]:
        """The names a class derives from: pcheck classes, and 'exception' / 'interrupt' for outside ones."""
        owner, _, attr = name.rpartition(".")
        if hops > 20:  # class X(X), or imports in a ring
            return set()
        if name in classes:
            module, node = classes[name]
            return {name}.union(*(ancestry(dotted(module.name, base) or "?", hops + 1) for base in node.bases))
        if owner in names and attr in names[owner]:  # re-exported: follow the import
            return ancestry(names[owner][attr], hops + 1)
        return outside(name)

    found, tree = [], "pcheck.errors.PcheckError"
    for name in sorted(classes):
        family = ancestry(name)
        if "exception" in family and tree not in family and "interrupt" not in family and name not in allowed:
            module, node = classes[name]
            found.append(f"{module.where}:{node.lineno}: {name} is an exception outside the PcheckError tree")
        elif name in allowed and ("exception" not in family or tree in family):
            found.append(f"EXCEPTIONS_OUTSIDE_THE_TREE lists {name}, which is not an exception outside the tree")
    found += [f"EXCEPTIONS_OUTSIDE_THE_TREE lists {name}, which no longer exists" for name in set(allowed) - set(classes)]
    return found


@functools.lru_cache(maxsize=None)
def outside(name: str) -> frozenset[str]:
    """'exception', 'interrupt' or neither, for a class outside pcheck: looked up if builtin, stdlib or loaded, else by name."""
    module, _, attr = name.rpartition(".")
    try:
        value = getattr(importlib.import_module(module), attr) if module.split(".")[0] in LOOKABLE else None
    except (ImportError, AttributeError):
        value = None
    if isinstance(value, type):
        return frozenset(k for k, base in (("exception", BaseException), ("interrupt", KeyboardInterrupt)) if issubclass(value, base))
    return frozenset({"exception"} if attr.endswith(("Error", "Exception", "Exit", "Interrupt")) else ())


def layout_violations(root: Path) -> list[str]:
    files = {p.stem for p in root.glob("*.py")}
    folders = {p.name for p in root.iterdir() if p.is_dir() and p.name != "__pycache__" and not p.name.startswith(".")}
    kinds = [("{}.py", files, TOP_FILES), ("{}/", folders, FOLDERS)]
    found = [f"{root.name}/{shape.format(n)} is not in the layout" for shape, has, wanted in kinds for n in sorted(has - wanted)]
    found += [f"{root.name}/{shape.format(n)} is missing" for shape, has, wanted in kinds for n in sorted(wanted - has)]
    found += [f"{root.name}/{name}/__init__.py is missing" for name in sorted(FOLDERS & folders) if not (root / name / "__init__.py").exists()]
    return found


def long_modules(modules: dict[str, Module], limit: int = MAX_LINES) -> list[str]:
    lengths = {m.where: len(m.source.splitlines()) for m in modules.values()}
    return [f"{where}: {n} lines" for where, n in sorted(lengths.items(), key=lambda kv: -kv[1]) if n > limit]


def undocumented(modules: dict[str, Module]) -> list[str]:
    return [f"{m.where}: no docstring" for m in modules.values() if not (ast.get_docstring(m.tree) or "").strip()]


def report(title: str, problems: list[str]) -> str:
    return f"{title} ({len(problems)}):\n  " + "\n  ".join(problems)


class TestTheLayoutOfPcheck:  # the rules of issue 17, on pcheck itself
    def test_package_holds_only_the_agreed_modules_and_folders(self):
        problems = layout_violations(PACKAGE)
        assert not problems, report("pcheck/ is not laid out as issue 17 says", problems)

    def test_imports_between_pcheck_modules_form_no_cycle(self):
        problems = cycles_and_longest_chain(pcheck())[0]
        assert not problems, report("import cycles", problems)

    def test_no_import_chain_is_more_than_8_floors_high(self):
        chain = cycles_and_longest_chain(pcheck())[1]
        assert len(chain) <= MAX_FLOORS, f"{len(chain)} floors (at most {MAX_FLOORS}): " + " -> ".join(chain)

    def test_imports_point_down_the_layers_never_up(self):
        problems = layer_violations(pcheck())
        assert not problems, report("imports that go up or sideways", problems)

    def test_no_module_is_longer_than_400_lines(self):
        problems = long_modules(pcheck())
        assert not problems, report(f"modules over {MAX_LINES} lines", problems)

    def test_only_modules_under_run_import_multiprocessing_or_ray(self):
        problems = library_violations(pcheck(), {"multiprocessing", "ray"})
        assert not problems, report("multiprocessing or ray outside run/", problems)

    def test_only_output_progress_imports_tqdm(self):
        problems = library_violations(pcheck(), {"tqdm"})
        assert not problems, report("tqdm outside output/progress.py", problems)

    def test_cli_never_imports_requests_urllib3_or_multiprocessing(self):
        problems = library_violations(pcheck(), {"requests", "urllib3", "multiprocessing"}, only="cli")
        assert not problems, report("the CLI imports the network or processes", problems)

    def test_cli_never_uses_locals(self):
        problems = locals_uses(pcheck())
        assert not problems, report("locals() in the CLI", problems)

    def test_every_exception_derives_from_pcheck_error(self):
        problems = exception_violations(pcheck())
        assert not problems, report("exceptions outside pcheck.errors.PcheckError", problems)

    def test_every_module_opens_with_a_docstring(self):
        problems = undocumented(pcheck())
        assert not problems, report("modules without a docstring", problems)


def fake(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    """A fake package pcheck/ in tmp_path, of `files` (relative path -> source); folders get an __init__.py."""
    root = tmp_path / "pcheck"
    for rel, text in {"__init__.py": '"""Face."""\n', **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    for folder in [p for p in root.rglob("*") if p.is_dir() and not (p / "__init__.py").exists()]:
        (folder / "__init__.py").write_text('"""Folder."""\n')
    return load(root)


class TestEachCheckerOnAFakePackageThatBreaksItsRule:  # a rule that cannot fail is no rule
    def test_checkers_find_cycles_chains_and_upward_imports_in_a_fake_package(self, tmp_path):
        modules = fake(tmp_path, {
            "errors.py": '"""E."""\nimport typing\nif typing.TYPE_CHECKING:\n    from pcheck.urls import U\n',  # type-only: no floor
            "models.py": '"""M."""\nfrom pcheck import urls\n',
            "urls.py": '"""U."""\ndef f():\n    from pcheck.models import X\n',  # a cycle through a function-level import
            "run/pool.py": '"""P."""\nfrom . import worker\nfrom pcheck.cli.app import run\nfrom pcheck.gone import x\n',
            "run/worker.py": '"""W."""\nimport pcheck.run.pool\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pcheck.cli.app\n',
            "check/checker.py": '"""C."""\nfrom ..store import cache\n', "store/cache.py": '"""S."""\nfrom pcheck.errors import E\n',
            "cli/app.py": '"""A."""\n', "lab/site.py": '"""S."""\nfrom pcheck.lab.connection import Connection\n',
            "lab/connection.py": '"""C."""\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pcheck.lab.site import Lab\n'})
        found, chain = cycles_and_longest_chain(modules)
        circles = {frozenset(c.split("\n")[0].split(" -> ")): c for c in found}
        assert set(circles) == {frozenset({"pcheck.models", "pcheck.urls"}), frozenset({"pcheck.run.pool", "pcheck.run.worker"}),
                                frozenset({"pcheck.lab.connection", "pcheck.lab.site"})}, found
        assert "pcheck/urls.py:3" in circles[frozenset({"pcheck.models", "pcheck.urls"})], found
        assert "pcheck/lab/connection.py:4" in circles[frozenset({"pcheck.lab.connection", "pcheck.lab.site"})], found  # type-only
        assert chain == ["pcheck.check.checker", "pcheck.store.cache", "pcheck.errors"], chain  # not on through urls
        tower = fake(tmp_path / "tower", {f"run/m{i}.py": f'"""M."""\nfrom . import m{i + 1}\n' * (i < 8) for i in range(9)})
        assert cycles_and_longest_chain(tower)[1] == [f"pcheck.run.m{i}" for i in range(9)]  # 9 floors: too high
        problems = "\n".join(layer_violations(modules, allowed={("pcheck.inputs.sources", "pcheck.output.reports")}))
        assert "pcheck/run/pool.py:3: pcheck.run.pool (run) imports pcheck.cli.app (cli)" in problems
        assert "pcheck/run/worker.py:5: pcheck.run.worker (run) imports pcheck.cli.app (cli)" in problems  # type-only: up all the same
        assert "pcheck/run/pool.py:4: pcheck.run.pool imports pcheck.gone, which does not exist" in problems
        assert "pcheck/check/checker.py:2: pcheck.check.checker imports pcheck.store.cache (check -> store)" in problems
        assert "lists pcheck.inputs.sources -> pcheck.output.reports, which no longer happens" in problems
        assert "lab" not in problems and problems.count("\n") == 4, problems  # the same folder: fine
        assert not cycles_and_longest_chain(fake(tmp_path / "lazy", {"models.py": '"""M."""\n', "run/s.py": '"""S."""\nimport pcheck\n',
                                                   "__init__.py": '"""F."""\ndef __getattr__(n):\n    from pcheck.run import s\n'}))[0]

    def test_checkers_find_long_undocumented_modules_and_a_bad_layout_in_a_fake_package(self, tmp_path):
        modules = fake(tmp_path, {"models.py": '"""M."""\n' + "x = 1\n" * 400, "hosts.py": "x = 1\n", "run/empty.py": ""})
        assert long_modules(modules) == ["pcheck/models.py: 401 lines"]
        assert sorted(undocumented(modules)) == ["pcheck/hosts.py: no docstring", "pcheck/run/empty.py: no docstring"]
        problems = layout_violations(tmp_path / "pcheck")
        assert "pcheck/hosts.py is not in the layout" in problems and "pcheck/urls.py is missing" in problems, problems
        assert "pcheck/cli/ is missing" in problems and "pcheck/run/ is not in the layout" not in problems, problems

    def test_checkers_find_forbidden_libraries_and_locals_in_a_fake_package(self, tmp_path):
        modules = fake(tmp_path, {
            "check/c.py": '"""C."""\ndef f():\n    from multiprocessing import connection\n', "output/progress.py": "import tqdm.auto\n",
            "run/r.py": '"""R."""\nimport multiprocessing.pool, ray, tqdm\n', "cli/app.py": '"""A."""\nimport requests as r\nfrom urllib3.util import x\nimport ray.util\n'
                          'def f(a):\n    return dict(locals()), vars(), vars(a)\n'})
        assert sorted(library_violations(modules, {"multiprocessing", "ray"})) == [
            "pcheck/check/c.py:3: pcheck.check.c imports multiprocessing (multiprocessing: only under run/)",
            "pcheck/cli/app.py:4: pcheck.cli.app imports ray.util (ray: only under run/)"]
        assert library_violations(modules, {"tqdm"}) == ["pcheck/run/r.py:2: pcheck.run.r imports tqdm (tqdm: only in output/progress.py)"]
        assert [p[:20] for p in library_violations(modules, {"requests", "urllib3"})] == ["pcheck/cli/app.py:2:", "pcheck/cli/app.py:3:"]
        assert sorted(locals_uses(modules)) == ["pcheck/cli/app.py:6: locals", "pcheck/cli/app.py:6: vars() without an argument, which is locals()"]

    def test_exception_checker_finds_exceptions_outside_the_tree_in_a_fake_package(self, tmp_path):
        modules = fake(tmp_path, {
            "errors.py": "class PcheckError(Exception): pass\nclass ConfigError(PcheckError, ValueError): pass\n",
            "__init__.py": "from pcheck.errors import PcheckError as Base\n",  # re-exported by the face
            "check/t.py": '"""T."""\nimport socket, http.client\nfrom pcheck import errors, Base\n'
                          'class Ok(errors.ConfigError): pass\nclass AlsoOk(Base): pass\nclass Stop(KeyboardInterrupt): pass\n'
                          'class Bad(socket.timeout): pass\nclass Worse(Bad): pass\nclass Odd(LookupError): pass\n'
                          'class Fine(http.client.HTTPResponse): pass\nclass Allowed(RuntimeError): pass\n'})
        allowed = {"pcheck.check.t.Allowed": "fake", "pcheck.check.t.Ok": "fake", "pcheck.check.t.Gone": "fake"}
        assert sorted(exception_violations(modules, allowed)) == sorted([
            *(f"pcheck/check/t.py:{n}: pcheck.check.t.{c} is an exception outside the PcheckError tree" for n, c in ((7, "Bad"), (8, "Worse"), (9, "Odd"))),
            "EXCEPTIONS_OUTSIDE_THE_TREE lists pcheck.check.t.Ok, which is not an exception outside the tree",
            "EXCEPTIONS_OUTSIDE_THE_TREE lists pcheck.check.t.Gone, which no longer exists"])
