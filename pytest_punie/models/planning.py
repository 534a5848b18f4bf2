"""Which of a recipe's build steps are in the cache, found without building (or changing) anything.

The recipe's own code is walked with a ``PlanningCache``: its lookups are the build cache's, a
build that would have to run stops the walk (the steps after it depend on what it would build),
and nothing is retired, discarded or moved. What the walk found is what the plan calls cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.models.cache import Artifact, BuildCache


class _Missing(Exception):
    """A step the walk would have to build: where it stops."""


class PlanningCache(BuildCache):
    """A build cache that finds and never builds, retires, discards or quarantines."""

    def __init__(self, root: Path):
        super().__init__(root, log=lambda _message: None)
        self.found: set[str] = set()
        self.left: dict[str, float] = {}
        """A step to build that will resume from a partial: the work it has left."""

    def lookup(self, step: str, inputs: dict[str, Any]) -> Artifact | None:
        """The cache's entry, remembered as found."""
        hit = super().lookup(step, inputs)
        if hit is not None:
            self.found.add(step)
        return hit

    def find(self, step: str, inputs: dict[str, Any], validate: Any = None) -> Artifact | None:
        """An entry, found without validating it (the run itself validates what it loads)."""
        return self.lookup(step, inputs)

    def build(self, step: str, inputs: dict[str, Any], builder: Any, *args: Any, **kwargs: Any) -> Artifact:
        """The entry if it is there; otherwise the walk stops here."""
        hit = self.lookup(step, inputs)
        if hit is None:
            left = kwargs.get("units_left")
            partial = self.partial_path(step, inputs)
            if kwargs.get("resumable") and left is not None and partial.is_dir():
                self.left[step] = float(left(partial))
            raise _Missing(step)
        return hit

    def retire(self, artifact: Artifact, because: str, checks: Any = None) -> Artifact:
        """Nothing is removed while planning."""
        return artifact

    def discard(self, artifact: Artifact) -> None:
        """Nothing is removed while planning."""

    def quarantine(self, path: Path, why: str) -> Path | None:
        """Nothing is moved while planning."""
        return None


def planned_steps(spec: Any, root: Path, cache_root: Path) -> tuple[set[str], str | None, dict[str, float]]:
    """The steps of the entry's recipe found in the cache at ``cache_root`` (by step name), the
    digest recorded for its final model when every step was found (None: it is to be built), and
    the work left of a step that will resume from a partial."""
    from pytest_punie.models.recipe import StageGates, fuse_and_quantize_entry, lora_params, train_fuse_quantize
    from pytest_punie.models.tiny.tinyrecipe import build_tiny

    cache = PlanningCache(cache_root)
    e = spec.entry
    quiet = lambda _message: None  # noqa: E731
    last: Artifact | None = None
    try:
        if e.get("recipe") == "tiny":
            last = build_tiny(root, cache, e, quiet, gates=StageGates())[-1]
        elif "lora" in e and "base" in e:
            base = _abs(root, e["base"])
            data = _abs(root, e.get("data", "data"))
            params = lora_params(e["lora"], spec.source)
            last = train_fuse_quantize(cache, base, cache.digest(base), data, params, e, quiet, StageGates())[-1]
        elif "base" in e and "adapter" in e:
            last = fuse_and_quantize_entry(cache, _abs(root, e["base"]), _abs(root, e["adapter"]), e, quiet, None)[1]
    except (_Missing, PunieError, OSError, ValueError, KeyError, TypeError):
        pass  # the walk ends at the first step that would run (or that cannot be read): it is to do
    return cache.found, last.digest if last is not None else None, cache.left


def _abs(root: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else root / q
