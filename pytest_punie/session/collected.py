"""What collection found: the suites, the datasets and pipeline items made once, what a bare run
held back; how the run was asked for (usage errors before anything runs); and what the run's
checks take from the suites (the smoke prompt, a training example)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.resultsformat import JsonObject
from pytest_punie.sources.sourceoptions import SourceOptions
from pytest_punie.suite.suitetypes import Suite, chat_messages


@dataclass
class Collected:
    """The suites and items collection made in this process."""

    suites_seen: list[Suite] = field(default_factory=list)
    """Suites collected in this process, in collection order."""
    held_back: dict[str, int] = field(default_factory=dict)
    """A bare run's eval / pipeline items left out, by marker."""
    pipeline_collected: bool = False
    """Whether the model's pipeline items were made (once per run)."""
    datasets_collected: set[Path] = field(default_factory=set)
    """Datasets whose lint items were made (a dataset several suites name is collected once)."""

    def training_example(self, with_response: bool = True) -> list[JsonObject] | None:
        """The first tool-calling training example of the first suite dataset;
        with ``with_response``, preferably one that carries a tool response."""
        from pytest_punie.datalint.examples import first_tool_example

        return first_tool_example(
            [d for s in self.suites_seen for d in s.datasets().values()], with_response=with_response
        )

    def smoke_prompt(self) -> tuple[str, str]:
        """(system prompt, query): the first tool-calling training example of the
        first suite dataset, else the first suite prompt."""
        if not self.suites_seen:
            raise PunieError(None, None, "no suite collected: the smoke check takes its prompt from a suite")
        suite = self.suites_seen[0]
        example = self.training_example(with_response=False)
        return suite.system_prompt, str(example[1]["content"]) if example else suite.prompts[0].query

    def smoke_messages(self) -> tuple[dict[str, str], ...]:
        """The smoke generation's messages (a suite's system prompt and a first prompt)."""
        return chat_messages(*self.smoke_prompt())

    def report(self, config: pytest.Config, is_worker: bool) -> list[str]:
        """Said when a run meant to evaluate found nothing to evaluate, or a bare run held items back."""
        if self.held_back and not is_worker:  # a bare run: say what it left out and how to ask
            what = " and ".join(f"{n} {mark}" for mark, n in self.held_back.items())
            asks = ", ".join(f"-m {mark}" for mark in self.held_back)
            return [f"pytest-punie: {what} items not run (they need a model): ask with {asks} or --punie-model=NAME"]
        meant = config.getoption("punie_model") or config.getoption("punie_responses")
        meant = meant or config.getoption("punie_server_url") or "eval" in (config.option.markexpr or "")
        if self.suites_seen or not meant or is_worker:
            return []
        globs = ", ".join(config.getini("punie_suites"))
        return [
            f"pytest-punie: no eval suite was collected (punie_suites: {globs}); "
            "pass --punie-suite phase33 for the packaged Phase 33 suite, or a suite file"
        ]


def usage_errors(config: pytest.Config, opts: SourceOptions, value_options: tuple[str, ...]) -> list[str]:
    """What is wrong with how the run was asked for, before anything runs (``value_options``: the
    options that take a value, as options.py declares them)."""
    from pytest_punie.models.resolve import resolve_spec
    from pytest_punie.models.validate import validate_model_dir
    from pytest_punie.sources.variants import registered_seeds
    from pytest_punie.suites import packaged_suites
    from pytest_punie.usage import option_errors, space_separated_error

    errors = option_errors(config)
    spaced = space_separated_error(config.invocation_params.args, value_options, config.rootpath, config.inipath)
    if spaced:
        errors.insert(0, spaced)
    packaged = packaged_suites()
    for value in config.getoption("punie_suite"):
        if value not in packaged and not Path(value).is_file():
            errors.append(
                f"--punie-suite {value}: no packaged suite of that name (packaged: {', '.join(packaged)}) "
                "and no such file"
            )
    errors += marker_typos(config)
    try:
        registered_seeds(opts)
    except PunieError as err:
        errors.append(err.describe())
    if opts.uses_model and not spaced:
        name = opts.model
        try:
            spec = resolve_spec(str(name), config.rootpath)
            if "path" in spec.entry:
                validate_model_dir(Path(spec.entry["path"]))
        except PunieError as err:
            errors.append(f"--punie-model {name}: {err.describe()}")
    return errors


def marker_typos(config: pytest.Config) -> list[str]:
    """``-m evl``: a name close to one of ours that no plugin registered would
    deselect everything; say so instead of 'no tests ran'."""
    import difflib
    import re

    expr = config.option.markexpr or ""
    registered = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    ours = ["eval", "data", "tokenizer", "pipeline"]
    out = []
    for name in dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)):
        if name in ("and", "or", "not") or name in registered:
            continue
        close = difflib.get_close_matches(name, ours, n=1, cutoff=0.6)
        if close:
            out.append(f"-m {expr!r}: no marker {name!r} is registered; did you mean {close[0]!r}?")
    return out
