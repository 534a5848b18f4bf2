"""The outcome scorer: credit for what the program did when the sandbox ran it, not for its text.

It scores 1 when every program of the answer ran to its end, called the expected tool at run time
with arguments that resolve to the workspace paths the prompt names (or, where it names none, to
paths that exist), and read the result fields the prompt asks for. Every other ending is labelled:
``runtime-error`` (with the exception), ``bad-field``, ``timeout`` (a limit hit), ``refused`` (a
forbidden action), ``wrong-argument``, ``wrong-tool``, ``fields-not-read``. After the tool (a
suite's ``max_turns``), a right program is not yet a done task: ``state-wrong`` (the workspace is not
as ``expect.state`` asks after the writes), ``answer-missing`` (no answer in words followed the tool
response), ``answer-wrong`` (the answer does not state the facts ``expect.answer.mentions`` refers to,
as the tool computed them in that workspace at run time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from pytest_punie.programrun import Conversation, ProgramRun, ToolCall
from pytest_punie.scoring.parse import ParsedResponse
from pytest_punie.scoring.strict import StrictResult
from pytest_punie.suite.suitetypes import Expectation
from pytest_punie.toolsurface import ToolSurface

# a path a prompt names: a/b, a/b/, dir/file.ext, or a bare file name with a known extension
_PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:py|txt|md|toml|ya?ml|json|cfg|ini))(?![\w/])")
FILE_PARAMS = ("file_path",)
PATH_PARAMS = ("path", "file_path")


@dataclass
class OutcomeResult:
    """The outcome scorer's verdict on one answer."""

    score: Fraction
    """0..1, exact: the share of the expected tools the programs really called right (``match: all``)."""
    label: str
    """What happened, named: ``ran-correct``, ``runtime-error``, ``wrong-argument``, ..."""
    ran: bool | None = None
    """Whether every program ran to its end (None: no program to run)."""
    problems: list[str] = field(default_factory=list)
    """What kept it from full credit, in the words of a failure message."""
    named_paths: list[str] = field(default_factory=list)
    """The workspace paths the prompt names, that the expected tools' path arguments must resolve to."""


def named_paths(query: str) -> list[str]:
    """The workspace paths a prompt names ('src/', 'output/summary.txt'), normalised ('' is the root)."""
    out = []
    for m in _PATH.finditer(query):
        p = m.group(1).rstrip("/.") if m.group(1) not in ("./", ".") else ""
        p = p.removeprefix("./")
        if p not in out and not p.startswith(("http:", "https:")):
            out.append(p)
    return out


def _path_ok(call: ToolCall, named: list[str]) -> bool:
    """A call's path argument resolves to a path that exists in the workspace and that the prompt
    names (a file under a named folder counts for a tool that takes a file); any existing path where
    the prompt names none."""
    if not call.paths:
        return not any(p in call.args for p in PATH_PARAMS)  # a path argument that resolved nowhere is wrong
    if call.absent:
        return False  # a path that is not in the workspace: the tool acted on nothing
    if not named:
        return True
    takes_file = any(p in call.args for p in FILE_PARAMS)
    for path in call.paths:
        for want in named:
            if path == want or (takes_file and want and path.startswith(want + "/")) or (takes_file and not want):
                return True
    return False


def _args_ok(call: ToolCall, patterns: dict[str, str]) -> bool:
    return all(
        param in call.args and re.fullmatch(pattern, str(call.args[param])) is not None
        for param, pattern in patterns.items()
    )


def _ending_label(run: ProgramRun, surface: ToolSurface) -> str:
    if run.ending == "runtime-error" and run.exception_type == "AttributeError":
        owner = re.search(r"'(\w+)' object has no attribute", run.exception or "")
        if owner and surface.fields_of(owner.group(1)) is not None:
            return "bad-field"  # a field that does not exist on a tool's result, found at run time
    return run.ending


def _judge_calls(
    calls: list[ToolCall], expect: Expectation, strict: StrictResult, named: list[str]
) -> tuple[list[str], list[str], bool, bool]:
    """The expected tools called right at run time, the problems found, and whether an argument was
    wrong or a field unread."""
    found: list[str] = []
    problems: list[str] = []
    wrong_arg = unread = False
    for tool in expect.tools:
        mine = [c for c in calls if c.tool == tool]
        if not mine:
            continue
        right = [c for c in mine if c.error is None and _path_ok(c, named) and _args_ok(c, expect.args.get(tool, {}))]
        if not right:
            wrong_arg = True
            got = "; ".join(f"{tool}({', '.join(repr(v) for v in c.args.values())})" for c in mine)
            want = " or ".join(repr(p or ".") for p in named) if named else "a path in the workspace"
            problems.append(f"{tool} acted on the wrong thing: {got} (the prompt names {want})")
            continue
        if any(m.startswith(f"{tool}.") for m in strict.fields_missing):
            unread = True
            problems.append(f"{tool}: the fields asked for were not read")
            continue
        found.append(tool)
    return found, problems, wrong_arg, unread


