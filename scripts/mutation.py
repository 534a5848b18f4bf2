"""Mutation testing for the modules where a wrong number is born (scoring/, gate/,
verdict.py, stats.py) and where a broken measurement must be caught before it becomes
a verdict (serving/, suite/, datalint/, checks/, sources/responsecache.py).

    python scripts/mutation.py                 # every target, 2 workers; prints a table
    python scripts/mutation.py --module pytest_punie/verdict.py --survivors

One small change at a time (a comparison flipped, ``and``/``or`` swapped, a
number nudged, ``True``/``False`` swapped, an arithmetic operator swapped, a
``not`` dropped, a statement deleted, a return value replaced by ``None``) must
make the tests fail. Each target is declared with its tests (its mirror folder
under tests/, and what else exercises it); of those, a mutant runs only the
tests that execute its line (line coverage from one traced run; a module-level
mutant, such as a dataclass default, runs all of them). The tests are
imported once; each mutant runs in a child forked from this single-threaded
process, which re-executes the mutated module into the loaded one, rebinds every
name other modules imported from it, and runs pytest in process with ``-x``.
Tests that run a model (mlx, whose threads can deadlock a forked child) are declared
apart (SPAWNED) and run in a fresh interpreter per mutant, which does the same
re-execution before pytest starts; they are traced the same way, in a fresh interpreter.

A mutant that runs past the timeout is *killed* only when the child was working
(its CPU time advanced in the last seconds: the mutant made a loop) and the same
tests pass in time on the unmutated code; otherwise it is *hung* (a deadlock, or
tests too slow for the timeout), reported apart and left out of the score.
Mutants listed in scripts/mutation_equivalent.txt (no test could tell them apart
from the original; each with a reason) are left out of the score too.
Not run in CI: it takes minutes.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import inspect
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
NUMBERS = ["tests/scoring", "tests/gate", "tests/verdict", "tests/results", "tests/report", "tests/suite"]
TARGETS: dict[str, list[str]] = {  # each target with the tests that guard it
    "pytest_punie/scoring": NUMBERS,
    "pytest_punie/gate": NUMBERS,
    "pytest_punie/verdict.py": NUMBERS,
    "pytest_punie/stats.py": NUMBERS,
    "pytest_punie/metrics.py": NUMBERS,
    "pytest_punie/serving": ["tests/serving", "tests/scoring", "tests/items"],
    "pytest_punie/suite": ["tests/suite", "tests/scoring", "tests/faults/test_suite_files.py"],
    "pytest_punie/datalint": ["tests/datalint", "tests/items"],
    # the unit tests: the pipeline-item tests that build and run the tiny model through pytester
    # take 10-60 s a mutant on 2 cores, and run in CI
    "pytest_punie/checks": ["tests/checks/test_trainlog.py", "tests/checks/test_pinned_checks.py"],
    "pytest_punie/sources/responsecache.py": ["tests/sources"],
}
# tests that run a model (mlx): a forked child of a parent that ran mlx can deadlock, so these run
# in a fresh interpreter each (no fork), traced once the same way, for the mutants of the lines they
# reach (and, for a mutant the forked tests let survive, as a second chance to kill it)
SPAWNED: dict[str, list[str]] = {
    "pytest_punie/checks": [
        "tests/checks/test_artifacts_real.py::test_real_artifacts_pass",
        "tests/checks/test_artifacts_real.py::test_an_adapter_that_changes_nothing_is_caught",
        "tests/checks/test_artifacts_real.py::test_the_adapter_is_applied_in_the_fused_model_or_said_not",
        "tests/checks/test_artifacts_real.py::test_a_lora_target_missing_from_either_model_is_passed_over_not_a_crash",
        "tests/checks/test_artifacts_real.py::test_a_quantized_base_is_read_at_the_bits_its_config_says",
    ],
}
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


@functools.cache
def source_of(rel: str) -> str:
    """A module's text, read once: an edit made while the run goes on changes no mutant."""
    return (ROOT / rel).read_text()


def mutants_of(path: Path) -> list[Mutant]:
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(source_of(rel))
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
    tree = ast.parse(source_of(m.path))
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
        assert isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float))
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
    # functions and classes only: a constant (an int, a str) may be the very object other modules hold
    # for a value of their own (small ints are shared), and must not be swapped there
    swaps = {
        id(obj): module.__dict__[name]
        for name, obj in old.items()
        if module.__dict__.get(name) is not obj and (inspect.isfunction(obj) or inspect.isclass(obj))
    }
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

    @contextlib.contextmanager
    def _tracing(self, nodeid: str) -> Iterator[None]:
        sys.settrace(self._tracer(nodeid))
        try:
            yield
        finally:
            sys.settrace(None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):  # type: ignore[no-untyped-def]
        """A fixture's lines count for the test that asked for it."""
        with self._tracing(item.nodeid):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):  # type: ignore[no-untyped-def]
        with self._tracing(item.nodeid):
            return (yield)


