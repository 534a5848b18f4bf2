"""What every printed number can be traced to: versions, host, time."""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata

PACKAGES = ("pytest-punie", "pytest", "pytest-xdist", "mlx", "mlx-lm", "transformers", "tokenizers")


def versions_of(*names: str) -> dict[str, str | None]:
    """Installed versions, read from metadata (None: not installed): no import needed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def package_versions() -> dict[str, str | None]:
    return {"python": platform.python_version(), **versions_of(*PACKAGES)}


def host() -> dict[str, str]:
    return {"system": platform.system(), "machine": platform.machine(), "node": platform.node()}


def now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
