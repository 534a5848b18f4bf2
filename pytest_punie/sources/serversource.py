"""Responses from servers: the run's one managed server shared by xdist workers (file lock and state
file in a run directory the controller made: the first worker that needs it starts it, the
controller stops it), the server this process owns, and external OpenAI-compatible endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.responsecache import kept_responses
from pytest_punie.sources.sourceoptions import SourceOptions

SERVER_STATE = "server.json"


def shared_server_url(run_dir: Path, model_path: Path) -> str:
    """The run's one server: started by whichever worker gets here first."""
    from filelock import FileLock

    from pytest_punie.backends.managedserver import ManagedServer

    state = run_dir / SERVER_STATE
    with FileLock(str(run_dir / "server.lock")):
        if state.is_file():
            info = json.loads(state.read_text())
            if info["model"] != str(model_path):
                raise PunieError(state, None, f"the run's server serves {info['model']}, not {model_path}")
            return str(info["url"])
        server = ManagedServer(model_path, log_dir=run_dir).start()
        assert server.proc is not None
        state.write_text(json.dumps({"url": server.url, "pid": server.proc.pid, "model": str(model_path)}))
        return server.url


def stop_shared_server(run_dir: Path) -> None:
    """Stops the server xdist workers shared, at the end of the run."""
    from pytest_punie.backends.managedserver import stop_pid

    state = run_dir / SERVER_STATE
    if state.is_file():
        stop_pid(int(json.loads(state.read_text())["pid"]))


class OwnedServerBackend:
    """An HTTP backend whose server this process started and stops."""

    def __init__(self, http: Any, server: Any):
        self.http = http
        self.server = server

    def identity(self) -> dict[str, Any]:
        """The server's identity."""
        return self.http.identity()

    def complete(self, requests: list[Any], on_result: Any = None) -> list[Any]:
        """The requests asked of the server this run started."""
        return self.http.complete(requests, on_result)

    def close(self) -> None:
        """Stops the server this run started."""
        self.server.stop()


def external_source(opts: SourceOptions, overrides: dict[str, Any]) -> ResponseSource:
    """One or several external endpoints serving the model under test. Each is asked what it serves
    (``/v1/models``); endpoints that disagree make the run refuse, naming the models and endpoints."""
    from pytest_punie.backends.endpointpool import EndpointPool
    from pytest_punie.backends.httpclient import MAX_CONNECTIONS, HttpBackend
    from pytest_punie.sources.modelsource import ModelSource

    urls = list(opts.server_urls)
    names = list(opts.server_models or [])
    if not names:
        raise PunieError(
            None,
            None,
            "--punie-server-url needs --punie-server-model NAME: the model the server "
            "must answer for (the first id of /v1/models is never assumed)",
        )
    if len(names) not in (1, len(urls)):
        raise PunieError(
            None,
            None,
            f"{len(urls)} --punie-server-url and {len(names)} --punie-server-model: give one name, or one per URL",
        )
    names = names * len(urls) if len(names) == 1 else names
    # with the model's tokenizer the generated text is read back from the token ids (logprobs),
    # so a call the server dropped is seen and measured instead of unknown
    tokenizer_file, read_with = reading_tokenizer(opts.tokenizer, names)
    connections = int(opts.server_concurrency or MAX_CONNECTIONS)
    backends = [
        HttpBackend(u, n, connections=connections, tokenizer_file=tokenizer_file)
        for u, n in zip(urls, names, strict=True)
    ]
    reported = [b.reported_models() for b in backends]
    pool = EndpointPool(backends, reported) if len(backends) > 1 else None
    refused = pool.disagreement(reported) if pool is not None else None
    if refused:
        raise PunieError(None, None, refused)
    folder = None if opts.no_cache else served_folder(urls, names)
    identity: dict[str, Any] = {"kind": "external-server", "name": names[0]}
    if read_with is not None:
        identity["tokenizer"] = read_with
    kept = None
    if folder is not None:  # what reads the replies back is part of what a kept response is
        from pytest_punie.models.cache import BuildCache, default_cache_dir

        cache = BuildCache(default_cache_dir(opts.root))
        identity["served_files"] = {"path": str(folder), "digest": cache.digest(folder)}
        read = tokenizer_file if tokenizer_file and tokenizer_file.is_file() else None
        read_by = cache.digest(read) if read else "no tokenizer"
        kept = kept_responses(opts, identity["served_files"]["digest"], f"external-server, read with {read_by}")
    if pool is None:
        identity["reported_models"] = reported[0]
        return ModelSource(backends[0], identity, overrides, response_cache=kept)
    identity["reported_models"] = {b.url: r for b, r in zip(backends, reported, strict=True)}
    return ModelSource(pool, identity, overrides, response_cache=kept)


def reading_tokenizer(given: str | None, names: list[str]) -> tuple[Path | None, dict[str, Any] | None]:
    """The tokenizer that reads a server's token ids back as text, and its provenance record:
    ``--punie-tokenizer``, else the served model's own folder when ``--punie-server-model`` names a
    model folder on this machine (mlx_lm server names its model by its path), else none."""
    from pytest_punie.models.digest import path_digest

    if given:
        path, source = Path(given) / "tokenizer.json", "--punie-tokenizer"
    else:
        folder = Path(names[0]) if len(set(names)) == 1 else None
        if folder is None or not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
            return None, None
        path, source = folder.resolve() / "tokenizer.json", "the --punie-server-model folder"
    digest = path_digest(path) if path.is_file() else None
    return path, {"path": str(path), "from": source, "digest": digest}


def served_folder(urls: list[str], names: list[str]) -> Path | None:
    """The model folder servers on this machine say they serve (mlx_lm server names its model by
    its path): responses are kept by its digest, so a rerun after the endpoints went away sends
    only what was not answered. None (nothing kept) for a server elsewhere or a name that is not a
    model folder here: what it serves cannot be verified from here."""
    from urllib.parse import urlsplit

    if len(set(names)) != 1 or any(urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1") for u in urls):
        return None
    folder = Path(names[0])
    return folder if folder.is_absolute() and (folder / "config.json").is_file() else None
