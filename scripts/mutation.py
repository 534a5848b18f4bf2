"""Mutation testing for the modules where a wrong number is born: scoring/, gate/,
verdict.py and the statistics the gate uses (stats.py).

    python scripts/mutation.py                 # every target, 2 workers; prints a table
    python scripts/mutation.py --module pytest_punie/verdict.py --survivors

One small change at a time (a comparison flipped, ``and``/``or`` swapped, a
number nudged, ``True``/``False`` swapped, an arithmetic operator swapped, a
``not`` dropped, a statement deleted, a return value replaced by ``None``) must
make the fast tests fail. The tests are imported once; each mutant runs in a
forked child that re-executes the mutated module into the loaded one, rebinds
every name other modules imported from it, and runs pytest in process with
``-x``. A mutant that hangs past the timeout counts as killed (the tests
noticed). Mutants listed in scripts/mutation_equivalent.txt (no test could tell
them apart from the original; each with a reason) are left out of the score.
Not run in CI: it takes minutes.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["pytest_punie/scoring", "pytest_punie/gate", "pytest_punie/verdict.py", "pytest_punie/stats.py"]
TESTS = ["tests/scoring", "tests/gate", "tests/verdict", "tests/results", "tests/report", "tests/suite"]
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.txt"

_SWAP_CMP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository
    index: int  # the node's position in ast.walk order
    line: int
    kind: str
    detail: str

    col: int = 0

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.col}:{self.kind}:{self.detail}"


def _skip_lines(tree: ast.Module) -> set[int]:
    """Docstrings, annotations and TYPE_CHECKING blocks: nothing runs there."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                skip.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return skip


def _annotations(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if ann is not None:
                ids.update(id(n) for n in ast.walk(ann))
    return ids


def mutants_of(path: Path) -> list[Mutant]:
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text())
    skip, in_annotation = _skip_lines(tree), _annotations(tree)
    out: list[Mutant] = []
    for index, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", 0)
        if line in skip or id(node) in in_annotation:
            continue
        for kind, detail in _candidates(node):
            at = int(detail.rsplit(" ", 1)[1]) if kind == "delete" else line  # the deleted statement's line
            out.append(Mutant(rel, index, at, kind, detail, getattr(node, "col_offset", 0)))
    return out


def _candidates(node: ast.AST) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAP_CMP:
                yield "compare", f"{i}:{type(op).__name__}->{_SWAP_CMP[type(op)].__name__}"
    elif isinstance(node, ast.BoolOp):
        yield "boolop", "and->or" if isinstance(node.op, ast.And) else "or->and"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", "drop not"
    elif isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BIN:
        yield "arith", f"{type(node.op).__name__}->{_SWAP_BIN[type(node.op)].__name__}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "constant", f"{node.value}->{not node.value}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        yield "constant", f"{node.value!r}->{_nudge(node.value)!r}"
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return", "-> None"
    if isinstance(node, (ast.FunctionDef, ast.For, ast.If, ast.While, ast.With, ast.Try)):
        for field in ("body", "orelse"):
            for i, stmt in enumerate(getattr(node, field, []) or []):
                if isinstance(stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.Raise)):
                    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                        continue  # a docstring
                    if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
                        continue  # a bare annotation does nothing at run time
                    yield "delete", f"{field}[{i}] line {stmt.lineno}"


def _nudge(value: int | float) -> int | float:
    return value + 1 if isinstance(value, int) else value * 1.5 if value else 0.5


def apply(m: Mutant) -> str:
    tree = ast.parse((ROOT / m.path).read_text())
    node = list(ast.walk(tree))[m.index]
    if m.kind == "compare":
        i = int(m.detail.split(":")[0])
        assert isinstance(node, ast.Compare)
        node.ops[i] = _SWAP_CMP[type(node.ops[i])]()
    elif m.kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif m.kind == "not":
        assert isinstance(node, ast.UnaryOp)
        _replace(tree, node, node.operand)
    elif m.kind == "arith":
        assert isinstance(node, ast.BinOp)
        node.op = _SWAP_BIN[type(node.op)]()
    elif m.kind == "constant":
        assert isinstance(node, ast.Constant)
        node.value = (not node.value) if isinstance(node.value, bool) else _nudge(node.value)
    elif m.kind == "return":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)
    elif m.kind == "delete":
        field, rest = m.detail.split("[", 1)
        i = int(rest.split("]")[0])
        getattr(node, field)[i] = ast.Pass()
    return ast.unparse(ast.fix_missing_locations(tree))


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new


def module_name(path: str) -> str:
    name = path[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _rebind(module: ModuleType, old: dict[str, object]) -> None:
    """Every module that imported a name from ``module`` gets the mutated object."""
    swaps = {id(obj): module.__dict__[name] for name, obj in old.items() if module.__dict__.get(name) is not obj}
    for mod in list(sys.modules.values()):
        if mod is None or mod is module:
            continue
        name = getattr(mod, "__name__", "")
        if not (name.startswith("pytest_punie") or name.startswith("tests")):
            continue
        for attr, value in list(vars(mod).items()):
            if id(value) in swaps:
                setattr(mod, attr, swaps[id(value)])


class LineRecorder:
    """A pytest plugin for the parent's one traced run: which test executes which
    line of the target files. A mutant then runs only the tests that reach it."""

    def __init__(self, files: set[str]):
        self.files = files
        self.lines: dict[tuple[str, int], list[str]] = {}

    def _tracer(self, nodeid: str):  # type: ignore[no-untyped-def]
        seen = self.lines

        def local(frame, event, arg):  # type: ignore[no-untyped-def]
            if event == "line":
                key = (frame.f_code.co_filename, frame.f_lineno)
                tests = seen.setdefault(key, [])
                if not tests or tests[-1] != nodeid:
                    tests.append(nodeid)
            return local

        def call(frame, event, arg):  # type: ignore[no-untyped-def]
            return local if frame.f_code.co_filename in self.files else None

        return call

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):  # type: ignore[no-untyped-def]
        sys.settrace(self._tracer(item.nodeid))
        try:
            return (yield)
        finally:
            sys.settrace(None)


