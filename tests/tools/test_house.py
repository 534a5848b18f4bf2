"""The house rules a newcomer can rely on, checked on every run: no function in the package runs
past 60 lines, and every public function, class and method says in a docstring why it exists."""

from __future__ import annotations

import ast
from pathlib import Path

from ..conftest import ROOT

PACKAGE = ROOT / "pytest_punie"
MAX_LINES = 60


def _modules() -> list[tuple[Path, ast.Module]]:
    # the sandbox's workspaces are fixture repositories (their code is what the tools examine), not ours
    workspaces = PACKAGE / "sandbox" / "workspaces"
    return [
        (p, ast.parse(p.read_text(encoding="utf-8")))
        for p in sorted(PACKAGE.rglob("*.py"))
        if not p.is_relative_to(workspaces)
    ]


def test_no_function_runs_past_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert not long, "split these along their own steps:\n" + "\n".join(long)


def test_every_public_function_class_and_method_has_a_docstring():
    missing = []
    for path, tree in _modules():
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
                continue
            if ast.get_docstring(node) is None:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
            if isinstance(node, ast.ClassDef):
                missing += [
                    f"{path.relative_to(ROOT)}:{m.lineno} {node.name}.{m.name}"
                    for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not m.name.startswith("_")
                    and ast.get_docstring(m) is None
                ]
    assert not missing, "say why each exists, in one line:\n" + "\n".join(missing)


ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_WALK_MODULES = 6


def _section(title: str) -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start : end if end > 0 else len(text)]


def _module_of(dotted: str) -> tuple[Path, list[str]] | None:
    """The longest leading part of ``dotted`` that is a module of the package, and the rest."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = PACKAGE.joinpath(*parts[:n])
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path, parts[n:]
    return None


def _defines(path: Path, names: list[str]) -> bool:
    """Whether the module defines ``names`` (a function, a class, a class's method), read from its source."""
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for name in names:
        found = next(
            (
                node
                for node in scope
                if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name)
                or (isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names))
            ),
            None,
        )
        if found is None:
            return False
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return True


def _walk_modules(title: str) -> set[str]:
    import re

    modules: set[str] = set()
    for dotted in re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", _section(title)):
        resolved = _module_of(dotted)
        assert resolved is not None, f"{title}: `{dotted}` names no module of pytest_punie"
        path, names = resolved
        assert _defines(path, names), f"{title}: `{dotted}`: {path.relative_to(ROOT)} defines no {'.'.join(names)}"
        modules.add(str(path.relative_to(PACKAGE)))
    return modules


def test_the_walks_name_real_code_and_at_most_six_modules_each():
    """docs/architecture.md's walks stay true (every dotted name exists) and short (a newcomer
    follows one prompt, and `finish`, through at most six modules)."""
    for title in ("The walk of one prompt", "The walk of `finish`"):
        modules = _walk_modules(title)
        assert 3 <= len(modules) <= MAX_WALK_MODULES, f"{title}: {sorted(modules)}"


def test_a_walk_naming_a_missing_function_is_caught(tmp_path):
    assert _module_of("report.rundocument.build_run_document") == (
        PACKAGE / "report" / "rundocument.py",
        ["build_run_document"],
    )
    assert _defines(PACKAGE / "session" / "__init__.py", ["PunieSession", "finish"])
    assert not _defines(PACKAGE / "session" / "__init__.py", ["PunieSession", "no_such_step"])
    assert _module_of("nowhere.at_all") is None


def test_the_layer_table_lists_every_module():
    """The layer table of docs/architecture.md names every module and package of pytest_punie."""
    table = _section("Layers")
    missing = [
        p.stem if p.suffix == ".py" else p.name
        for p in sorted(PACKAGE.iterdir())
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
        or (p.is_dir() and (p / "__init__.py").is_file())
        if f"`{p.stem}" not in table and f"`{p.name}/`" not in table
    ]
    assert not missing, f"add to the layer table of docs/architecture.md: {missing}"
