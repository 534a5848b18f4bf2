"""Pre-registered pipeline expectations, like the eval's thresholds: the
defaults are the users' own checks, and a registry entry (``[tool.punie.models.NAME.expect]``)
or a suite (``pipeline_expect:``) may set each one, on purpose, with its
source shown in every message that uses it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_punie.checks.trainlog import LossExpectations

# the suite / registry key -> the field it sets (the keys themselves: suite.model.EXPECT_KEYS)
KEYS = {
    "min_loss_decrease": "min_decrease",
    "warn_final_loss_above": "warn_final_above",
    "max_final_train_loss": "max_final_train",
    "max_final_val_loss": "max_final_val",
    "min_val_reduction": "min_val_reduction",
    "planned_iters": "planned_iters",
    "min_bits": "min_bits",
    "low_bits_on_purpose": "low_bits_on_purpose",
    "eos_token": "eos_token",
    "max_kl_mean": "max_kl_mean",
    "min_top1_agreement": "min_top1_agreement",
    "max_kl_share_of_base": "max_kl_share_of_base",
}
PLAIN = ("min_bits", "low_bits_on_purpose", "eos_token", "max_kl_mean", "min_top1_agreement", "max_kl_share_of_base")
DEFAULT_MIN_BITS = 5  # the users' lesson (Phase 5c): a fused LoRA model at 4 bits lost the adapter's signal


@dataclass(frozen=True)
class PipelineExpectations:
    """The pre-registered bounds a model's pipeline checks hold it to, each with where it came from."""

    loss: LossExpectations = field(default_factory=LossExpectations)
    min_bits: int = DEFAULT_MIN_BITS
    low_bits_on_purpose: bool = False
    eos_token: str | None = None  # None: the chat template's end-of-turn token
    max_kl_mean: float | None = None  # parity: None, no bound on the mean KL itself
    min_top1_agreement: float | None = None  # parity: None, the default for the model's bits
    max_kl_share_of_base: float | None = None  # parity: None, the default for the model's bits
    sources: tuple[tuple[str, str], ...] = ()

    def source(self, name: str) -> str:
        """Where a bound came from (a suite, a registry entry, or the users' own default), for messages."""
        return dict(self.sources).get(name, "default: the users' own checks")


def expectations(*layers: tuple[dict[str, Any] | None, str]) -> PipelineExpectations:
    """Defaults, then each (table, where it came from) in order: later wins."""
    loss_values: dict[str, Any] = {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for table, where in layers:
        for key, value in (table or {}).items():
            name = KEYS.get(key)
            if name is None:
                continue
            sources[name] = where
            if name in PLAIN:
                values[name] = value
            else:
                loss_values[name] = value
    srcs = tuple(sorted(sources.items()))
    loss = replace(LossExpectations(), **loss_values, sources=srcs)
    return PipelineExpectations(loss=loss, **values, sources=srcs)


def check_bits(bits: int | None, expect: PipelineExpectations, where: str) -> list[str]:
    """A fused LoRA model at or below 4 bits fails unless registered on purpose."""
    if bits is None or expect.low_bits_on_purpose or bits >= expect.min_bits:
        return []
    return [
        f"{where}: quantized to {bits} bits, expected at least {expect.min_bits} ({expect.source('min_bits')}): "
        "re-quantizing a fused LoRA model this low erased the adapter's signal before (Phase 5c); "
        "set low_bits_on_purpose = true in the model's expect table if this is intended"
    ]


def planned_from_adapter(adapter: Path) -> dict[str, Any]:
    """The planned iteration count an adapter's own config records (mlx-lm writes ``iters``)."""
    import json

    try:
        iters = json.loads((adapter / "adapter_config.json").read_text()).get("iters")
    except (OSError, ValueError, AttributeError):
        return {}
    return {"planned_iters": iters} if isinstance(iters, int) and iters > 0 else {}
