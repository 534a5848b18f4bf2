"""Child processes that die with the run (and hear its Ctrl-C), and proof of who listens on a port.

A managed ``mlx_lm server`` or an ``mlx_lm lora`` must not outlive the pytest
that started it (a SIGKILLed pytest leaves no one to stop them), and a
server is ours only when the socket that answers belongs to our child, not
because it answered in time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn`` for a child this run may have to interrupt or stop: SIGINT back at its
    default (a run started with SIGINT ignored, as a shell's background job is, must not pass that
    on: the child would sit through a Ctrl-C) and, on Linux, SIGTERM when its parent dies (``prctl``)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def preexec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return preexec


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate, then kill after ``grace`` seconds; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the listening TCP sockets on ``port`` (Linux /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def listener_pids(port: int) -> set[int] | None:
    """PIDs of the processes listening on ``port``: Linux /proc, else ``lsof``;
    None when this machine cannot tell."""
    if Path("/proc/net/tcp").is_file():
        inodes = _socket_inodes(port)
        pids = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(pid))
        return pids
    try:
        out = subprocess.run(
            ["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fp"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {int(line[1:]) for line in out.stdout.splitlines() if line.startswith("p")}
