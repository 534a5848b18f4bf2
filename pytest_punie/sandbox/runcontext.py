"""What every tool of one program's run sees: the workspace copy, its declaration, and the writes so
far (the state the tool cache keys on)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_punie.sandbox.workspace import WorkspaceSpec, inside


@dataclass
class ToolContext:
    """One program's workspace: where its tools run and what they have changed."""

    root: Path
    """Where the tools run: the process's shared template until the program first writes, then its own copy."""
    spec: WorkspaceSpec
    writes: list[str] = field(default_factory=list)
    tool_timeout_s: float = 60.0
    copier: Callable[[], Path] | None = None
    """Makes the program's own copy of the workspace (None: ``root`` is already the program's own)."""

    def private(self) -> Path:
        """The program's own copy, made on its first write (reads and read-only tools share the template)."""
        if self.copier is not None:
            self.root, self.copier = self.copier(), None
        return self.root

    def path(self, path: str) -> tuple[Path, str]:
        """A program's path inside this workspace (real, workspace-relative); outside it is refused."""
        return inside(self.root, path)

    def wrote(self, rel: str, content: str) -> None:
        """Records a write: later calls see a workspace in another state (their cache key changes)."""
        self.writes.append(rel + "\0" + hashlib.sha256(content.encode()).hexdigest())

    @property
    def state(self) -> str:
        """The workspace's state: its declared digest and the writes made to it so far."""
        if not self.writes:
            return self.spec.digest
        return self.spec.digest + "+" + hashlib.sha256("\n".join(self.writes).encode()).hexdigest()[:16]