def score_outcome(
    parsed: ParsedResponse | None,
    expect: Expectation,
    surface: ToolSurface,
    query: str,
    runs: tuple[ProgramRun, ...] | None,
    strict: StrictResult,
    static_label: str,
) -> OutcomeResult:
    """The outcome score of one answer from its programs' runs (the strict scorer's findings give
    the fields read and, where nothing ran, the label of what was written instead)."""
    if parsed is None:
        return OutcomeResult(Fraction(0), "error", problems=["no response"])
    if expect.direct:
        return OutcomeResult(strict.score, static_label, problems=list(strict.problems))
    named = named_paths(query)
    if not runs:
        why = strict.problems or ["no program ran"]
        return OutcomeResult(Fraction(0), static_label, ran=None, problems=list(why), named_paths=named)
    for run in runs:
        if not run.ran:
            label = _ending_label(run, surface)
            return OutcomeResult(
                Fraction(0), label, ran=False, problems=[f"{label}: {run.exception}"], named_paths=named
            )
    calls = [c for run in runs for c in run.calls]
    found, problems, wrong_arg, unread = _judge_calls(calls, expect, strict, named)
    if expect.match == "all":
        score = Fraction(len(found), len(expect.tools))
    else:
        score = Fraction(1) if found else Fraction(0)
    if score == 1:
        label = "ran-correct"
    elif wrong_arg:
        label = "wrong-argument"
    elif unread:
        label = "fields-not-read"
    elif found:
        label = "ran-partial"
    else:
        label = "wrong-tool"
        problems.append(
            f"ran, but called {', '.join(c.tool for c in calls) or 'no tool'}; expected {' or '.join(expect.tools)}"
        )
    return OutcomeResult(score, label, ran=True, problems=problems, named_paths=named)


def resolve_fact(ref: str, calls: list[ToolCall]) -> tuple[bool, object]:
    """A suite's fact (``typecheck.error_count``) as the tool computed it in this run: the value of
    the field in the last call of that tool (False: no such call or field)."""
    tool, path = ref.split(".", 1)
    for call in reversed(calls):
        if call.tool == tool and path in call.fields:
            return True, call.fields[path]
    return False, None


def _stated(value: object, answer: str) -> bool:
    """Whether an answer states a value: a number as a whole number in the text, text as written."""
    if isinstance(value, bool):
        words = ("true", "yes", "pass", "success", "clean") if value else ("false", "no", "fail", "error")
        return any(re.search(rf"\b{w}", answer, re.IGNORECASE) for w in words)
    if isinstance(value, (int, float)):
        return re.search(rf"(?<![\d.]){re.escape(str(value))}(?![\d])", answer) is not None
    return str(value).lower() in answer.lower()


def state_wrong(state: dict[str, str], text: str | None) -> str | None:
    """What is wrong with a workspace file after the writes, against a suite's ``expect.state`` (None:
    as asked). ``contains`` / ``lacks`` read the text; ``defines`` / ``does_not_define`` ask libcst
    which classes, functions and module-level names the file defines (a name in a comment is none)."""
    name = state["file"]
    if text is None:
        return f"{name} is absent after the writes"
    if "contains" in state and state["contains"] not in text:
        return f"{name} does not contain {state['contains']!r}"
    if "lacks" in state and state["lacks"] in text:
        return f"{name} still contains {state['lacks']!r}"
    if "defines" not in state and "does_not_define" not in state:
        return None
    defined = defined_names(text)
    if defined is None:
        return f"{name} is not valid Python after the writes"
    if "defines" in state and state["defines"] not in defined:
        return f"{name} defines no {state['defines']!r}"
    if "does_not_define" in state and state["does_not_define"] in defined:
        return f"{name} still defines {state['does_not_define']!r}"
    return None


def defined_names(text: str) -> set[str] | None:
    """The classes and functions a module defines at any depth, and its module-level assigned names,
    found by libcst (None: the text is not a module libcst can parse)."""
    import libcst

    try:
        module = libcst.parse_module(text)
    except libcst.ParserSyntaxError:
        return None
    names: set[str] = set()

    class Definitions(libcst.CSTVisitor):
        def visit_ClassDef(self, node: libcst.ClassDef) -> None:
            names.add(node.name.value)

        def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
            names.add(node.name.value)

    module.visit(Definitions())
    for statement in module.body:
        for small in getattr(statement, "body", ()) if isinstance(statement, libcst.SimpleStatementLine) else ():
            targets = [t.target for t in small.targets] if isinstance(small, libcst.Assign) else []
            targets += [small.target] if isinstance(small, libcst.AnnAssign) else []
            names |= {t.value for t in targets if isinstance(t, libcst.Name)}
    return names


def judge_conversation(
    result: OutcomeResult, expect: Expectation, runs: tuple[ProgramRun, ...] | None, talk: Conversation | None
) -> OutcomeResult:
    """A right program's task judged on what followed it: the state left behind, then the answer."""
    if talk is None or result.label != "ran-correct" or expect.direct:
        return result
    wrong = state_wrong(expect.state, talk.files.get(expect.state["file"])) if expect.state else None
    if wrong:
        return OutcomeResult(Fraction(0), "state-wrong", True, [f"state-wrong: {wrong}"], result.named_paths)
    if not talk.tool_response_given:
        return result
    if talk.final_answer is None:
        why = "answer-missing: no answer in words followed the tool response"
        return OutcomeResult(Fraction(0), "answer-missing", True, [why], result.named_paths)
    calls = [c for run in runs or () for c in run.calls]
    missed = []
    for ref in expect.mentions:
        found, value = resolve_fact(ref, calls)
        if not found:
            missed.append(f"{ref} (no such value: the tool was not called, or has no such field)")
        elif not _stated(value, talk.final_answer):
            missed.append(f"{ref} = {value!r}")
    if missed:
        why = "answer-wrong: the answer does not state " + "; ".join(missed)
        return OutcomeResult(Fraction(0), "answer-wrong", True, [why], result.named_paths)
    return result