def _function_lines(path: Path) -> set[int]:
    """Lines inside function bodies (run when a test calls them, not at import). A signature's
    lines are not: its default values are computed once, when the module runs the ``def``."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Lambda):
            lines.update(range(node.lineno, (node.end_lineno or 0) + 1))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines.update(range(node.body[0].lineno, (node.end_lineno or 0) + 1))
    return lines


def target_of(path: Path) -> str:
    """The declared target a module belongs to: its tests come with it, never a guess."""
    rel = str(path.relative_to(ROOT))
    found = [t for t in TARGETS if rel == t or rel.startswith(t + "/")]
    if not found:
        raise SystemExit(f"{rel}: no tests are declared for it; add it to TARGETS in {Path(__file__).name}")
    return max(found, key=len)


def cpu_ticks(pid: int) -> int | None:
    """The child's user + system CPU time in clock ticks (Linux /proc); None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def fork_tests(source: str | None, path: str | None, tests: list[str]) -> int:
    """A child that runs ``tests`` in process, with the module at ``path`` replaced by ``source``
    (None: the unmutated code); its exit status is pytest's."""
    pid = os.fork()
    if pid == 0:
        try:
            from hypothesis import settings

            settings.register_profile("mutation", max_examples=25, deadline=None)  # fewer examples than the traced run
            settings.load_profile("mutation")
            sys.stdout = sys.stderr = open(os.devnull, "w")
            if source is not None and path is not None:
                module = sys.modules[module_name(path)]
                old = dict(vars(module))
                exec(compile(source, str(ROOT / path), "exec"), module.__dict__)
                _rebind(module, old)
            code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header"])
            os._exit(int(code))
        except BaseException:  # a mutant that breaks the import is noticed by any test
            os._exit(70)
    return pid


def spawn_tests(source: str | None, path: str | None, tests: list[str]) -> int:
    """A fresh interpreter (no fork) that runs ``tests`` with the module at ``path`` replaced by
    ``source``: for tests that run mlx, which a forked child may deadlock in."""
    import tempfile

    args = [sys.executable, str(Path(__file__).resolve()), "--child", *tests]
    if source is not None and path is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
            fh.write(source)
        args += ["--mutant-path", path, "--mutant-source", fh.name]
    # posix_spawn, not subprocess: a dropped Popen is reaped by the next one, behind run_jobs' waitpid
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    return os.posix_spawn(sys.executable, args, dict(os.environ), file_actions=quiet)


def _child(tests: list[str], path: str | None, source_file: str | None, trace_out: str | None) -> int:
    """The spawned child: mutate (or trace), then run the tests in process; pytest's exit status."""
    import importlib

    from hypothesis import settings

    settings.register_profile("mutation", max_examples=25, deadline=None)
    settings.load_profile("mutation")
    if path is not None and source_file is not None:
        source = Path(source_file).read_text()
        Path(source_file).unlink()
        module = importlib.import_module(module_name(path))
        old = dict(vars(module))
        try:
            exec(compile(source, str(ROOT / path), "exec"), module.__dict__)
        except BaseException:  # a mutant that breaks the import is noticed by any test
            return 70
        _rebind(module, old)
    plugins: list[object] = []
    if trace_out is not None:
        recorder = LineRecorder({str(ROOT / f) for f in json.loads(os.environ["PUNIE_MUTATION_FILES"])})
        plugins.append(recorder)
    flags = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header"]
    code = int(pytest.main([*tests, *([] if trace_out else ["-x"]), *flags], plugins=plugins))
    if trace_out is not None:
        Path(trace_out).write_text(json.dumps([[f, line, t] for (f, line), t in recorder.lines.items()]))
    return code


