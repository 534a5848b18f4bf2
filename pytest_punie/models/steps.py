"""The users' pipeline, run for real: ``mlx_lm convert``, ``lora``, ``fuse``.

Each step is the command the Punie team runs by hand, as a subprocess with
its output kept in the artifact (``command.log``), so checks and humans can
read exactly what happened.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.blas import blas_name, subprocess_env
from pytest_punie.children import child_setup, stop
from pytest_punie.errors import ModelError
from pytest_punie.models.cache import Artifact, BuildCache
from pytest_punie.models.gates import GateStopped
from pytest_punie.models.logformat import ANSI, is_progress_line
from pytest_punie.models.validate import validate_model_dir
from pytest_punie.provenance import versions_of

Log = Callable[[str], None]


def mlx_lm(
    args: list[str],
    log_path: Path,
    log: Log,
    progress: Callable[[str], bool] | None = None,
    runner: list[str] | None = None,
) -> None:
    """Run ``python -m mlx_lm ARGS`` (or ``runner`` + ARGS); stream chosen lines to ``log``; raise on failure."""
    cmd = [sys.executable, "-m", "mlx_lm", *args] if runner is None else [sys.executable, *runner, *args]
    hf_cache = log_path.parent / ".hf-cache"
    hf_cache.mkdir(exist_ok=True)
    env = subprocess_env({"HF_HUB_CACHE": str(hf_cache), "PYTHONUNBUFFERED": "1"})
    with open(log_path, "w", encoding="utf-8", buffering=1) as out:  # line by line: a kill loses no line
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=child_setup()
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                if progress and progress(line):
                    log("  " + ANSI.sub("", line).rstrip())
            code = proc.wait()
        except BaseException:  # Ctrl-C, or an error here: the step dies with us
            stop(proc, grace=2.0)
            raise
    shutil.rmtree(hf_cache, ignore_errors=True)
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise ModelError(log_path, None, f"mlx_lm {args[0]} failed (exit {code}):\n    " + "\n    ".join(tail))


def quantize(src: Path, dst: Path, bits: int, group_size: int, log: Log) -> dict[str, Any]:
    """``mlx_lm convert -q``; convert insists on creating its output folder."""
    out = dst / "model"
    mlx_lm(
        [
            "convert",
            "--hf-path",
            str(src),
            "--mlx-path",
            str(out),
            "-q",
            "--q-bits",
            str(bits),
            "--q-group-size",
            str(group_size),
        ],
        dst / "command.log",
        log,
    )
    _flatten(out, dst)
    return {"bits": bits, "group_size": group_size}


def lora(
    base: Path, data: Path, dst: Path, params: dict[str, Any], log: Log, partial: Path | None = None
) -> dict[str, Any]:
    """``mlx_lm lora --train``, run by mlx-lm through ``lorarun`` (which saves the training state
    beside each checkpoint); writes adapters.safetensors, checkpoints, adapter_config.json, train.log.
    With ``partial`` (what an interrupted build of the same inputs left, ``models.resume``), it
    resumes from its last checkpoint that continues exactly and trains only the iterations left."""
    from pytest_punie.models import resume, trainstate

    planned = int(params.get("iters", 1000))  # mlx-lm's own default
    start = resume.start_of(partial, planned) if partial is not None else None
    runner = ["-m", "pytest_punie.models.lorarun", "--punie-total", str(planned)]
    began = time.monotonic()
    if start is None:
        mlx_lm(_lora_args(base, data, dst, params), dst / "train.log", log, progress=is_progress_line, runner=runner)
        _drop_optimizer_states(dst)
        return {"params": params, "work_units": planned}
    at = start.iteration
    for c in resume.whole_checkpoints(partial) if partial is not None else []:
        if c.iteration <= at:
            shutil.copy2(c.path, dst / c.path.name)
            if c.state is not None:
                for f in (c.state, c.state.parent / trainstate.load(c.state)["optimizer"]):
                    shutil.copy2(f, dst / f.name)
    shutil.copy2(start.path.parent / "adapter_config.json", dst / "adapter_config.json")  # the first run's: iters M
    saved = trainstate.load(start.state) if start.state is not None else None
    what = trainstate.RESTORED if saved is not None else trainstate.WEIGHTS_ONLY
    kept = resume.log_until(start.path.parent / "train.log", at)
    (dst / "train.log").write_text("".join(kept) + resume.marker(at, planned, start.path.name, what), encoding="utf-8")
    (dst / resume.RESUME_RECORD).write_text(json.dumps({"at": at, "of": planned}), encoding="utf-8")
    inner = dst / resume.RESUMED_RUN
    inner.mkdir()
    log(f"resuming the adapter at iteration {at} of {planned} from {start.path.name}: {what}")
    rest = {**params, "iters": planned - at}
    args = [*_lora_args(base, data, inner, rest), "--resume-adapter-file", str(dst / start.path.name)]
    if saved is not None:
        runner += ["--punie-start", str(at), "--punie-state", str(dst / trainstate.json_name(at))]
    mlx_lm(args, inner / "train.log", lambda line: log(resume.shown(line, at)), is_progress_line, runner)
    resume.settle(dst)  # its checkpoints under their true iterations, its weights and log beside them
    _drop_optimizer_states(dst)
    resumed: dict[str, Any] = {"at": at, "of": planned, "from": start.path.name, "iterations_run": planned - at}
    resumed |= trainstate.what_was_restored(exact=saved is not None)
    resumed["parts"] = [*(saved or {}).get("parts", []), _part(at, planned, began)]  # each process's wall time
    return {"params": params, "resumed": resumed, "work_units": planned - at}


def _drop_optimizer_states(folder: Path) -> None:
    """A finished training's optimizer states removed (twice the adapter's size each, needed only to
    resume an unfinished run); the small state records stay, saying how each checkpoint was reached."""
    for f in folder.glob("*_optimizer.safetensors"):
        f.unlink()


def _part(start: int, end: int, began: float) -> dict[str, Any]:
    """One training process's share of the build: its iterations and wall time."""
    return {"from": start, "to": end, "seconds": round(time.monotonic() - began, 3)}


