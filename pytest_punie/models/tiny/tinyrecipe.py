"""The embedded default: data -> tokenizer -> base (pretrained) -> 4-bit base
-> LoRA adapter -> fuse --dequantize -> 5-bit, every step cached by the
digest of its inputs. The last two steps are the production path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.blas import blas_name
from pytest_punie.models import steps
from pytest_punie.models.cache import Artifact, BuildCache
from pytest_punie.models.recipe import StageGates, data_digest, train_fuse_quantize
from pytest_punie.models.steps import FusedChecks
from pytest_punie.models.validate import validate_model_dir
from pytest_punie.provenance import versions_of

DEFAULT_LORA = {
    "iters": 60,
    "batch_size": 4,
    "learning_rate": 1e-4,
    "num_layers": -1,  # the default 16 fails on a 2-layer model
    "mask_prompt": True,
    "save_every": 20,
    "steps_per_report": 20,  # 20-iteration averages: batches differ a lot in length and kind
    "steps_per_eval": 20,
    "val_batches": -1,  # the whole validation set: 5 batches of 4 were too noisy to read a trend
    "max_seq_length": 1024,
    "seed": 0,
}
# a curriculum (iterations, system prompt, peak lr): the tools first on short
# single-turn examples without a system prompt, then behind the users' long
# system prompt; the LoRA adapter adds the multi-turn answers on the 4-bit base
DEFAULT_PRETRAIN: dict[str, Any] = {
    "phases": [[300, "none", 1e-3], [150, "data", 5e-4], "single-turn"],
    "batch_size": 8,
}


def build_base(cache: BuildCache, root: Path, entry: dict[str, Any], log: Callable[[str], None]) -> Artifact:
    """The tiny base at 4 bits, like the bases users download."""
    from pytest_punie.models.tiny.bpetokenizer import VOCAB_SIZE, train_tokenizer
    from pytest_punie.models.tiny.pretrain import pretrain

    data = root / entry.get("data", "data")
    data_d = data_digest(cache, data)
    versions = versions_of("mlx", "mlx-lm", "tokenizers")
    tok = cache.build(
        "tokenizer",
        {"data": data_d, "vocab": VOCAB_SIZE, "tokenizers": versions["tokenizers"]},
        lambda out: (train_tokenizer(data, out), None)[1],
    )
    arch = entry.get("arch", "qwen3")
    pre = {**DEFAULT_PRETRAIN}
    seed = int(entry.get("seed", 0))
    base = cache.build(
        f"base-{arch}",
        {
            "tokenizer": tok.digest,
            "data": data_d,
            "arch": arch,
            "seed": seed,
            "pretrain": pre,
            "versions": versions,
            "blas": blas_name(),
        },
        lambda out: {
            "pretrain": _summary(
                pretrain(
                    data,
                    tok.path,
                    out,
                    arch=arch,
                    seed=seed,
                    log=log,
                    batch_size=pre["batch_size"],
                    phases=tuple(tuple(p) for p in pre["phases"] if isinstance(p, list)),
                )
            )
        },
    )
    return cache.build(
        "q4",
        {"model": base.digest, "bits": 4, "group_size": 64, "versions": versions, "blas": blas_name()},
        lambda out: steps.quantize(base.path, out, 4, 64, log),
        validate=validate_model_dir,
    )


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "params": stats["params"],
        "final_train_loss": stats["losses"]["train"][-1][1],
        "val_loss": stats["losses"]["val"],
    }


def lora_params_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The tiny recipe's mlx_lm lora arguments: its defaults, then the entry's ``lora_params``."""
    params = {**DEFAULT_LORA, **entry.get("lora_params", {})}
    if "lora_iters" in entry:
        params["iters"] = int(entry["lora_iters"])
    return params


def build_tiny(
    root: Path,
    cache: BuildCache,
    entry: dict[str, Any],
    log: Callable[[str], None],
    check_fused: FusedChecks | None = None,
    gates: StageGates | None = None,
) -> list[Artifact]:
    """The tiny base, then the one recipe path every model takes: train, fuse, quantize."""
    base = build_base(cache, root, entry, log)
    data = root / entry.get("data", "data")
    gates = gates or StageGates(fused=check_fused)
    return [base, *train_fuse_quantize(cache, base.path, base.digest, data, lora_params_of(entry), entry, log, gates)]
