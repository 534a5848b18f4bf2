"""--punie-save and --punie-compare on a finished run's document: save it as
a baseline, gate it against one, and write the comparison where asked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.gate.compare import completeness_of
from pytest_punie.resultsformat import RunDocument
from pytest_punie.views.write import why_not_written, write_text


@dataclass(frozen=True)
class GateOptions:
    """What the command line asks of the gate: save a baseline, compare with one, where they live."""

    baseline_dir: Path
    save: str | None = None
    compare: str | None = None
    compare_md: str | None = None
    allow_suite_change: bool = False

    @classmethod
    def from_config(cls, config: Any) -> GateOptions:
        """The gate's options read once from pytest's config."""
        return cls(
            baseline_dir=config.rootpath / config.getini("punie_baseline_dir"),
            save=config.getoption("punie_save"),
            compare=config.getoption("punie_compare"),
            compare_md=config.getoption("punie_compare_md"),
            allow_suite_change=bool(config.getoption("punie_allow_suite_change")),
        )


def first_warning(doc: RunDocument) -> str:
    """The first warning's message, for a one-line refusal."""
    return str(doc["warnings"][0]["message"]) if doc.get("warnings") else "see the warnings"


def apply_gate(doc: RunDocument, options: GateOptions) -> None:
    """Adds ``gate`` / ``comparison`` / ``saved_as`` to ``doc``; a refusal is a
    gate verdict (REFUSED, with its reason), never an exception."""
    try:
        _gate(doc, options)
    except PunieError as err:  # the file it is about named, with its line where known
        doc["gate"] = {"verdict": "REFUSED", "reasons": [err.describe()]}


def _gate(doc: RunDocument, options: GateOptions) -> None:
    """What ``apply_gate`` does, with a refusal raised as a PunieError."""
    from pytest_punie.gate import baselines
    from pytest_punie.gate.compare import SuiteChanged, compare

    if doc["verdict"] == "INVALID" and (options.compare or options.save):
        raise PunieError(None, None, "an INVALID run is neither saved as a baseline nor gated: " + first_warning(doc))
    state, why = completeness_of(doc)
    if options.save and state != "whole":
        raise PunieError(None, None, f"not saved as baseline {options.save!r}: the run was {state} ({'; '.join(why)})")
    if options.compare and state in ("interrupted", "unanswered"):
        what = "an interrupted" if state == "interrupted" else "an INCOMPLETE"
        raise PunieError(None, None, f"{what} run is not gated ({'; '.join(why)})")
    if options.compare:
        baseline, where = baselines.load(options.baseline_dir, options.compare)
        base_state, base_why = completeness_of(baseline)
        if base_state != "whole":
            raise PunieError(where, None, f"the baseline was itself {base_state} ({'; '.join(base_why)}): not gated")
        from pytest_punie.gate.seedset import compare_seed_sets, is_seed_set

        if is_seed_set(doc) != is_seed_set(baseline):
            raise PunieError(
                where,
                None,
                "a recipe's seed set is compared with a seed set (both runs with --punie-seeds), never one seed "
                f"with one model: the {'candidate' if is_seed_set(doc) else 'baseline'} is a seed set, the other not",
            )
        try:
            if is_seed_set(doc):
                gate = compare_seed_sets(doc, baseline, baselines.rules_of(doc), options.allow_suite_change)
            else:
                gate = compare(doc, baseline, baselines.rules_of(doc), options.allow_suite_change)
        except SuiteChanged as exc:
            raise PunieError(where, None, str(exc)) from None
        doc["gate"] = gate.to_dict()
        doc["comparison"] = {**gate.comparison, "baseline_name": options.compare, "baseline_path": str(where)}
        from pytest_punie.views.gateview import render_gate_markdown

        text = render_gate_markdown(doc)
        if options.compare_md:
            write_text(options.compare_md, text)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(text + "\n")
    if options.save:
        target = options.baseline_dir / f"{options.save}.json"
        try:
            doc["saved_as"] = str(baselines.save(options.baseline_dir, options.save, doc))
        except OSError as exc:  # a full disk: said in one line; an earlier baseline of that name is kept
            raise PunieError(
                None, None, f"baseline {options.save!r} not saved: {why_not_written(target, exc)}"
            ) from None