def _lora_args(base: Path, data: Path, dst: Path, params: dict[str, Any]) -> list[str]:
    """The ``mlx_lm lora --train`` command line for these parameters."""
    args = ["lora", "--train", "--model", str(base), "--data", str(data), "--adapter-path", str(dst)]
    for name, value in params.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, str(value)]
    return args


def fuse(base: Path, adapter_file: Path, adapter_config: Path, dst: Path, log: Log) -> dict[str, Any]:
    """``mlx_lm fuse --dequantize`` of one adapter file (any checkpoint) into its base."""
    staged = dst / "_adapter"
    staged.mkdir()
    shutil.copy(adapter_file, staged / "adapters.safetensors")
    shutil.copy(adapter_config, staged / "adapter_config.json")
    out = dst / "model"
    mlx_lm(
        ["fuse", "--model", str(base), "--adapter-path", str(staged), "--save-path", str(out), "--dequantize"],
        dst / "command.log",
        log,
    )
    shutil.rmtree(staged)
    _flatten(out, dst)
    return {}


def _flatten(src: Path, dst: Path) -> None:
    for item in src.iterdir():
        shutil.move(str(item), dst / item.name)
    src.rmdir()


def set_tool_parser_type(model_dir: Path, parser: str) -> None:
    """The registry's ``tool_parser_type``, written into the built model's tokenizer_config.json,
    where mlx-lm reads it (the fix the tool-parser preflight proposes, applied at the source)."""
    path = model_dir / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["tool_parser_type"] = parser
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def weights_bytes(model_dir: Path) -> int:
    """The size of a model's weights, for the free-space check before a build."""
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))


def fuse_space_needed(base: Path) -> int:
    """Bytes a dequantized fuse writes: the base's weights at their float width."""
    cfg = json.loads((base / "config.json").read_text())
    bits = (cfg.get("quantization") or {}).get("bits")
    width = 32 if str(cfg.get("torch_dtype", "")).endswith("float32") else 16
    factor = width / bits if bits else 1.0
    return int(weights_bytes(base) * factor * 1.1)


def check_free_space(where: Path, needed: int) -> None:
    """Before the first step of a chain: enough room for all of it, or one clear error now."""
    where.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(where).free
    if free < needed:
        raise ModelError(
            where,
            None,
            f"not enough free disk for this build (fuse --dequantize, then quantize): needs {needed / 1e9:.2f} GB, "
            f"has {free / 1e9:.2f} GB",
        )


def adapter_parts(adapter: Path) -> tuple[Path, Path]:
    """(weights file, adapter_config.json) for an adapter dir or a checkpoint file."""
    if adapter.is_dir():
        weights, cfg = adapter / "adapters.safetensors", adapter / "adapter_config.json"
    else:
        weights, cfg = adapter, adapter.parent / "adapter_config.json"
    for p in (weights, cfg):
        if not p.is_file():
            raise ModelError(p, None, "adapter file missing")
    return weights, cfg


