"""Tool-parser preflight: which parser will mlx-lm apply, and can it read
the calls this model was trained to write?

mlx-lm picks a tool parser from the tokenizer (a ``tool_parser_type`` key in
tokenizer_config.json, else an inference from the chat template or the
vocabulary). ``mlx_lm server`` (and the in-process backend, which mirrors
it) silently drops a call its parser cannot read. The parser is learnt here
by calling mlx-lm's own loading code, never by copying its rules, which
change between versions.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_punie.scoring.parse import call_from_block, split_sections

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "generation_config.json",
    "config.json",
)
FIX_KEY = "tool_parser_type"


@dataclass(frozen=True)
class CallSample:
    """One tool call as a model writes it: the text between the markers."""

    where: str  # "path:line" (message i) or a description
    text: str


@dataclass
class ParserChoice:
    """The parser mlx-lm picks for a tokenizer, and why."""

    name: str | None  # module name under mlx_lm.tool_parsers, or None (no tool calling)
    reason: str
    start: str | None = None
    end: str | None = None
    parse: Callable[..., Any] | None = None


@dataclass
class ParseOutcome:
    """How the tool parser mlx-lm would serve with handled the sample calls."""

    total: int
    failures: list[tuple[CallSample, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every sample call parsed."""
        return not self.failures


@dataclass
class ToolParserReport:
    """The preflight's finding, in the terms its message uses."""

    tokenizer: str
    choice: ParserChoice
    outcome: ParseOutcome
    fix: str | None = None  # a tool_parser_type value that was checked to read every call
    fix_checked: str = ""
    fix_registry: str | None = None  # a model built into the cache: the registry entry to put the fix in

    @property
    def passed(self) -> bool:
        """A parser was chosen and it parses every sample call."""
        return self.choice.name is not None and self.outcome.ok and self.outcome.total > 0

    def to_dict(self) -> dict[str, Any]:
        """The preflight as the results document keeps it."""
        return {
            "tokenizer": self.tokenizer,
            "parser": self.choice.name,
            "reason": self.choice.reason,
            "calls": self.outcome.total,
            "unparsed": len(self.outcome.failures),
            "first_unparsed": [f"{s.where}: {why}" for s, why in self.outcome.failures[:5]],
            "passed": self.passed,
            "fix": self.fix_text(),
            "problems": self.problems(),
        }

    def fix_text(self) -> str | None:
        """The fix to propose (tool_parser_type), where to write it, or None."""
        if self.fix is None:
            return None
        if self.fix_registry:  # never a file inside the content-addressed cache: a rebuild would undo it
            return (
                f'{FIX_KEY} = "{self.fix}" to {self.fix_registry} (the build writes it into the '
                "tokenizer_config.json of the model it makes, so the model's digest and record include it)"
            )
        return f'"{FIX_KEY}": "{self.fix}" in {self.tokenizer}/tokenizer_config.json'

    def problems(self) -> list[str]:
        """What a failing preflight says: the parser, why, the calls it drops, the fix."""
        if self.passed:
            return []
        c, o = self.choice, self.outcome
        if c.name is None:
            lines = [
                f"mlx-lm picks no tool parser for {self.tokenizer} ({c.reason}): "
                "the server returns every tool call as plain content, never as tool_calls"
            ]
        elif o.total == 0:
            return [f"no tool calls to check: the training data and the suite have none in {c.start}...{c.end}"]
        else:
            lines = [
                f"mlx-lm picks the tool parser {c.name!r} for {self.tokenizer} ({c.reason})",
                f"{len(o.failures)} of {o.total} tool calls fail to parse with it (or parse wrong); "
                "mlx_lm server drops each call it cannot parse (the client sees content null and no tool_calls), "
                "so a scorer that reads the served message scores it as no call",
            ]
            for sample, why in o.failures[:5]:
                lines.append(f"  {sample.where}: {why}")
            if len(o.failures) > 5:
                lines.append(f"  ... and {len(o.failures) - 5} more")
        if self.fix:
            lines.append(f"fix: add {self.fix_text()} ({self.fix_checked})")
        else:
            lines.append("no mlx-lm tool parser reads every call: change the training format or the template")
        return lines


