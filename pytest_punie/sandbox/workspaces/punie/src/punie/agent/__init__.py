"""The Punie agent: its configuration and the Code Mode toolset."""

from punie.agent.config import AgentConfig
from punie.agent.toolset import execute_code

__all__ = ["AgentConfig", "execute_code"]
