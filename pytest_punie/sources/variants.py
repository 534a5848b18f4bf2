"""Variants of one suite in one session: temperatures (the users' "format
lock" question), adapter checkpoints (compare checkpoints by eval, not
by validation loss) and training seeds (is a recipe's score reproducible?)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_punie.errors import PunieError

CHECKPOINT = re.compile(r"^(\d{7})_adapters\.safetensors$")


@dataclass(frozen=True)
class Variant:
    """One unit of work of a sweep: a temperature, a checkpoint or a training seed."""

    name: str = ""
    temperature: float | None = None
    checkpoint: Path | None = None
    seed: int | None = None  # the training seed: the recipe trained (fused, quantized) with mlx_lm lora --seed

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


def registered_seeds(config: pytest.Config) -> list[int]:
    """``seeds = [0, 1, 2]`` in the model's registry entry: the recipe is always judged over them."""
    from pytest_punie.models.resolve import load_registry

    name = config.getoption("punie_model") or config.getini("punie_model")
    if not name or config.getoption("punie_responses") or config.getoption("punie_server_url"):
        return []
    try:
        entry = load_registry(config.rootpath).get(str(name)) or {}
    except PunieError:
        return []  # the model's own error is reported where it is resolved
    seeds = entry.get("seeds") or []
    if not isinstance(seeds, list) or not all(isinstance(x, int) and x >= 0 for x in seeds):
        raise PunieError(
            None, None, f"[tool.punie.models.{name}] seeds: expected a list of whole numbers, got {seeds!r}"
        )
    return list(dict.fromkeys(seeds))


def variants_of(config: pytest.Config) -> list[Variant]:
    """The variants the command line asks for (temperatures x checkpoints, or seeds)."""
    temps_opt = config.getoption("punie_temperatures")
    ckpt_opt = config.getoption("punie_checkpoints")
    temps: list[float | None] = [None]
    if temps_opt:
        try:
            temps = [float(t) for t in temps_opt.split(",") if t.strip()]
        except ValueError:
            raise PunieError(
                None, None, f"--punie-temperatures: expected numbers like 0,0.7, got {temps_opt!r}"
            ) from None
    ckpts: list[Path | None] = [None]
    if ckpt_opt:
        ckpts = list(checkpoints_of(Path(ckpt_opt).resolve()))
    seeds: list[int | None] = [None]
    if config.getoption("punie_seeds"):
        try:
            seeds = [int(s) for s in str(config.getoption("punie_seeds")).split(",") if s.strip()]
        except ValueError:
            raise PunieError(None, None, "--punie-seeds: expected whole numbers like 0,1,2") from None
    elif registered := registered_seeds(config):
        seeds = list(registered)
    out = []
    for seed, c, t in ((s, c, t) for s in seeds for c in ckpts for t in temps):
        parts = []
        if seed is not None:
            parts.append(f"seed={seed}")
        if c is not None:
            parts.append(f"ckpt={CHECKPOINT.match(c.name).group(1).lstrip('0') or '0'}")  # type: ignore[union-attr]
        if t is not None and temps_opt:
            parts.append(f"t={t:g}")
        out.append(Variant(",".join(parts), t, c, seed))
    return out