def _function_lines(path: Path) -> set[int]:
    """Lines inside function bodies (run when a test calls them, not at import)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lines.update(range(node.lineno + (0 if isinstance(node, ast.Lambda) else 1), (node.end_lineno or 0) + 1))
    return lines


def run_mutant(m: Mutant, source: str, tests: list[str], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' (a hang counts as noticed). ``source`` is the
    mutated module, made in the main thread (ast.parse is not safe across threads)."""
    pid = os.fork()
    if pid == 0:  # the child: mutate the loaded module, run the tests, exit with pytest's status
        try:
            from hypothesis import settings

            settings.load_profile("mutation")
            sys.stdout = sys.stderr = open(os.devnull, "w")
            module = sys.modules[module_name(m.path)]
            old = dict(vars(module))
            exec(compile(source, str(ROOT / m.path), "exec"), module.__dict__)
            _rebind(module, old)
            code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header"])
            os._exit(int(code))
        except BaseException:  # a mutant that breaks the import is noticed by any test
            os._exit(70)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "survived" if code == 0 else "killed"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)


def equivalent() -> dict[str, str]:
    out = {}
    if EQUIVALENT.is_file():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("  # ")
                out[key.strip()] = reason.strip()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", action="append", help="only these files (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--survivors", action="store_true", help="list the survivors")
    ap.add_argument("--json", help="write every mutant's outcome here")
    args = ap.parse_args()

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    files = [Path(p) for p in (args.module or [])] or [
        f for t in TARGETS for f in (sorted((ROOT / t).glob("*.py")) if (ROOT / t).is_dir() else [ROOT / t])
    ]
    files = [(ROOT / f).resolve() for f in files]
    mutants = [m for f in files for m in mutants_of(f)]
    skip = equivalent()

    # the tests run once here, traced, and stay imported: each child starts from this process.
    # Property tests draw fewer examples in the children (the traced run uses the default).
    from hypothesis import settings

    settings.register_profile("mutation", max_examples=25, deadline=None)
    recorder = LineRecorder({str(f) for f in files})
    pytest.main([*TESTS, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header"], plugins=[recorder])
    in_functions = {str(f.relative_to(ROOT)): _function_lines(f) for f in files}
    outcomes: dict[str, str] = {}
    started = time.monotonic()
    todo = [m for m in mutants if m.key not in skip]
    selected: dict[str, list[str]] = {}
    for m in todo:
        if m.line in in_functions[m.path]:  # only the tests that run the mutated line
            selected[m.key] = recorder.lines.get((str(ROOT / m.path), m.line), [])
        else:  # module level: runs at import, before any test
            selected[m.key] = list(TESTS)
    for m in todo:
        if not selected[m.key]:
            outcomes[m.key] = "survived"  # no test runs this line
    import concurrent.futures as cf

    sources = {m.key: apply(m) for m in todo if m.key not in outcomes}
    with cf.ThreadPoolExecutor(args.workers) as pool:  # threads only wait: each mutant runs in a forked child
        futures = {
            pool.submit(run_mutant, m, sources[m.key], selected[m.key], args.timeout): m
            for m in todo
            if m.key not in outcomes
        }
        for n, fut in enumerate(cf.as_completed(futures), 1):
            m = futures[fut]
            outcomes[m.key] = fut.result()
            if n % 50 == 0:
                print(f"  {n}/{len(futures)} mutants run, {time.monotonic() - started:.0f} s", file=sys.stderr)

    rows = []
    for f in files:
        rel = str(f.relative_to(ROOT))
        mine = [m for m in mutants if m.path == rel]
        judged = [m for m in mine if m.key in outcomes]
        survived = [m for m in judged if outcomes[m.key] == "survived"]
        eq = len(mine) - len(judged)
        score = (len(judged) - len(survived)) / len(judged) if judged else 1.0
        rows.append((rel, len(mine), eq, len(survived), score))
    print("| module | mutants | equivalent | survived | score |\n|---|---:|---:|---:|---:|")
    for rel, n, eq, s, score in rows:
        print(f"| {rel.removeprefix('pytest_punie/')} | {n} | {eq} | {s} | {score:.1%} |")
    for group in ("scoring/", "gate/", "verdict.py", "stats.py"):
        sel = [r for r in rows if r[0].removeprefix("pytest_punie/").startswith(group)]
        if sel:
            judged = sum(r[1] - r[2] for r in sel)
            killed = judged - sum(r[3] for r in sel)
            print(
                f"| **{group}** | {sum(r[1] for r in sel)} | {sum(r[2] for r in sel)} | "
                f"{sum(r[3] for r in sel)} | **{killed / judged:.1%}** |"
                if judged
                else ""
            )
    total_judged = len(outcomes)
    killed = sum(1 for o in outcomes.values() if o != "survived")
    print(
        f"\n{killed} of {total_judged} mutants killed ({killed / max(total_judged, 1):.1%}); "
        f"{len(mutants) - total_judged} equivalent excluded; {time.monotonic() - started:.0f} s"
    )
    if args.survivors:
        for m in mutants:
            if outcomes.get(m.key) == "survived":
                print(f"SURVIVED {m.key}")
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
