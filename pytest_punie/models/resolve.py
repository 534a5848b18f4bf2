"""``--punie-model NAME|PATH`` -> a validated model directory and its identity.

Names come from ``[tool.punie.models.NAME]`` in pyproject.toml, or are built in
(``builtin.toml``: the embedded tiny models, from any project): a ``path``,
or a recipe (``base`` + ``adapter`` + ``bits`` + ``group_size``) that is
fused and quantized when missing, or the embedded ``tiny`` recipe, which
builds its own base and adapter first and then takes the very same
fuse + quantize path as a 30B model.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_punie.errors import ModelError
from pytest_punie.models.cache import Artifact, BuildCache
from pytest_punie.models.dataserves import EMBEDDED_DATA
from pytest_punie.models.digest import path_digest
from pytest_punie.models.recipe import (
    StageGates,
    fuse_and_quantize_entry,
    lora_params,
    quantized_gate,
    train_fuse_quantize,
)
from pytest_punie.models.steps import FusedChecks
from pytest_punie.models.tiny.tinyrecipe import build_tiny
from pytest_punie.models.validate import validate_model_dir
from pytest_punie.suite.suitetypes import EXPECT_KEYS

Log = Callable[[str], None]

RECIPE_KEYS = {
    "path",
    "base",
    "adapter",
    "bits",
    "group_size",
    "recipe",
    "arch",
    "data",
    "seed",
    "lora_iters",
    "lora_params",
    "resume",
    "description",
    "expect",
    "keep_intermediates",
    "parity_gate",
    "tool_parser_type",
    "lora",
    "seeds",
    "allow_data_errors",
    "suites",
}


@dataclass
class ModelSpec:
    """A model name or path with its registry entry and where that entry came from."""

    name: str
    entry: dict[str, Any]
    source: str  # where the entry came from


@dataclass
class ResolvedModel:
    """A model directory found or built, validated and digest-verified in this run."""

    name: str
    path: Path
    digest: str
    summary: dict[str, Any]
    builds: list[dict[str, Any]] = field(default_factory=list)
    spec_entry: dict[str, Any] = field(default_factory=dict)
    verified_s: float | None = None  # seconds it took to hash every file in this run

    def identity(self) -> dict[str, Any]:
        """The model as the results document records it: name, path, verified digest, build chain."""
        return {
            "kind": "model",
            "name": self.name,
            "path": str(self.path),
            "digest": self.digest,
            "digest_verified": None
            if self.verified_s is None
            else f"every file hashed in this run ({self.verified_s:.1f} s)",
            "model_type": self.summary.get("model_type"),
            "quantization": self.summary.get("quantization"),
            "builds": self.builds,
        }


BUILTIN = Path(__file__).with_name("builtin.toml")


def builtin_models() -> dict[str, dict[str, Any]]:
    """The embedded models every project knows by name (``tiny_5bit``, ``tiny_moe_5bit``), each
    trained on the data that ships inside the package."""
    models = tomllib.loads(BUILTIN.read_text(encoding="utf-8"))
    return {name: {**entry, "data": str(EMBEDDED_DATA.resolve())} for name, entry in models.items()}


def load_registry(root: Path, own: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every model name this project can use: the built-in ones, then its own pyproject.toml's
    (``own``: its registry, when already read), which win over a built-in of the same name."""
    return {**builtin_models(), **(project_registry(root) if own is None else own)}


def project_registry(root: Path) -> dict[str, dict[str, Any]]:
    """``[tool.punie.models]`` of the project's pyproject.toml, its keys checked."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(pyproject, None, f"invalid TOML: {exc}") from None
    models = data.get("tool", {}).get("punie", {}).get("models", {})
    for name, entry in models.items():
        unknown = set(entry) - RECIPE_KEYS
        if unknown:
            raise ModelError(pyproject, None, f"[tool.punie.models.{name}]: unknown keys {sorted(unknown)}")
        listed = entry.get("suites")
        if listed is not None and not (isinstance(listed, list) and all(isinstance(x, str) for x in listed)):
            raise ModelError(
                pyproject,
                None,
                f"[tool.punie.models.{name}]: suites must be a list of suite names or files "
                f'(the suites its data serves, e.g. ["phase33", "phase26"]), not {listed!r}',
            )
        bad = sorted(set(entry.get("expect") or {}) - set(EXPECT_KEYS))
        if bad:
            raise ModelError(
                pyproject,
                None,
                f"[tool.punie.models.{name}.expect]: unknown keys {bad} (known: {', '.join(EXPECT_KEYS)})",
            )
    return models


def registry_source(
    value: str, root: Path, table: str = "", relative: bool = False, own: dict[str, Any] | None = None
) -> str:
    """Where the entry of a model name (or its ``table``, e.g. ``.expect``) comes from, for messages:
    the project's pyproject.toml (``own``: its registry, when already read) or the built-in one."""
    if value in (project_registry(root) if own is None else own):
        where = "pyproject.toml" if relative else str(root / "pyproject.toml")
        return f"{where} [tool.punie.models.{value}{table}]"
    return f"pytest-punie's built-in {BUILTIN.name} [{value}{table}]"


def resolve_spec(value: str, root: Path) -> ModelSpec:
    """A model name (the project's, else a built-in) or a directory -> what to load or build."""
    own = project_registry(root)
    registry = load_registry(root, own)
    if value in registry:
        return ModelSpec(value, dict(registry[value]), registry_source(value, root, own=own))
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (root / path) if (root / path).exists() else path.resolve()
    if path.exists():
        return ModelSpec(value, {"path": str(path)}, "a path")
    known = ", ".join(sorted(registry)) or "none"
    raise ModelError(
        None,
        None,
        f"unknown model {value!r}: no [tool.punie.models.{value}] in pyproject.toml (known: {known}) "
        f"and no directory at {path}",
    )


