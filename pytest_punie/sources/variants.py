"""Variants of one suite in one session: temperatures (the users' "format
lock" question), adapter checkpoints (compare checkpoints by eval, not
by validation loss), training seeds (is a recipe's score reproducible?) and
quantization widths (which bits keep the adapter's signal?)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pytest_punie.errors import PunieError
from pytest_punie.sources.sourceoptions import SourceOptions

CHECKPOINT = re.compile(r"^(\d{7})_adapters\.safetensors$")


@dataclass(frozen=True)
class Variant:
    """One unit of work of a sweep: a temperature, a checkpoint or a training seed."""

    name: str = ""
    temperature: float | None = None
    checkpoint: Path | None = None
    seed: int | None = None  # the training seed: the recipe trained (fused, quantized) with mlx_lm lora --seed
    bits: int | None = None  # the quantization width: the model's one fuse quantized at it

    @property
    def iteration(self) -> int | None:
        """The checkpoint's training iteration, from its file name."""
        if self.checkpoint is None:
            return None
        m = CHECKPOINT.match(self.checkpoint.name)
        return int(m.group(1)) if m else None


def checkpoints_of(adapter_dir: Path) -> list[Path]:
    """The adapter checkpoints of a folder, in order, or an error naming the folder."""
    if not adapter_dir.is_dir():
        raise PunieError(adapter_dir, None, "--punie-checkpoints needs an adapter directory")
    found = sorted(p for p in adapter_dir.iterdir() if CHECKPOINT.match(p.name))
    if not found:
        raise PunieError(adapter_dir, None, "no NNNNNNN_adapters.safetensors checkpoints in this directory")
    return found


def registered_seeds(opts: SourceOptions) -> list[int]:
    """``seeds = [0, 1, 2]`` in the model's registry entry: the recipe is always judged over them."""
    from pytest_punie.models.resolve import load_registry

    if not opts.model or opts.responses or opts.server_urls:
        return []
    try:
        entry = load_registry(opts.root).get(str(opts.model)) or {}
    except PunieError:
        return []  # the model's own error is reported where it is resolved
    seeds = entry.get("seeds") or []
    if not isinstance(seeds, list) or not all(isinstance(x, int) and x >= 0 for x in seeds):
        raise PunieError(
            None, None, f"[tool.punie.models.{opts.model}] seeds: expected a list of whole numbers, got {seeds!r}"
        )
    return list(dict.fromkeys(seeds))


def variants_of(opts: SourceOptions) -> list[Variant]:
    """The variants the command line asks for (temperatures x checkpoints, or seeds)."""
    temps: list[float | None] = list(opts.temperatures) or [None]
    ckpts: list[Path | None] = [None]
    if opts.checkpoints:
        ckpts = list(checkpoints_of(Path(opts.checkpoints).resolve()))
    seeds: list[int | None] = list(opts.seeds or registered_seeds(opts)) or [None]
    widths: list[int | None] = list(opts.bits) or [None]
    out = []
    for seed, b, c, t in ((s, b, c, t) for s in seeds for b in widths for c in ckpts for t in temps):
        parts = []
        if seed is not None:
            parts.append(f"seed={seed}")
        if b is not None:
            parts.append(f"bits={b}")
        if c is not None:
            parts.append(f"ckpt={CHECKPOINT.match(c.name).group(1).lstrip('0') or '0'}")  # type: ignore[union-attr]
        if t is not None:
            parts.append(f"t={t:g}")
        out.append(Variant(",".join(parts), t, c, seed, b))
    return out
