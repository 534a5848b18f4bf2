"""The agent's configuration."""

import os
from dataclasses import dataclass, field


@dataclass
class AgentConfig:
    """How the agent runs: which model it calls, how long a tool may take, where it works."""

    model: str = "fused_5bit"
    max_turns: int = 8
    tool_timeout_s: float = 30.0
    workspace: str = "."
    allowed_tools: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.model} ({self.max_turns} turns)"


def load_config(path: str) -> AgentConfig:
    """Reads a config file's model name; the rest keeps its defaults."""
    with open(path) as handle:
        model = handle.read().strip()
    config = AgentConfig(model=model)
    config.max_turns = "8"
    return config