def traced_spawn(tests: list[str], files: list[Path]) -> dict[tuple[str, int], list[str]]:
    """Which spawned test runs which line: one traced run in a fresh interpreter."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lines.json"
        env = {**os.environ, "PUNIE_MUTATION_FILES": json.dumps([str(f.relative_to(ROOT)) for f in files])}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--trace-out", str(out), *tests]
        subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        if not out.is_file():
            raise SystemExit(f"the traced run of {' '.join(tests)} wrote no line map")
        return {(f, line): t for f, line, t in json.loads(out.read_text())}


@dataclass
class Job:
    key: str
    source: str | None
    path: str | None
    tests: list[str]
    spawn: bool = False  # a fresh interpreter, not a fork: the tests run mlx


def run_jobs(jobs: list[Job], workers: int, timeout: float) -> dict[str, str]:
    """Each job's outcome: 'killed', 'survived', 'timeout' (past the deadline while its CPU time
    still advanced) or 'hung' (past the deadline and idle: a deadlock, not the tests noticing).
    Single-threaded: children are forked from a process with no threads of ours."""
    pending, out = list(jobs), {}
    running: dict[int, tuple[Job, float, list[tuple[float, int | None]]]] = {}
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop(0)
            pid = (spawn_tests if job.spawn else fork_tests)(job.source, job.path, job.tests)
            running[pid] = (job, time.monotonic() + timeout, [(time.monotonic(), cpu_ticks(pid))])
        for pid, (job, deadline, samples) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            now = time.monotonic()
            if done:
                out[job.key] = "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
                del running[pid]
                if len(out) % 50 == 0:
                    print(f"  {len(out)}/{len(jobs)} run", file=sys.stderr, flush=True)
            elif now > deadline:
                cpu = cpu_ticks(pid)
                before = [c for t, c in samples if t <= now - 2.0]
                working = cpu is not None and bool(before) and before[-1] is not None and cpu > before[-1]
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                out[job.key] = "timeout" if working else "hung"
                del running[pid]
            elif now - samples[-1][0] >= 1.0:
                samples.append((now, cpu_ticks(pid)))
                del samples[:-8]
        time.sleep(0.02)
    return out


def equivalent() -> dict[str, str]:
    out = {}
    if EQUIVALENT.is_file():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("  # ")
                out[key.strip()] = reason.strip()
    return out


def _files(modules: list[str] | None) -> list[Path]:
    """The modules to mutate: those asked for, else every target's."""
    if modules:
        return [(ROOT / f).resolve() for f in modules]
    return [f for t in TARGETS for f in (sorted((ROOT / t).glob("*.py")) if (ROOT / t).is_dir() else [ROOT / t])]


def _settle_timeouts(outcomes: dict[str, str], selected: dict[str, Job], workers: int, timeout: float) -> None:
    """A timeout is a kill only when the same tests pass in time on the unmutated code."""
    sets = {(tuple(selected[k].tests), selected[k].spawn) for k, o in outcomes.items() if o == "timeout"}
    if not sets:
        return
    jobs = [Job(f"{spawn}|" + "|".join(t), None, None, list(t), spawn) for t, spawn in sets]
    clean = run_jobs(jobs, workers, timeout)
    for key, outcome in outcomes.items():
        if outcome == "timeout":
            job = selected[key]
            outcomes[key] = "killed" if clean[f"{job.spawn}|" + "|".join(job.tests)] == "survived" else "hung"


Lines = dict[tuple[str, int], list[str]]  # (file, line) -> the tests that ran it


def _tests_for(m: Mutant, lines: Lines, in_functions: set[int], declared: list[str]) -> list[str]:
    """The tests a mutant runs: those that run its line; for a module-level line (a constant, a
    dataclass default, a decorator), every test declared for its target: the line ran at import,
    and what reads it (a generated ``__init__``, another module) leaves no trace in this file."""
    if m.line in in_functions:
        return lines.get((str(ROOT / m.path), m.line), [])
    return list(declared)


def _table(files: list[Path], mutants: list[Mutant], outcomes: dict[str, str]) -> list[str]:
    """Per module and per target: mutants, equivalent, hung, survived and the score (hung left out)."""

    def row(name: str, mine: list[Mutant]) -> tuple[str, int, int, int, int, float]:
        judged = [m for m in mine if m.key in outcomes]
        hung = sum(outcomes[m.key] == "hung" for m in judged)
        survived = sum(outcomes[m.key] == "survived" for m in judged)
        scored = len(judged) - hung
        return name, len(mine), len(mine) - len(judged), hung, survived, (scored - survived) / scored if scored else 1.0

    lines = ["| module | mutants | equivalent | hung | survived | score |", "|---|---:|---:|---:|---:|---:|"]
    for f in files:
        rel = str(f.relative_to(ROOT))
        name, n, eq, hung, surv, score = row(rel, [m for m in mutants if m.path == rel])
        lines.append(f"| {name.removeprefix('pytest_punie/')} | {n} | {eq} | {hung} | {surv} | {score:.1%} |")
    for target in TARGETS:
        mine = [m for m in mutants if m.path == target or m.path.startswith(target + "/")]
        if mine:
            name, n, eq, hung, surv, score = row(target, mine)
            label = name.removeprefix("pytest_punie/") + ("/" if (ROOT / target).is_dir() else "")
            lines.append(f"| **{label}** | {n} | {eq} | {hung} | {surv} | **{score:.1%}** |")
    return lines


