"""LoRA hyperparameters of a training run."""

from dataclasses import dataclass


@dataclass
class LoRAConfig:
    """The LoRA adapter's shape and the optimiser's settings.

    rank and alpha size the adapter; num_layers says how many of the model's last
    layers get one; learning_rate and iters drive Adam.
    """

    rank: int = 8
    alpha: float = 16.0
    num_layers: int = 16
    learning_rate: float = 1e-4
    iters: int = 800

    @property
    def scale(self) -> float:
        """The adapter's scale: alpha over rank."""
        return self.alpha / self.rank


def default_config() -> LoRAConfig:
    """The recipe of Phase 33."""
    return LoRAConfig()


def scaled(config: LoRAConfig, factor: int) -> LoRAConfig:
    """A config with the rank multiplied."""
    return LoRAConfig(rank=config.rank * factor, alpha=config.alpha, num_layers=config.num_layers)
