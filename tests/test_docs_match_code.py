"""docs/ARCHITECTURE.md stays true: its module tables name every module on disk and only those, and its
record schema names every field a report record has and only those.

Each row is read for its first backticked word, so a table may be reworded or realigned freely.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

from pcheck.output.reports import make_reporter

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pcheck"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
MODULES_SECTION = "One line per module"
SCHEMA_SECTION = "Exit codes and the record schema"


def section(text: str, title: str) -> str:
    """The body of the `## ` section whose heading starts with `title`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/ARCHITECTURE.md has no section '## {title}'"
    return match.group(1)


def first_names(body: str) -> tuple[list[str], list[str]]:
    """The first backticked word of each table row (header and rule rows skipped), and the rows that have none."""
    names, nameless = [], []
    lines = [line.strip() for line in body.splitlines()] + [""]
    rule = lambda row: row.startswith("|") and set(row) <= set("|-: ")
    for row, below in zip(lines, lines[1:]):
        if not row.startswith("|") or rule(row) or rule(below):  # a row above a rule is the header
            continue
        found = re.search(r"`([^`]+)`", row)
        names.append(found.group(1)) if found else nameless.append(row)
    return names, nameless


def modules_on_disk(root: Path = PACKAGE) -> set[str]:
    """Every .py file under pcheck/, relative to it; a folder's __init__.py that holds only a docstring needs no row."""
    found = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        body = ast.parse(path.read_bytes()).body
        only_a_docstring = len(body) <= 1 and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)
        if "/" in rel and path.name == "__init__.py" and only_a_docstring:
            continue
        found.add(rel)
    return found


def module_problems(doc: str, on_disk: set[str]) -> list[str]:
    names, nameless = first_names(section(doc, MODULES_SECTION))
    named = set(names)
    problems = [f"a row names no module: {row}" for row in nameless]
    problems += [f"{name} is named twice" for name in sorted(named) if names.count(name) > 1]
    problems += [f"pcheck/{name} has no row" for name in sorted(on_disk - named)]
    problems += [f"a row names {name}, which is not a module under pcheck/" for name in sorted(named - on_disk)]
    return problems


def written_fields() -> list[str]:
    """The fields of a report record as pcheck writes them: the csv report's header, its columns."""
    stream = io.StringIO()
    make_reporter("csv", stream)
    return stream.getvalue().splitlines()[0].split(",")


def field_problems(doc: str, fields: list[str]) -> list[str]:
    names, nameless = first_names(section(doc, SCHEMA_SECTION))
    problems = [f"a row names no field: {row}" for row in nameless]
    problems += [f"`{name}` is a record field the schema does not list" for name in fields if name not in names]
    problems += [f"the schema lists `{name}`, which no record has" for name in names if name not in fields]
    if not problems and names != fields:
        problems.append(f"the schema's order {names} is not the records' {fields}")
    return problems


def test_every_module_under_pcheck_has_a_row_and_every_row_a_module():
    problems = module_problems(ARCHITECTURE.read_text(), modules_on_disk())
    assert not problems, "docs/ARCHITECTURE.md's module tables and pcheck/ differ:\n  " + "\n  ".join(problems)


def test_the_record_schema_lists_every_field_a_record_has_in_order():
    problems = field_problems(ARCHITECTURE.read_text(), written_fields())
    assert not problems, "docs/ARCHITECTURE.md's record schema and the records differ:\n  " + "\n  ".join(problems)


DOC = """# x

## One line per module

| module | holds |
|---|---|
| `models.py` | records |
|`run/pool.py`|the pool, not `run/other.py`|
| `gone.py` | a module that was removed |
| no path here | ? |

## Exit codes and the record schema (the contract)

Prose with `url` in it is not a row.

| field | holds |
|:--|--|
| `url` | the URL |
| `outcome`  | what became of it |
| `colour` | a field nobody writes |

## Where to make a change

| `elsewhere.py` | not in either section |
"""


def test_the_checkers_find_what_a_doc_lacks_or_names_wrongly(tmp_path):
    for rel, text in {"models.py": "x = 1\n", "run/__init__.py": '"""Run."""\n', "run/pool.py": "",
                      "output/dump.py": "", "lab/__init__.py": '"""Lab."""\nfrom .site import Lab\n'}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    on_disk = modules_on_disk(tmp_path)
    assert on_disk == {"models.py", "run/pool.py", "output/dump.py", "lab/__init__.py"}  # run/__init__.py: a docstring only
    assert module_problems(DOC, on_disk) == [
        "a row names no module: | no path here | ? |",
        "pcheck/lab/__init__.py has no row", "pcheck/output/dump.py has no row",
        "a row names gone.py, which is not a module under pcheck/"]
    assert field_problems(DOC, ["url", "outcome", "ok"]) == [
        "`ok` is a record field the schema does not list", "the schema lists `colour`, which no record has"]
    assert field_problems(DOC.replace("colour", "ok"), ["url", "ok", "outcome"]) == [
        "the schema's order ['url', 'outcome', 'ok'] is not the records' ['url', 'ok', 'outcome']"]
    assert not field_problems(DOC.replace("colour", "ok"), ["url", "outcome", "ok"])
