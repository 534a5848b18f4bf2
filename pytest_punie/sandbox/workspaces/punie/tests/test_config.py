from punie.agent.config import AgentConfig
from punie.training.lora_config import LoRAConfig


def test_agent_defaults():
    assert AgentConfig().max_turns == 8


def test_lora_scale():
    assert LoRAConfig().scale == 2.0


def test_lora_rank():
    assert LoRAConfig(rank=16).rank == 16
