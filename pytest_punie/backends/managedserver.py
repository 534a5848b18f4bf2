"""A managed ``mlx_lm server``: started on a free loopback port, owned by this run, stopped with it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_punie.children import child_setup, listener_pids, stop
from pytest_punie.errors import ModelError


def free_port() -> int:
    """A loopback port nobody listens on now, for a managed server to take."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedServer:
    """``python -m mlx_lm server`` on a free loopback port, owned by this run."""

    def __init__(self, model_path: Path, log_dir: Path | None = None, startup_timeout: float = 180.0):
        self.model_path = Path(model_path)
        self.own_log_dir = log_dir is None  # a directory we made is removed when the server stops
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="punie-server-"))
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Where the started server answers."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ManagedServer:
        """Starts the server and waits until our own child answers /health (never a foreign one on the port)."""
        import httpx

        from pytest_punie.blas import subprocess_env

        hf_cache = self.log_dir / "hf-cache"  # /v1/models crashes when the HF cache folder is missing
        hf_cache.mkdir(parents=True, exist_ok=True)
        env = subprocess_env({"HF_HUB_CACHE": str(hf_cache)})
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_dir / f"server-{self.port}.log", "wb")
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlx_lm",
                    "server",
                    "--model",
                    str(self.model_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=child_setup(),
            )
            log.close()
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # died: port taken or model unloadable; try again, then report
                pids = listener_pids(self.port)
                if pids and self.proc.pid not in pids:
                    last = f"port {self.port} is answered by process {sorted(pids)}, not by our server"
                    break  # a foreign server took the port first: never talk to it
                try:
                    ready = httpx.get(f"{self.url}/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready and self.proc.poll() is None and self._owned():
                    return self
                time.sleep(0.1)
            else:
                last = "no answer on /health in time"
            log_text = (self.log_dir / f"server-{self.port}.log").read_text(errors="replace")[-800:]
            last = f"{last}\n{log_text}"
            self._stop_process()
        self.stop()
        raise ModelError(self.model_path, None, f"mlx_lm server did not become ready:\n{last}")

    def _owned(self) -> bool:
        """The socket that answered belongs to our child (where the machine can tell)."""
        assert self.proc is not None and self.port is not None
        pids = listener_pids(self.port)
        return pids is None or pids == {self.proc.pid}

    def _stop_process(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def stop(self) -> None:
        """Stops the server and removes the temporary folder this run made for it."""
        self._stop_process()
        if self.own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)


def stop_pid(pid: int) -> None:
    """Stop a server another process of this run started."""
    try:
        os.kill(pid, 15)
    except OSError:
        pass
