"""What every printed number can be traced to: versions, host, time, file digests."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("pytest-punie", "pytest", "pytest-xdist", "mlx", "mlx-lm", "transformers", "tokenizers", "pydantic-monty")


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
    """Python's and the packages' versions, recorded with every result."""
    return {"python": platform.python_version(), **versions_of(*PACKAGES)}


def host() -> dict[str, str]:
    """The machine a run ran on, recorded with every result."""
    return {"system": platform.system(), "machine": platform.machine(), "node": platform.node()}


def host_name() -> str:
    """The machine a process runs on, as a sweep's provenance names it: its node name, and the
    address it was reached at when it runs in an ssh session (xdist's ``--tx ssh=...``), so that
    two ssh hosts of one machine (loopback addresses) are told apart."""
    reached = reached_over_ssh()
    return f"{platform.node()} (ssh {reached})" if reached else platform.node()


def reached_over_ssh() -> str | None:
    """The address this process's ssh session came in at (sshd's SSH_CONNECTION), if any."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    return parts[2] if len(parts) == 4 else None


def now_utc() -> str:
    """The time a run is stamped with, in UTC to the second."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex), read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """A file's identity as documents record it: ``sha256:<hex>``."""
    return "sha256:" + file_sha256(path)