def _mlx_tokenizer(directory: Path) -> Any:
    from mlx_lm.utils import load_tokenizer

    return load_tokenizer(Path(directory))


def _parser_name(wrapper: Any) -> str | None:
    parse = getattr(wrapper, "tool_parser", None)
    if parse is None:
        return None
    return str(parse.__module__).rsplit(".", 1)[-1]


def _configured(directory: Path) -> str | None:
    path = directory / "tokenizer_config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(FIX_KEY) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _why_inferred(wrapper: Any, name: str | None) -> str:
    """Which chat-template lines make mlx-lm's own inference pick ``name``:
    each line whose removal changes the inferred parser is named."""
    from pytest_punie.errors import ModelError
    from pytest_punie.models.mlxlm_private import private

    try:
        _infer_tool_parser = private("_infer_tool_parser")
    except ModelError:  # a later mlx-lm: say what we know, guess nothing
        return "inferred by mlx-lm from the chat template or the vocabulary"
    hf = getattr(wrapper, "_tokenizer", wrapper)
    template = getattr(hf, "chat_template", None)

    vocab = dict(hf.get_vocab())

    class _Probe:
        def __init__(self, text: str | None):
            self.chat_template = text

        def get_vocab(self) -> dict[str, int]:
            return vocab

    if not isinstance(template, str):
        return "inferred by mlx-lm from the vocabulary (the tokenizer has no chat template)"
    # the template's Jinja blocks ({{ }}, {% %}, {# #}) and the text between them
    pieces = [p for p in re.split(r"({%.*?%}|{{.*?}}|{#.*?#})", template, flags=re.DOTALL) if p]
    decisive = [
        i for i in range(len(pieces)) if _infer_tool_parser(_Probe("".join(pieces[:i] + pieces[i + 1 :]))) != name
    ]
    if name is not None and _infer_tool_parser(_Probe(None)) == name and not decisive:
        return "inferred by mlx-lm from the vocabulary"
    if decisive:

        def line_of(i: int) -> int:  # where the piece's first written character is, not its leading newline
            lead = pieces[i][: len(pieces[i]) - len(pieces[i].lstrip())]
            return ("".join(pieces[:i]) + lead).count("\n") + 1

        shown = "; ".join(f"line {line_of(i)}: {' '.join(pieces[i].split())[:100]!r}" for i in decisive[:3])
        return f"no {FIX_KEY} key in tokenizer_config.json; mlx-lm inferred it from the chat template, {shown}"
    return f"no {FIX_KEY} key in tokenizer_config.json; mlx-lm inferred it from the chat template"


def learn_parser(directory: Path) -> ParserChoice:
    """The parser mlx-lm's own loader attaches to this tokenizer, and why."""
    directory = Path(directory)
    wrapper = _mlx_tokenizer(directory)
    name = _parser_name(wrapper)
    configured = _configured(directory)
    if configured is not None:
        reason = f'"{FIX_KEY}": "{configured}" in tokenizer_config.json'
    else:
        reason = _why_inferred(wrapper, name)
    return ParserChoice(
        name=name,
        reason=reason,
        start=getattr(wrapper, "tool_call_start", None),
        end=getattr(wrapper, "tool_call_end", None),
        parse=getattr(wrapper, "tool_parser", None),
    )


def call_samples(texts: Iterable[tuple[str, str]], start: str, end: str) -> list[CallSample]:
    """Every closed ``start``...``end`` section of each (where, text), as the
    server would hand it to its parser. Unclosed sections are the model's
    truncation, not the parser's fault, and are left to the scorers."""
    out = []
    for where, text in texts:
        _, sections = split_sections(text, start, end)
        out += [CallSample(where, body) for body, closed in sections if closed]
    return out


def _normal(args: Any) -> Any:
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return args.strip()
    if isinstance(args, dict):
        return {str(k): (v.strip() if isinstance(v, str) else v) for k, v in args.items()}
    return args