def _spawn_target(path: Path) -> str:
    rel = str(path.relative_to(ROOT))
    return max((t for t in SPAWNED if rel == t or rel.startswith(t + "/")), key=len, default="")


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child = argparse.ArgumentParser()
        child.add_argument("--child", action="store_true")
        child.add_argument("--mutant-path")
        child.add_argument("--mutant-source")
        child.add_argument("--trace-out")
        known, tests = child.parse_known_args()
        os.chdir(ROOT)
        sys.path.insert(0, str(ROOT))
        return _child(tests, known.mutant_path, known.mutant_source, known.trace_out)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", action="append", help="only these files (repeatable); their target's tests run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--survivors", action="store_true", help="list the survivors (and the hung)")
    ap.add_argument("--json", help="write every mutant's outcome here")
    args = ap.parse_args()

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    files = _files(args.module)
    tests_of = {str(f.relative_to(ROOT)): TARGETS[target_of(f)] for f in files}
    all_tests = list(dict.fromkeys(t for ts in tests_of.values() for t in ts))
    mutants = [m for f in files for m in mutants_of(f)]
    skip = equivalent()
    rels = {str(f.relative_to(ROOT)) for f in files}
    keys = {m.key for m in mutants}
    for key in sorted(k for k in skip if k.split(":", 1)[0] in rels and k not in keys):
        print(f"note: {EQUIVALENT.name} lists a mutant this code no longer has (moved or gone): {key}")

    # the tests run once here, traced, and stay imported: each child starts from this process.
    recorder = LineRecorder({str(f) for f in files})
    pytest.main([*all_tests, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header"], plugins=[recorder])
    import threading

    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())
        print(f"note: threads left by the tests ({names}): a child idle at its timeout is hung, not killed")
    in_functions = {str(f.relative_to(ROOT)): _function_lines(f) for f in files}
    spawned = list(dict.fromkeys(t for f in files for t in SPAWNED.get(_spawn_target(f), [])))
    spawn_lines = traced_spawn(spawned, files) if spawned else {}
    outcomes: dict[str, str] = {}
    started = time.monotonic()
    todo = [m for m in mutants if m.key not in skip]
    selected: dict[str, Job] = {}
    second: dict[str, Job] = {}  # a fork survivor's second chance: the spawned tests that reach its line
    for m in todo:
        forked = _tests_for(m, recorder.lines, in_functions[m.path], tests_of[m.path])
        fresh = _tests_for(m, spawn_lines, in_functions[m.path], SPAWNED.get(_spawn_target(ROOT / m.path), []))
        if forked:
            selected[m.key] = Job(m.key, apply(m), m.path, forked)
            if fresh:
                second[m.key] = Job(m.key, apply(m), m.path, fresh, spawn=True)
        elif fresh:
            selected[m.key] = Job(m.key, apply(m), m.path, fresh, spawn=True)
        else:
            outcomes[m.key] = "survived"  # no test runs this line
    outcomes.update(run_jobs(list(selected.values()), args.workers, args.timeout))
    retry = [job for key, job in second.items() if outcomes[key] == "survived"]
    outcomes.update(run_jobs(retry, args.workers, args.timeout))
    selected.update({job.key: job for job in retry})
    _settle_timeouts(outcomes, selected, args.workers, args.timeout)

    print("\n".join(_table(files, mutants, outcomes)))
    judged = [o for o in outcomes.values() if o != "hung"]
    killed = sum(1 for o in judged if o == "killed")
    hung = len(outcomes) - len(judged)
    print(
        f"\n{killed} of {len(judged)} mutants killed ({killed / max(len(judged), 1):.1%}); {hung} hung (not scored); "
        f"{len(mutants) - len(outcomes)} equivalent excluded; {time.monotonic() - started:.0f} s"
    )
    if args.survivors:
        for m in mutants:
            if outcomes.get(m.key) in ("survived", "hung"):
                print(f"{outcomes[m.key].upper()} {m.key}")
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
