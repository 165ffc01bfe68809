"""The four floors' import rules, and the backend chosen in one module.

``domain`` imports nothing of the floors above it nor any framework or driver;
``application`` knows ports, not drivers; ``infrastructure`` knows no web or
command-line framework; ``interfaces`` reach the databases only through the
composition root. The first rules are import-linter contracts (pyproject.toml,
``[tool.importlinter]``), run here; the rules about eventsourcing's own modules
are checked by walking the code, since import-linter sees an outside package
only as a whole.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("domain", "application", "infrastructure", "interfaces")
COMPOSITION_ROOT = ROOT / "infrastructure" / "composition.py"
BACKEND_MODULES = frozenset(
    {"eventsourcing.postgres", "eventsourcing.sqlite", "eventsourcing.popo"}
)
BACKEND_TYPE_SUFFIXES = ("Recorder", "Datastore")


def sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def backend_choices(tree: ast.AST) -> list[int]:
    """Lines that pick a behaviour by the kind of store: a comparison with an
    eventsourcing persistence module's name or a ``postgres`` URL prefix, or a
    branch on ``isinstance(…, <…Recorder or …Datastore>)``. An ``assert
    isinstance`` only tells the type checker, and is no choice."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in BACKEND_MODULES for o in operands):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and any(
                isinstance(a, ast.Constant) and str(a.value).startswith("postgres")
                for a in node.args
            )
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.If | ast.IfExp | ast.While | ast.BoolOp):
            tests = [node.test] if not isinstance(node, ast.BoolOp) else node.values
            for test in tests:
                for call in ast.walk(test):
                    if _isinstance_of_a_backend_type(call):
                        lines.append(call.lineno)
    return sorted(set(lines))


def _isinstance_of_a_backend_type(node: ast.AST) -> bool:
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
    ):
        return False
    names = [n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)]
    return any(name.endswith(BACKEND_TYPE_SUFFIXES) for name in names)


def test_the_import_contracts_of_the_four_floors_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", "pyproject.toml", "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout, result.stdout


def test_the_domain_uses_only_eventsourcings_domain_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources("domain")
        for line, module in imported_modules(ast.parse(path.read_text()))
        if module.split(".")[0] == "eventsourcing" and module != "eventsourcing.domain"
    ]
    assert found == []


def test_only_infrastructure_imports_a_storage_backend() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources("domain", "application", "interfaces")
        for line, module in imported_modules(ast.parse(path.read_text()))
        if module in BACKEND_MODULES or module.startswith(tuple(f"{m}." for m in BACKEND_MODULES))
    ]
    assert found == []


def test_the_backend_is_chosen_in_the_composition_root_only() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources(*FLOORS, "benchmarks")
        if path != COMPOSITION_ROOT
        for line in backend_choices(ast.parse(path.read_text()))
    ]
    assert found == []
    # …where one function maps the persistence module to its backend.
    assert "def backend_for(" in COMPOSITION_ROOT.read_text()


def test_what_counts_as_choosing_a_backend() -> None:
    """The check above finds each way the backend used to be chosen in many places."""
    chosen = """
if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
    pass
if isinstance(app.recorder, PostgresApplicationRecorder):
    pass
kind = "pg" if isinstance(store.datastore, sqlite.SQLiteDatastore) else "other"
if url.startswith("postgresql://"):
    pass
"""
    assert backend_choices(ast.parse(chosen)) == [2, 4, 6, 7]
    not_chosen = """
assert isinstance(recorder, PostgresApplicationRecorder)  # for the type checker
if isinstance(value, str):
    pass
settings = {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}
"""
    assert backend_choices(ast.parse(not_chosen)) == []
