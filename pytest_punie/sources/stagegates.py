"""The recipe's stage gates, written: what stops a build between its steps (the data lint before
training, the training log before fusing, the fused checks and parity before quantizing, parity
after quantizing). models/recipe.py declares the gates; this is what each one runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError


def stage_gates(
    entry: dict[str, Any],
    where: str,
    suites: list[Any] | None = None,
    root: Path | None = None,
    cache: Any = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """The users' exit gates between a recipe's steps: the data lint's errors before training
    (against the suites the data serves, whatever the run selected: ``models.dataserves``; with a
    build ``cache``, findings kept there for the same data, configuration and code), the training
    log (complete, no crash, the pre-registered loss bounds) before fusing, the fused checks (parity
    with base + adapter as trained among them) before quantizing, and parity after quantizing (kept
    in the build cache, so the parity item reads the same figures); ``parity_gate = false`` in the
    entry skips the two parity gates. ``log`` hears what a gate measures while it measures."""
    from dataclasses import replace

    from pytest_punie.checks import trainlog
    from pytest_punie.checks.artifacts import fused_checks
    from pytest_punie.checks.expectations import expectations
    from pytest_punie.datalint import LintConfig, lint_dataset
    from pytest_punie.models.dataserves import suites_serving
    from pytest_punie.models.recipe import GateOutcome, StageGates

    def data_errors(data: Path) -> GateOutcome:
        served = suites_serving(data, root or Path.cwd(), entry.get("suites"), loaded=suites or [])
        config = LintConfig(eval_system_prompts=served.system_prompts)
        if cache is None:
            found = lint_dataset(data, config)
        else:
            from pytest_punie.sources.keptlint import lint_kept

            found, _kept = lint_kept(data, config, cache.root / "datalint", cache.digest)
        problems = [f"{f.where()}: {f.check}: {f.message}" for f in found if f.severity == "error"]
        return GateOutcome(problems, served.record())

    def log_problems(log_file: Path) -> list[str]:
        expect = expectations((entry.get("expect"), f"{where}.expect")).loss
        iters = (entry.get("lora") or entry.get("lora_params") or {}).get("iters")
        if iters is not None and expect.planned_iters is None:
            expect = replace(expect, planned_iters=int(iters))
        return trainlog.judge_training_log(trainlog.parse_training_log(log_file), expect)[0]

    parity = parity_gate(entry, where, suites, root, cache, log)

    def fused_and_parity(fused: Path, base: Path, adapter: Path) -> dict[str, list[str]]:
        return {**fused_checks(fused, base, adapter), "parity": parity(fused, base, adapter, None)}

    return StageGates(
        data=data_errors,
        train_log=log_problems,
        fused=fused_and_parity,
        quantized=lambda model, base, adapter, bits: parity(model, base, adapter, bits),
    )


def parity_gate(
    entry: dict[str, Any],
    where: str,
    suites: list[Any] | None,
    root: Path | None,
    cache: Any,
    log: Callable[[str], None] | None = None,
) -> Callable[[Path, Path, Path, int | None], list[str]]:
    """The parity stage gate: (model, base, adapter, bits) -> the model's parity problems against base +
    adapter as trained (kept in the build cache: the parity item reads the same figures); none when
    the entry says ``parity_gate = false``. ``log`` hears the measurement start and its figures."""
    from pytest_punie.checks.expectations import expectations

    def parity(model: Path, base: Path, adapter: Path, bits: int | None) -> list[str]:
        if entry.get("parity_gate") is False:
            return []
        from pytest_punie.checks.paritycheck import gold_from_adapter, judge_parity, kept_parity
        from pytest_punie.models.cache import default_cache_dir

        kept_in = cache.root if cache is not None else default_cache_dir(root or Path.cwd())
        stage = "after quantizing" if bits is not None else "before quantizing"
        started = time.monotonic()
        try:
            gold = gold_from_adapter(adapter)
            if log is not None:
                log(f"parity gate ({stage}): {len(gold.transcripts)} gold transcripts, base + adapter against {model}")
            figures = kept_parity(kept_in, base, adapter, model, gold)
        except PunieError as err:
            return [err.describe()]
        if log is not None:
            took = time.monotonic() - started
            log(
                f"parity gate ({stage}): KL {figures.kl_mean:.4f} ({100 * figures.share_of_base:.1f}% of the "
                f"base's), top-1 {100 * figures.top1_agreement:.1f}% over {figures.positions} tokens ({took:.1f} s)"
            )
        layers = [(s.extra.get("pipeline_expect"), f"{Path(s.path).name} pipeline_expect") for s in suites or []]
        expect = expectations(*layers, (entry.get("expect"), f"{where}.expect"))
        return judge_parity(figures, bits, expect, str(model))

    return parity
