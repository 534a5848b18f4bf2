from punie.training.lora_config import LoRAConfig, scaled
from punie.training.train_runner import TrainingResult, best_of, summarize


def test_summarize():
    assert summarize(TrainingResult(0.5, 0.25, "a")) == "train 0.500, val 0.250"


def test_best_of():
    runs = [TrainingResult(0.5, 0.4, "a"), TrainingResult(0.6, 0.3, "b")]
    assert best_of(runs).adapter_path == "b"


def test_scaled_keeps_alpha_ratio():
    assert scaled(LoRAConfig(), 2).scale == LoRAConfig().scale