FusedChecks = Callable[[Path, Path, Path], dict[str, list[str]]]


def chain_space_needed(base: Path, bits: int, fuse: bool) -> int:
    """Bytes the fuse + quantize chain holds at its peak: the dequantized fuse and the quantized model."""
    fused = fuse_space_needed(base)
    quantized = int(fused / 16 * (bits + 1))  # bits per weight + scales and biases, from 16-bit weights
    return (fused if fuse else 0) + quantized


def _quantize_step(src: Path, out: Path, bits: int, group_size: int, log: Log, tool_parser_type: str | None) -> Any:
    """``mlx_lm convert -q``, then the registry's tool parser written into what it made."""
    made = quantize(src, out, bits, group_size, log)
    if tool_parser_type:
        set_tool_parser_type(out, tool_parser_type)
    return made


def _fused_gate(check_fused: FusedChecks, fused: Path, base: Path, adapter: Path) -> dict[str, list[str]]:
    """The users' exit gate after fusing: the fused model's checks pass before anything is quantized."""
    checks = check_fused(fused, base, adapter)
    problems = [f"{name}: {p}" for name, found in checks.items() for p in found]
    if problems:
        raise GateStopped(
            "fused checks (before quantizing)",
            fused,
            problems,
            "Nothing was quantized; the fused model is kept in the cache to read.",
        )
    return checks


def fuse_and_quantize(
    cache: BuildCache,
    base: Path,
    adapter: Path,
    bits: int,
    group_size: int,
    log: Log,
    keep_intermediates: bool = False,
    check_fused: FusedChecks | None = None,
    tool_parser_type: str | None = None,
) -> tuple[Artifact, Artifact]:
    """The production path: fuse (dequantized) then quantize, both content-addressed. Once the
    quantized model is built and verified, the dequantized fuse is removed (its record, digest
    and the checks ``check_fused`` ran on it are kept) unless ``keep_intermediates``."""
    weights, cfg = adapter_parts(adapter)
    versions = versions_of("mlx", "mlx-lm")
    fused_inputs = {
        "base": cache.digest(base),
        "adapter": cache.digest(weights),
        "adapter_config": cache.digest(cfg),
        "dequantize": True,
        "versions": versions,
        "blas": blas_name(),
    }

    def quant_inputs(fused_digest: str) -> dict[str, Any]:
        out = {"model": fused_digest, "bits": bits, "group_size": group_size, "versions": versions, "blas": blas_name()}
        # a registry key written into the artifact: its digest and record include it
        return {**out, "tool_parser_type": tool_parser_type} if tool_parser_type else out

    fused = cache.lookup("fused", fused_inputs)
    if fused is not None and fused.retired:
        quant = cache.find(f"q{bits}", quant_inputs(fused.digest), validate_model_dir)
        if quant is not None and not keep_intermediates:
            return fused, quant
        cache.discard(fused)  # needed again (asked to keep it, or its quantized model is gone)
        fused = None
    if fused is None or cache.lookup(f"q{bits}", quant_inputs(fused.digest)) is None:
        validate_model_dir(base)  # a damaged base fails here, named, not as an mlx_lm traceback
        check_free_space(cache.root, chain_space_needed(base, bits, fuse=fused is None))
    built = cache.build(
        "fused", fused_inputs, lambda out: fuse(base, weights, cfg, out, log), validate=validate_model_dir
    )
    checks = None
    if check_fused is not None and cache.lookup(f"q{bits}", quant_inputs(built.digest)) is None:
        checks = _fused_gate(check_fused, built.path, base, adapter)
    quant = cache.build(
        f"q{bits}",
        quant_inputs(built.digest),
        lambda out: _quantize_step(built.path, out, bits, group_size, log, tool_parser_type),
        validate=validate_model_dir,
    )
    if keep_intermediates:
        return cache.keep(built), quant  # kept for good: a sweep sharing this fuse leaves it whole
    validate_model_dir(quant.path)  # the next step's output, whole, before its input goes
    if checks is None and check_fused is not None:
        checks = check_fused(built.path, base, adapter)
    because = f"quantized into {quant.path.name} ({quant.digest[:19]}), verified"
    return cache.retire(built, because, checks), quant
