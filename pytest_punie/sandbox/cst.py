"""The LibCST code tools: cst_find_pattern, cst_rename and cst_add_import (these two return the
modified source and leave the file as it is, as Punie's do)."""

from __future__ import annotations

from typing import Any

from pytest_punie.sandbox.resulttypes import CstAddImportResult, CstFindResult, CstMatch, CstRenameResult
from pytest_punie.sandbox.runcontext import ToolContext

PATTERNS = ("FunctionDef", "ClassDef", "Call", "Decorator", "ImportFrom", "call:NAME", "decorator:NAME", "import:NAME")


def _source(ctx: ToolContext, file_path: str) -> tuple[str | None, str]:
    real, rel = ctx.path(file_path)
    if not real.is_file():
        return None, f"no such file in the workspace: {rel or file_path!r}"
    return real.read_text(encoding="utf-8", errors="replace"), rel


def _dotted(node: Any) -> str:
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    if isinstance(node, cst.Call):
        return _dotted(node.func)
    return ""


def _matches(node: Any, kind: str, name: str | None) -> bool:
    import libcst as cst

    if kind == "functiondef":
        return isinstance(node, cst.FunctionDef)
    if kind == "classdef":
        return isinstance(node, cst.ClassDef)
    if kind in ("call", "decorator"):
        target = cst.Call if kind == "call" else cst.Decorator
        if not isinstance(node, target):
            return False
        called = _dotted(node.func if isinstance(node, cst.Call) else node.decorator)
        return name is None or called == name or called.endswith("." + name)
    if kind == "importfrom":
        return isinstance(node, cst.ImportFrom)
    if kind == "import":
        if not isinstance(node, (cst.Import, cst.ImportFrom)):
            return False
        module = _dotted(node.module) if isinstance(node, cst.ImportFrom) and node.module else ""
        names = [] if isinstance(node.names, cst.ImportStar) else [_dotted(a.name) for a in node.names]
        return name is None or name == module or name in names
    return False


def cst_find_pattern(ctx: ToolContext, file_path: str, pattern: str) -> CstFindResult:
    """The nodes of a file that match a pattern (FunctionDef, ClassDef, call:NAME, ...), with their lines."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    text, rel = _source(ctx, file_path)
    if text is None:
        return CstFindResult(False, 0, [], parse_error=rel)
    kind, _, name = str(pattern).partition(":")
    kind = kind.strip().lower()
    if kind not in ("functiondef", "classdef", "call", "decorator", "importfrom", "import") or (
        kind == "import" and not name
    ):
        return CstFindResult(False, 0, [], parse_error=f"unknown pattern {pattern!r} (patterns: {', '.join(PATTERNS)})")
    try:
        wrapper = MetadataWrapper(cst.parse_module(text))
    except cst.ParserSyntaxError as exc:
        return CstFindResult(False, 0, [], parse_error=f"{rel}: {exc.message} (line {exc.raw_line})")
    positions = wrapper.resolve(PositionProvider)
    module = wrapper.module
    found: list[CstMatch] = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if _matches(node, kind, name or None):
                pos = positions[node].start
                snippet = module.code_for_node(node).strip().splitlines()
                found.append(CstMatch(pos.line, pos.column, snippet[0] if snippet else "", type(node).__name__))
            return True

    wrapper.visit(Finder())
    return CstFindResult(True, len(found), found)


def cst_rename(ctx: ToolContext, file_path: str, old_name: str, new_name: str) -> CstRenameResult:
    """A file's source with every name ``old_name`` renamed (the file itself is not written)."""
    import libcst as cst

    text, rel = _source(ctx, file_path)
    if text is None:
        return CstRenameResult(False, 0, "", parse_error=rel)
    if not str(new_name).isidentifier():
        return CstRenameResult(False, 0, text, parse_error=f"{new_name!r} is not an identifier")
    count = 0

    class Renamer(cst.CSTTransformer):
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            nonlocal count
            if original.value == old_name:
                count += 1
                return updated.with_changes(value=new_name)
            return updated

    try:
        modified = cst.parse_module(text).visit(Renamer()).code
    except cst.ParserSyntaxError as exc:
        return CstRenameResult(False, 0, text, parse_error=f"{rel}: {exc.message}")
    return CstRenameResult(count > 0, count, modified)


def cst_add_import(ctx: ToolContext, file_path: str, import_stmt: str) -> CstAddImportResult:
    """A file's source with an import added after its imports (unless it is there already)."""
    import libcst as cst

    text, rel = _source(ctx, file_path)
    if text is None:
        return CstAddImportResult(False, False, "", parse_error=rel)
    try:
        stmt = cst.parse_statement(str(import_stmt).strip() + "\n")
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        return CstAddImportResult(False, False, text, parse_error=f"{exc.message}")
    if not (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom))):
        return CstAddImportResult(False, False, text, parse_error=f"not an import statement: {import_stmt!r}")
    wanted = module.code_for_node(stmt).strip()
    if any(module.code_for_node(s).strip() == wanted for s in module.body):
        return CstAddImportResult(True, False, text)
    body = list(module.body)
    last_import = -1
    for i, s in enumerate(body):
        if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], (cst.Import, cst.ImportFrom)):
            last_import = i
        elif i == 0 and isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Expr):
            last_import = 0  # after the module docstring
    body.insert(last_import + 1, stmt)
    return CstAddImportResult(True, True, module.with_changes(body=body).code)