def build_record(a: Artifact) -> dict[str, Any]:
    """One build step as provenance records it."""
    out = {"step": a.step, "key": a.key, "digest": a.digest, "path": str(a.path), "built_now": a.built}
    if a.retired:
        out["retired"] = a.record["retired"]
    if a.record.get("data_gate"):
        out["data_gate"] = a.record["data_gate"]  # the data lint before training, checked in this run
    if a.record.get("resumed"):
        out["resumed"] = a.record["resumed"]  # trained in two runs or more: never passed off as one
    return out


def _abs(root: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else root / q


def recipe_parts(model: ResolvedModel, root: Path) -> tuple[Path | None, Path | None]:
    """(base, adapter) the model under test was fused from: a base + adapter
    entry names them; a training recipe built the adapter (the tiny recipe its 4-bit base too)."""
    e = model.spec_entry
    if "base" in e and "adapter" in e:
        return _abs(root, e["base"]), _abs(root, e["adapter"])
    steps = {b["step"]: Path(b["path"]) for b in model.builds}
    base = _abs(root, e["base"]) if "base" in e else steps.get("q4")
    return base, steps.get("adapter")


class DamagedArtifact(Exception):
    """A cached entry found damaged: moved aside and built again, once."""

    def __init__(self, path: Path, why: str):
        self.path, self.why = path, why
        super().__init__(why)


def is_training_recipe(entry: dict[str, Any]) -> bool:
    """An entry that trains its adapter (the tiny recipe, or base + data + [lora]): seeds apply."""
    return entry.get("recipe") == "tiny" or "lora" in entry


def with_seed(spec: ModelSpec, seed: int) -> ModelSpec:
    """The same recipe trained with another ``mlx_lm lora --seed``: its own adapter, fuse and model."""
    e = dict(spec.entry)
    if e.get("recipe") == "tiny":
        e["lora_params"] = {**e.get("lora_params", {}), "seed": seed}
    elif "lora" in e:
        e["lora"] = {**e["lora"], "seed": seed}
    else:
        raise ModelError(
            None,
            None,
            f"--punie-seeds needs a training recipe: {spec.source} is "
            f"{'a finished model (path)' if 'path' in e else 'a fixed adapter (base + adapter)'}; register "
            "base + data + a [lora] table (the mlx_lm lora arguments) to train it once per seed",
        )
    return ModelSpec(f"{spec.name}[seed={seed}]", e, spec.source)


def materialize(
    spec: ModelSpec,
    root: Path,
    cache: BuildCache,
    log: Log,
    check_fused: FusedChecks | None = None,
    gates: StageGates | None = None,
) -> ResolvedModel:
    """Find or build the model directory; validate it and verify its digest
    (every file hashed in this run, never remembered) before anything loads
    it. A damaged cache entry is moved aside and built again, once; a damaged
    directory of the user's is an error that names it, never touched."""
    gates = gates or StageGates(fused=check_fused)
    try:
        return _materialize(spec, root, cache, log, gates)
    except DamagedArtifact as damaged:
        cache.quarantine(damaged.path, damaged.why)
    try:
        return _materialize(spec, root, cache, log, gates)
    except DamagedArtifact as again:
        raise ModelError(
            again.path, None, f"{again.why}, again after a rebuild; remove it with: rm -rf {again.path}"
        ) from None


def _materialize(spec: ModelSpec, root: Path, cache: BuildCache, log: Log, gates: StageGates) -> ResolvedModel:
    e = spec.entry
    builds: list[dict[str, Any]] = []
    if "path" in e:
        path = _abs(root, e["path"])
    elif e.get("recipe") == "tiny":
        artifacts = build_tiny(root, cache, e, log, gates=gates)
        builds = [build_record(a) for a in artifacts]
        path = artifacts[-1].path
    elif "lora" in e:
        if "base" not in e:
            raise ModelError(None, None, f"{spec.source}: a [lora] recipe needs base (the model to train on)")
        base = _abs(root, e["base"])
        validate_model_dir(base)
        params = lora_params(e["lora"], f"{spec.source}.lora")
        if params.get("config"):
            params["config"] = str(_abs(root, params["config"]))
        data = _abs(root, e.get("data", "data"))
        artifacts = train_fuse_quantize(cache, base, cache.digest(base), data, params, e, log, gates)
        builds = [build_record(a) for a in artifacts]
        path = artifacts[-1].path
    elif "base" in e and "adapter" in e:
        fused, quant = fuse_and_quantize_entry(
            cache, _abs(root, e["base"]), _abs(root, e["adapter"]), e, log, gates.fused
        )
        builds = [build_record(fused), build_record(quant)]
        path = quant.path
    else:
        raise ModelError(
            None, None, f'{spec.source}: give path, base + adapter, base + data + [lora], or recipe = "tiny"'
        )
    try:
        summary = validate_model_dir(path)
    except ModelError as err:
        if builds:
            raise DamagedArtifact(path, err.message) from None
        raise
    started = time.monotonic()
    digest = path_digest(path)  # no memo: what is reported is what is on disk now
    seconds = time.monotonic() - started
    if builds and digest != builds[-1]["digest"]:
        recorded = builds[-1]["digest"]
        raise DamagedArtifact(path, f"its files hash to {digest[:19]}, not the {recorded[:19]} recorded at build time")
    resolved = ResolvedModel(spec.name, path, digest, summary, builds, dict(e), verified_s=seconds)
    made_from, trained = recipe_parts(resolved, root) if builds else (None, None)
    if made_from is not None and trained is not None:
        quantized_gate(gates, path, made_from, trained, int(e.get("bits", 5)))
    return resolved
