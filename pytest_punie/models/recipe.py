"""A training recipe: base + data + ``mlx_lm lora`` arguments -> adapter -> fuse -> quantize,
each step content-addressed, with the users' stage gates between the steps ("exit gate: all
checks pass, or STOP"). The tiny recipe builds its own base and then takes this path; a
registry entry ``base`` + ``data`` + ``[lora]`` takes it with the user's base."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_punie.blas import blas_name
from pytest_punie.errors import ModelError
from pytest_punie.models import steps
from pytest_punie.models.cache import Artifact, BuildCache
from pytest_punie.models.digest import inputs_key
from pytest_punie.models.gates import GateStopped
from pytest_punie.models.resume import start_of
from pytest_punie.models.steps import FusedChecks, fuse_and_quantize
from pytest_punie.provenance import versions_of

Log = Callable[[str], None]

# the users' mlx_lm lora arguments (run_phase33b_overnight.sh and friends), as a [lora] table
LORA_KEYS = (
    "iters",
    "batch_size",
    "learning_rate",
    "num_layers",
    "grad_accumulation_steps",
    "mask_prompt",
    "save_every",
    "steps_per_report",
    "steps_per_eval",
    "val_batches",
    "max_seq_length",
    "seed",
    "fine_tune_type",
    "optimizer",
    "grad_checkpoint",
    "config",  # the users' YAML config file (mlx_lm lora --config); keyed by its content
)


@dataclass(frozen=True)
class GateOutcome:
    """What a stage gate found, and what it read to find it (recorded with the build)."""

    problems: list[str]
    """The problems found; any one stops the build (unless the entry allows it)."""
    inputs: dict[str, Any]
    """What the gate read, by content (the suites the data serves, by name and digest)."""

    def record(self, allowed: bool) -> dict[str, Any]:
        """The outcome as a build and the provenance record it."""
        return {**self.inputs, "errors": len(self.problems), "passed": not self.problems, "allowed": allowed}


@dataclass(frozen=True)
class StageGates:
    """Checks between a recipe's steps, given by the caller (checks/ and datalint/ sit beside
    models/). Each returns the problems it found; any problem stops the build at that gate."""

    data: Callable[[Path], GateOutcome] | None = None
    """Before training: the error findings of the data lint of the recipe's data, against the
    suites the data serves (never the run's selection)."""
    train_log: Callable[[Path], list[str]] | None = None
    """After training, before fusing: the training log's problems (crash, cut off, loss bounds)."""
    fused: FusedChecks | None = None
    """After fusing, before quantizing: the fused model's checks (parity with base + adapter among them)."""
    quantized: Callable[[Path, Path, Path, int], list[str]] | None = None
    """After quantizing, before the model is used: (model, base, adapter, bits) -> its parity problems."""


def data_digest(cache: BuildCache, data: Path) -> str:
    """The training data's identity: train, valid (and test when present) by content."""
    files = [data / f"{s}.jsonl" for s in ("train", "valid", "test")]
    missing = [f for f in files[:2] if not f.is_file()]
    if missing:
        raise ModelError(missing[0], None, "training data missing (need train.jsonl and valid.jsonl)")
    return "sha256:" + inputs_key({f.name: cache.digest(f) for f in files if f.is_file()})


def lora_params(table: dict[str, Any], where: str) -> dict[str, Any]:
    """The [lora] table, checked: unknown arguments are named, never passed on silently."""
    unknown = sorted(set(table) - set(LORA_KEYS))
    if unknown:
        raise ModelError(
            None, None, f"{where}: unknown mlx_lm lora arguments {unknown} (known: {', '.join(LORA_KEYS)})"
        )
    return dict(table)


def adapter_inputs(cache: BuildCache, base_digest: str, data: Path, params: dict[str, Any]) -> dict[str, Any]:
    """What an adapter is keyed by: both digests, the arguments (the seed among them; a YAML config
    by its content, never its path) and the versions."""
    keyed = dict(params)
    if params.get("config"):
        config = Path(params["config"])
        if not config.is_file():
            raise ModelError(config, None, "the [lora] config file does not exist")
        keyed["config"] = cache.digest(config)
    return {
        "base": base_digest,
        "data": data_digest(cache, data),
        "params": keyed,
        "versions": versions_of("mlx", "mlx-lm"),
        "blas": blas_name(),
    }


def lora_artifact(
    cache: BuildCache,
    base_path: Path,
    base_digest: str,
    data: Path,
    params: dict[str, Any],
    log: Log,
    gate: dict[str, Any] | None = None,
    resume: bool = True,
) -> Artifact:
    """``mlx_lm lora`` of a base on data, content-addressed (``adapter_inputs``); ``gate``, the
    data gate's outcome of this run, is kept in the record of an adapter built now and reported
    (as checked in this run) for one found in the cache. An interrupted build's checkpoints are
    kept, and the next build resumes from the last whole one (``resume=False``: from scratch)."""
    inputs = adapter_inputs(cache, base_digest, data, params)
    partial = cache.partial_path("adapter", inputs) if resume else None

    def train(out: Path) -> dict[str, Any]:
        return {
            **(steps.lora(base_path, data, out, params, log, partial) or {}),
            **({"data_gate": gate} if gate else {}),
        }

    planned = int(params.get("iters", 1000))

    def left(partial: Path) -> float:
        start = start_of(partial, planned)
        return float(planned - (start.iteration if start is not None else 0))

    adapter = cache.build("adapter", inputs, train, resumable=True, units=float(planned), units_left=left)
    if gate is None:
        return adapter
    return replace(adapter, record={**adapter.record, "data_gate": gate})


def data_gate(gates: StageGates, data: Path, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The data lint before training, run on every build and every reuse alike: the same recipe
    is refused, or built, the same way from any selection and any cache state."""
    if gates.data is None:
        return None
    outcome = gates.data(data)
    allowed = bool(entry.get("allow_data_errors"))
    if outcome.problems and not allowed:
        raise GateStopped(
            "data lint (before training)",
            data,
            outcome.problems,
            "Fix the data, or set allow_data_errors = true in the registry entry to train anyway.",
        )
    return outcome.record(allowed)


def train_fuse_quantize(
    cache: BuildCache,
    base_path: Path,
    base_digest: str,
    data: Path,
    params: dict[str, Any],
    entry: dict[str, Any],
    log: Log,
    gates: StageGates | None = None,
) -> list[Artifact]:
    """The users' overnight pipeline as one call: data gate, train, log gate, fuse, fused gate,
    quantize. Returns [adapter, fused, quantized]."""
    gates = gates or StageGates()
    gate = data_gate(gates, data, entry)
    adapter = lora_artifact(
        cache, base_path, base_digest, data, params, log, gate, entry.get("resume", True) is not False
    )
    if gates.train_log is not None:
        problems = gates.train_log(adapter.path / "train.log")
        if problems:
            raise GateStopped(
                "training log (before fusing)",
                adapter.path / "train.log",
                problems,
                "Nothing was fused; the adapter and its log are kept in the cache to read.",
            )
    fused, quant = fuse_and_quantize_entry(cache, base_path, adapter.path, entry, log, gates.fused)
    return [adapter, fused, quant]  # the gate after quantizing runs once the model's digest is verified


def quantized_gate(gates: StageGates, model: Path, base: Path, adapter: Path, bits: int) -> None:
    """The exit gate after quantizing: the quantized model still behaves like base + adapter as trained
    (run on a model whose files were verified against their recorded digest: a damaged one is rebuilt
    first, never judged)."""
    if gates.quantized is None:
        return
    problems = gates.quantized(model, base, adapter, bits)
    if problems:
        raise GateStopped(
            "parity (after quantizing)",
            model,
            problems,
            "The quantized model is kept in the cache to read; it is not evaluated.",
        )


def fuse_and_quantize_entry(
    cache: BuildCache, base: Path, adapter: Path, entry: dict[str, Any], log: Log, check_fused: FusedChecks | None
) -> tuple[Artifact, Artifact]:
    """The production path with a registry entry's settings (bits, group size, intermediates kept,
    the tool parser written into the model)."""
    return fuse_and_quantize(
        cache,
        base,
        adapter,
        int(entry.get("bits", 5)),
        int(entry.get("group_size", 64)),
        log,
        keep_intermediates=bool(entry.get("keep_intermediates", False)),
        check_fused=check_fused,
        tool_parser_type=entry.get("tool_parser_type"),
    )
