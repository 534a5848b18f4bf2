"""Static analysis of a Code Mode program with ``ast`` (never executed).

Answers what the sandbox would: does it parse, which functions does it
call, does it import, and which result fields does it read that do not
exist on the tool's result type.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from pytest_punie.toolsurface import ToolSurface


@dataclass(frozen=True)
class CallSite:
    """One tool call in a Code Mode program, with its literal arguments and line."""

    name: str
    args: tuple[Any, ...]  # literal values, or None where not a literal
    kwargs: dict[str, Any]
    line: int


@dataclass
class ProgramAnalysis:
    """What a Code Mode program does in the sandbox's terms: calls, unknown names, imports, fields read."""

    syntax_error: str | None = None
    calls: list[CallSite] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    bad_fields: list[str] = field(default_factory=list)  # "TypeName.field"
    fields_read: dict[str, set[str]] = field(default_factory=dict)  # tool -> fields

    @property
    def tools_called(self) -> list[str]:
        """The tools the program calls, in order."""
        return [c.name for c in self.calls]


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


class _Analyzer(ast.NodeVisitor):
    def __init__(self, surface: ToolSurface, out: ProgramAnalysis):
        self.surface = surface
        self.out = out
        self.types: dict[str, tuple[str, str]] = {}  # variable -> (type, tool that produced it)
        self.defined: set[str] = set()

    # -- types of expressions -------------------------------------------------
    def type_of(self, node: ast.AST) -> tuple[str, str] | None:
        if isinstance(node, ast.Name):
            return self.types.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            spec = self.surface.tools.get(node.func.id)
            if spec and spec.returns in self.surface.types:
                return spec.returns, spec.name
        if isinstance(node, ast.Attribute):
            owner = self.type_of(node.value)
            if owner:
                elem = self.surface.element_type(owner[0], node.attr)
                if elem:
                    return f"list[{elem}]", owner[1]
        if isinstance(node, ast.Subscript):
            inner = self.type_of(node.value)
            if inner and inner[0].startswith("list["):
                return inner[0][5:-1], inner[1]
        return None

    def bind(self, target: ast.AST, value_type: tuple[str, str] | None) -> None:
        if isinstance(target, ast.Name):
            if value_type:
                self.types[target.id] = value_type
            else:
                self.types.pop(target.id, None)
            self.defined.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt, None)

    # -- visitors ---------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        t = self.type_of(node.value)
        for target in node.targets:
            self.bind(target, t)
            if not isinstance(target, ast.Name):
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.bind(node.target, self.type_of(node.value) if node.value is not None else None)

    def _element_of(self, iterable: ast.AST) -> tuple[str, str] | None:
        t = self.type_of(iterable)
        if t and t[0].startswith("list["):
            return t[0][5:-1], t[1]
        return None

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind(node.target, self._element_of(node.iter))
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        self.bind(node.target, self._element_of(node.iter))
        for cond in node.ifs:
            self.visit(cond)

    def _visit_comp(self, node: ast.AST, parts: list[ast.AST]) -> None:
        for gen in node.generators:  # type: ignore[attr-defined]
            self.visit_comprehension(gen)
        for part in parts:
            self.visit(part)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comp(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._visit_comp(node, [node.elt])

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._visit_comp(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comp(node, [node.key, node.value])

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.defined.add(node.name)
        for arg in node.args.args + node.args.kwonlyargs:
            self.defined.add(arg.arg)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defined.add(node.name)
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for arg in node.args.args:
            self.defined.add(arg.arg)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.out.imports.extend(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.out.imports.append(node.module or ".")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        owner = self.type_of(node.value)
        if owner and not owner[0].startswith("list["):
            fields = self.surface.fields_of(owner[0])
            if fields is not None:
                if node.attr in fields:
                    self.out.fields_read.setdefault(owner[1], set()).add(node.attr)
                else:
                    self.out.bad_fields.append(f"{owner[0]}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            name = node.func.id
            if name in self.surface.tools:
                self.out.calls.append(
                    CallSite(
                        name=name,
                        args=tuple(_literal(a) for a in node.args),
                        kwargs={k.arg: _literal(k.value) for k in node.keywords if k.arg},
                        line=node.lineno,
                    )
                )
            elif not self.surface.is_known_callable(name) and name not in self.defined:
                self.out.unknown_names.append(name)
        self.generic_visit(node)


def analyze_program(code: str, surface: ToolSurface) -> ProgramAnalysis:
    """Parses a program with ast and checks it against the tool surface, never running it."""
    out = ProgramAnalysis()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        out.syntax_error = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}" + (f" (line {line})" if line else "")
        return out
    analyzer = _Analyzer(surface, out)
    try:
        analyzer.visit(tree)
    except RecursionError:
        out.syntax_error = "RecursionError: program nested too deeply to analyse"
    return out
