"""The language-server tools, answered by jedi over the workspace: goto_definition, find_references,
hover, document_symbols, workspace_symbols."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_punie.sandbox.resulttypes import (
    DefinitionLocation,
    DocumentSymbolsResult,
    FindReferencesResult,
    GotoDefinitionResult,
    HoverResult,
    ReferenceLocation,
    SymbolInfo,
    WorkspaceSymbol,
    WorkspaceSymbolsResult,
)
from pytest_punie.sandbox.runcontext import ToolContext


def _jedi() -> Any:
    import jedi  # the sandbox extra; imported when a tool is first called

    return jedi


def _project(ctx: ToolContext) -> Any:
    return _jedi().Project(str(ctx.root), added_sys_path=[str(ctx.root / "src")], smart_sys_path=False)


def _rel(ctx: ToolContext, path: Any) -> str:
    if path is None:
        return ""
    p = Path(path).resolve()
    root = ctx.root.resolve()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name


def _position(text: str, line: int, column: int, symbol: str | None) -> tuple[int, int] | None:
    """Where the symbol is: at (line, column) when it is there, else its first occurrence in the file."""
    lines = text.splitlines()
    if not symbol:
        return (line, column) if 1 <= line <= len(lines) else None
    word = re.compile(rf"\b{re.escape(symbol)}\b")
    if 1 <= line <= len(lines):
        m = word.search(lines[line - 1])
        if m:
            return line, m.start()
    for i, text_line in enumerate(lines, start=1):
        m = word.search(text_line)
        if m:
            return i, m.start()
    return None


def _script_at(
    ctx: ToolContext, file_path: str, line: int, column: int, symbol: str | None
) -> tuple[Any, int, int] | str:
    real, rel = ctx.path(file_path)
    if not real.is_file():
        return f"no such file in the workspace: {rel or file_path!r}"
    text = real.read_text(encoding="utf-8", errors="replace")
    where = _position(text, int(line or 1), int(column or 0), symbol)
    if where is None:
        return f"{symbol!r} does not occur in {rel}"
    return _jedi().Script(code=text, path=str(real), project=_project(ctx)), where[0], where[1]


def _preview(name: Any) -> str:
    try:
        return (name.get_line_code() or "").strip()
    except Exception:
        return ""


def goto_definition(
    ctx: ToolContext, file_path: str, line: int = 1, column: int = 0, symbol: str | None = None
) -> GotoDefinitionResult:
    """Where a symbol used in a file is defined."""
    found = _script_at(ctx, file_path, line, column, symbol)
    if isinstance(found, str):
        return GotoDefinitionResult(False, symbol or "", [], parse_error=found)
    script, ln, col = found
    locations = []
    for d in script.goto(ln, col, follow_imports=True):
        start = d.get_definition_start_position() or (d.line, d.column)
        end = d.get_definition_end_position() or start
        locations.append(DefinitionLocation(_rel(ctx, d.module_path), start[0], start[1], end[0], end[1], _preview(d)))
    return GotoDefinitionResult(bool(locations), symbol or "", locations)


def find_references(
    ctx: ToolContext, file_path: str, line: int = 1, column: int = 0, symbol: str | None = None
) -> FindReferencesResult:
    """Every use of a symbol across the workspace."""
    found = _script_at(ctx, file_path, line, column, symbol)
    if isinstance(found, str):
        return FindReferencesResult(False, symbol or "", 0, [], parse_error=found)
    script, ln, col = found
    refs = [
        ReferenceLocation(_rel(ctx, r.module_path), r.line, r.column, _preview(r))
        for r in script.get_references(ln, col, scope="project")
        if r.module_path is not None and Path(r.module_path).resolve().is_relative_to(ctx.root.resolve())
    ]
    return FindReferencesResult(bool(refs), symbol or "", len(refs), refs)


def hover(ctx: ToolContext, file_path: str, line: int = 1, column: int = 0, symbol: str | None = None) -> HoverResult:
    """A symbol's signature and docstring."""
    found = _script_at(ctx, file_path, line, column, symbol)
    if isinstance(found, str):
        return HoverResult(False, symbol or "", "", parse_error=found)
    script, ln, col = found
    names = script.infer(ln, col) or script.help(ln, col)
    if not names:
        return HoverResult(False, symbol or "", "")
    name = names[0]
    sigs = [s.to_string() for s in name.get_signatures()]
    content = "\n".join([*(sigs or [f"{name.type} {name.name}"]), "", name.docstring(raw=True)]).strip()
    return HoverResult(True, symbol or name.name, content)


_KIND = {"class": "class", "function": "function", "statement": "variable", "module": "module", "instance": "variable"}


def _symbol(name: Any) -> SymbolInfo:
    end = name.get_definition_end_position() or (name.line, name.column)
    children = [_symbol(c) for c in name.defined_names()] if name.type == "class" else []
    return SymbolInfo(name.name, _KIND.get(name.type, name.type), name.line, end[0], children)


def document_symbols(ctx: ToolContext, file_path: str) -> DocumentSymbolsResult:
    """The classes, functions and module variables of a file, nested."""
    real, rel = ctx.path(file_path)
    if not real.is_file():
        return DocumentSymbolsResult(
            False, file_path, [], 0, parse_error=f"no such file in the workspace: {rel or file_path!r}"
        )
    script = _jedi().Script(
        code=real.read_text(encoding="utf-8", errors="replace"), path=str(real), project=_project(ctx)
    )
    symbols = [_symbol(n) for n in script.get_names(all_scopes=False, definitions=True, references=False)]

    def count(s: list[SymbolInfo]) -> int:
        return sum(1 + count(x.children) for x in s)

    return DocumentSymbolsResult(True, rel, symbols, count(symbols))


def workspace_symbols(ctx: ToolContext, query: str) -> WorkspaceSymbolsResult:
    """Definitions across the workspace whose name matches a query."""
    if not isinstance(query, str) or not query:
        return WorkspaceSymbolsResult(False, str(query), [], 0, parse_error="an empty query")
    symbols = []
    for n in _project(ctx).search(query, all_scopes=True):
        if n.module_path is None or not Path(n.module_path).resolve().is_relative_to(ctx.root.resolve()):
            continue
        if not n.is_definition() or n.type == "module":
            continue
        parent = n.parent()
        container = parent.name if parent is not None and parent.type in ("class", "function") else None
        symbols.append(WorkspaceSymbol(n.name, _KIND.get(n.type, n.type), _rel(ctx, n.module_path), n.line, container))
    return WorkspaceSymbolsResult(True, query, symbols, len(symbols))
