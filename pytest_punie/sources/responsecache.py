"""Responses kept beside the build cache, so that an identical rerun generates nothing.

A response is determined by the model's files (the digest verified in this run
covers the weights, the tokenizer and its chat template, so the same messages
render to the same prompt tokens), the messages, the sampling, the backend
kind and the mlx / mlx-lm versions: the key is the sha256 of all of them.
Only deterministic requests are kept (temperature 0, or a seed). An entry
names its artifact digest and is never served to another. Entries are written
as each response completes, so an interrupted run resumes from what it had.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_punie.backends import ChatRequest, ResponseRecord
from pytest_punie.provenance import versions_of

if TYPE_CHECKING:
    from pytest_punie.sources.sourceoptions import SourceOptions

FORMAT = (
    "pytest-punie/response/3"  # 2: in-process responses record their first position; 3: with the wrapper log-likelihood
)


class ResponseCache:
    """Responses kept by everything that determines them, so an identical rerun generates nothing."""

    def __init__(self, root: Path, artifact_digest: str, backend_kind: str):
        self.digest = artifact_digest
        self.backend_kind = backend_kind
        self.versions = versions_of("mlx", "mlx-lm")
        self.folder = root / "responses" / artifact_digest.removeprefix("sha256:")[:24]
        self.hits = 0
        self.misses = 0

    def key_material(self, request: ChatRequest) -> dict[str, Any]:
        """Everything that determines a response: the artifact's digest, messages, sampling, backend, versions."""
        sampling = request.sampling.as_dict()
        sampling.pop("timeout_s")  # how long we wait does not change what is generated
        return {
            "artifact_digest": self.digest,
            "messages": list(request.messages),
            "sampling": sampling,
            "backend": self.backend_kind,
            "versions": self.versions,
        }

    def key(self, request: ChatRequest) -> str:
        """The cache key: the digest of the key material."""
        blob = json.dumps(self.key_material(request), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @staticmethod
    def cacheable(request: ChatRequest) -> bool:
        """Greedy or seeded: the same request gives the same response."""
        return request.sampling.temperature == 0 or request.sampling.seed is not None

    def get(self, request: ChatRequest) -> ResponseRecord | None:
        """A kept response for this exact request, never one made for another artifact."""
        if not self.cacheable(request):
            return None
        path = self.folder / f"{self.key(request)}.json"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("artifact_digest") != self.digest:
            return None  # never another artifact's response, never a damaged entry
        response = entry.get("response")
        if not isinstance(response, dict):
            return None
        response.setdefault("punie", {})["from_cache"] = True
        return ResponseRecord(response=response, seconds=entry.get("seconds"))

    def put(self, request: ChatRequest, record: ResponseRecord) -> None:
        """Keep a response (never an error or a timeout: those are retried next run)."""
        if record.error is not None or record.response is None or not self.cacheable(request):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {
            "format": FORMAT,
            "artifact_digest": self.digest,
            "key": self.key_material(request),
            "seconds": record.seconds,
            "response": record.response,
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, ensure_ascii=False)
        os.replace(tmp, self.folder / f"{self.key(request)}.json")  # whole or absent, even if interrupted

    def summary(self) -> dict[str, Any]:
        """Hits and misses, for the results document."""
        instance = f"{os.getpid()}:{id(self)}"  # one cache shared by two variants is counted once
        return {"hits": self.hits, "misses": self.misses, "folder": str(self.folder), "instance": instance}


def kept_responses(opts: SourceOptions, digest: str | None, backend_kind: str) -> Any:
    """The responses kept for this verified artifact and backend (None: --punie-no-cache)."""
    if not digest or opts.no_cache:
        return None
    from pytest_punie.models.cache import default_cache_dir

    return ResponseCache(default_cache_dir(opts.root), digest, backend_kind)
