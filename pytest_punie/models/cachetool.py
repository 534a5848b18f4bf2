"""What the build cache holds, and pruning it: ``python -m pytest_punie cache [list|prune]``.

At the users' size a build is tens of GB: they must see what each entry is, how big and
how old, what built it, and free space without guessing. Entries are ``<step>/<key>``
folders with a build record; a lookup marks an entry used (the record's mtime). Models
resolved by name are remembered in ``models.json`` (name -> the entries it used), so
``prune --unused`` keeps exactly what the registered models need.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_punie.models.cache import MARKER, tree_bytes

MODELS_INDEX = "models.json"
NOT_ENTRIES = {"npm", "responses", "preflight", "datalint", "partial", "locks", "tmp", "damaged", "failed"}


@dataclass(frozen=True)
class Entry:
    """One built artifact in the cache."""

    step: str
    """The pipeline step that built it (fused, q5, adapter, ...)."""
    path: Path
    """Its folder."""
    bytes: int
    """Bytes on disk now."""
    created: str
    """When it was built (UTC)."""
    used: float
    """When it was last looked up (epoch seconds)."""
    retired: bool
    """An intermediate whose files were removed (its record kept)."""
    record: dict[str, Any]
    """Its build record."""


def entries(root: Path) -> list[Entry]:
    """Every build entry under ``root``, oldest use first."""
    out: list[Entry] = []
    if not root.is_dir():
        return out
    for step in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in NOT_ENTRIES):
        for folder in sorted(p for p in step.iterdir() if p.is_dir()):
            marker = folder / MARKER
            try:
                record = json.loads(marker.read_text(encoding="utf-8"))
                used = marker.stat().st_mtime
            except (OSError, ValueError):
                continue
            out.append(
                Entry(
                    step.name,
                    folder,
                    tree_bytes(folder),
                    str(record.get("created", "?")),
                    used,
                    "retired" in record,
                    record,
                )
            )
    return sorted(out, key=lambda e: e.used)


def remember_model(root: Path, name: str, paths: list[str]) -> None:
    """Note which entries a registered model resolved to (for ``prune --unused``)."""
    index = root / MODELS_INDEX
    try:
        known = json.loads(index.read_text(encoding="utf-8"))
        assert isinstance(known, dict)
    except (OSError, ValueError, AssertionError):
        known = {}
    known[name] = {"paths": paths, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    root.mkdir(parents=True, exist_ok=True)
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, index)


def usage_line(root: Path) -> str:
    """The cache's size, said after a build."""
    found = entries(root)
    total = sum(e.bytes for e in found)
    return (
        f"build cache: {size_text(total)} in {len(found)} entries under {root} "
        "(python -m pytest_punie cache lists them; cache prune frees space)"
    )


def size_text(n: float) -> str:
    """A size in bytes as people read it (KB, MB, GB)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} GB"


def _age(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} d" if days >= 1 else f"{seconds / 3600:.1f} h"


def describe(e: Entry) -> str:
    """What built an entry, in one line."""
    inputs = e.record.get("inputs") or {}
    parts = [f"{k}={str(v)[:19]}" for k, v in inputs.items() if k in ("model", "base", "adapter", "bits", "seed")]
    if e.retired:
        parts.insert(0, f"removed: {e.record['retired'].get('because')}")
    return ", ".join(parts)


def list_lines(root: Path) -> list[str]:
    """``cache list``: one row per entry."""
    found = entries(root)
    now = time.time()
    lines = [f"{'step':<12} {'key':<12} {'size':>9} {'used':>7}  built / what"]
    for e in found:
        lines.append(
            f"{e.step:<12} {e.path.name[:12]:<12} {size_text(e.bytes):>9} {_age(now - e.used):>7}  "
            f"{e.created} {describe(e)}"
        )
    lines.append(f"{len(found)} entries, {size_text(sum(e.bytes for e in found))} under {root}")
    return lines


def to_prune(
    root: Path,
    older_than_days: float | None = None,
    keep_last: int | None = None,
    unused: bool = False,
    registered: set[str] | None = None,
) -> list[Entry]:
    """The entries a prune removes: unused for longer than ``older_than_days``, beyond the
    ``keep_last`` most recently used of each step, or used by no registered model."""
    found = entries(root)
    now = time.time()
    drop: dict[Path, Entry] = {}
    if older_than_days is not None:
        drop.update({e.path: e for e in found if now - e.used > older_than_days * 86400})
    if keep_last is not None:
        by_step: dict[str, list[Entry]] = {}
        for e in found:
            by_step.setdefault(e.step, []).append(e)
        for group in by_step.values():
            drop.update({e.path: e for e in sorted(group, key=lambda e: e.used, reverse=True)[keep_last:]})
    if unused:
        try:
            known = json.loads((root / MODELS_INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        names = registered if registered is not None else set(known)
        keep = {str(Path(p)) for n, v in known.items() if n in names for p in v.get("paths", [])}
        drop.update({e.path: e for e in found if str(e.path) not in keep})
    return sorted(drop.values(), key=lambda e: e.used)