def misread(parsed: Any, text: str) -> str | None:
    """How the parser's result differs from the call as written (our own
    reading of the text), or None when it is the same call."""
    first = parsed[0] if isinstance(parsed, list) and parsed else parsed
    if not isinstance(first, dict) or not isinstance(first.get("name"), str):
        return f"parses to {str(parsed)[:60]!r}, not a named call (the client gets no usable call)"
    written = call_from_block(text, complete=True)
    if first["name"] != written.name:
        return f"parses as a call of {first['name']!r}, but the model wrote {written.name!r}"
    if written.arguments is not None and _normal(first.get("arguments")) != _normal(written.arguments):
        return f"parses {written.name} with other arguments: {str(first.get('arguments'))[:60]!r}"
    return None


def try_parse(parse: Callable[..., Any], samples: list[CallSample]) -> ParseOutcome:
    """Each call through the parser, as mlx_lm server calls it: a ValueError
    (JSONDecodeError included) drops the call; any other error fails the
    request; a call read as another name or other arguments is wrong too."""
    outcome = ParseOutcome(total=len(samples))
    for sample in samples:
        try:
            parsed = parse(sample.text, None)
        except ValueError as exc:
            outcome.failures.append((sample, f"{type(exc).__name__}: {str(exc)[:100]} (the server drops it)"))
            continue
        except Exception as exc:
            outcome.failures.append((sample, f"{type(exc).__name__}: {str(exc)[:100]} (the server request fails)"))
            continue
        wrong = misread(parsed, sample.text)
        if wrong:
            outcome.failures.append((sample, wrong))
    return outcome


def parser_modules() -> list[str]:
    """The tool parsers the installed mlx-lm has."""
    import mlx_lm.tool_parsers as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__))


def _verify_fix(directory: Path, name: str, texts: list[tuple[str, str]]) -> bool:
    """Apply the fix to a copy of the tokenizer files and load it with mlx-lm:
    the fix holds when mlx-lm then picks ``name`` and it reads every call."""
    with tempfile.TemporaryDirectory(prefix="punie-fix-") as tmp:
        copy = Path(tmp)
        for fname in TOKENIZER_FILES:
            if (directory / fname).is_file():
                shutil.copy2(directory / fname, copy / fname)
        cfg_path = copy / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
        cfg[FIX_KEY] = name
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False), encoding="utf-8")
        choice = learn_parser(copy)
        if choice.name != name or choice.parse is None or not choice.start or not choice.end:
            return False
        samples = call_samples(texts, choice.start, choice.end)
        return bool(samples) and try_parse(choice.parse, samples).ok


def find_fix(directory: Path, current: str | None, texts: list[tuple[str, str]]) -> tuple[str | None, str]:
    """A parser that reads every call, checked by loading a fixed copy."""
    candidates = [n for n in parser_modules() if n != current]
    # the parser whose own markers and rules read the most calls goes first
    ranked = []
    for name in candidates:
        try:
            mod = importlib.import_module(f"mlx_lm.tool_parsers.{name}")
        except Exception:
            continue
        samples = call_samples(texts, mod.tool_call_start, mod.tool_call_end)
        if samples and try_parse(mod.parse_tool_call, samples).ok:
            ranked.append((-len(samples), name))
    for _, name in sorted(ranked):
        if _verify_fix(directory, name, texts):
            return name, "checked: mlx-lm loads a copy of the tokenizer with it and reads every call"
    return None, ""


def preflight(directory: Path, texts: list[tuple[str, str]], fix_registry: str | None = None) -> ToolParserReport:
    """The tool-parser preflight of a tokenizer (or model) directory against
    (where, assistant text) pairs: the training data and the suite's format.
    ``fix_registry`` names the registry entry a cache-built model comes from."""
    directory = Path(directory)
    choice = learn_parser(directory)
    if choice.name is None or choice.parse is None or not choice.start or not choice.end:
        outcome = ParseOutcome(total=0)
    else:
        outcome = try_parse(choice.parse, call_samples(texts, choice.start, choice.end))
    report = ToolParserReport(str(directory), choice, outcome, fix_registry=fix_registry)
    if not report.passed and (choice.name is None or outcome.failures):
        report.fix, report.fix_checked = find_fix(directory, choice.name, texts)
    return report
