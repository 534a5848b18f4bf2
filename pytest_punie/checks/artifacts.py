"""Checks of adapter directories and fused / quantized model directories,
in mlx-lm's real formats (``lora_parameters`` with rank and scale, not
PEFT's ``r`` / ``lora_alpha``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_punie.errors import ModelError
from pytest_punie.models.validate import read_safetensors_header, validate_model_dir

CHECKPOINT = re.compile(r"^(\d{7})_adapters\.safetensors$")


def check_adapter(directory: Path) -> tuple[list[str], list[str]]:
    """(problems, checkpoints) of an mlx-lm adapter directory."""
    problems: list[str] = []
    cfg_path = directory / "adapter_config.json"
    weights = directory / "adapters.safetensors"
    if not cfg_path.is_file():
        return [f"{cfg_path}: missing"], []
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError as exc:
        return [f"{cfg_path}: invalid JSON: {exc}"], []
    kind = cfg.get("fine_tune_type", "lora")
    params = cfg.get("lora_parameters")
    if kind in ("lora", "dora"):
        if not isinstance(params, dict) or not {"rank", "scale"} <= set(params):
            problems.append(f"{cfg_path}: lora_parameters must have rank and scale (mlx-lm format), found {params!r}")
        elif not (isinstance(params["rank"], int) and params["rank"] > 0):
            problems.append(f"{cfg_path}: lora_parameters.rank must be a positive integer, found {params['rank']!r}")
    checkpoints = sorted(p.name for p in directory.iterdir() if CHECKPOINT.match(p.name))
    for name in ["adapters.safetensors", *checkpoints]:
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            header = read_safetensors_header(path)
        except ModelError as err:
            problems.append(err.describe())
            continue
        if not any("lora_a" in k or "lora_b" in k for k in header):
            problems.append(f"{path}: no lora_a / lora_b tensors")
    if not weights.is_file():
        return problems, checkpoints
    iters, every = cfg.get("iters"), cfg.get("save_every")
    if isinstance(iters, int) and isinstance(every, int) and every > 0:
        expected = [f"{i:07d}_adapters.safetensors" for i in range(every, iters + 1, every)]
        missing = [c for c in expected if c not in checkpoints]
        if missing:
            problems.append(
                f"{directory}: checkpoints missing for save_every={every}, iters={iters}: {', '.join(missing)}"
            )
    return problems, checkpoints


def check_model(directory: Path, bits: int | None = None, group_size: int | None = None) -> list[str]:
    """A fused or quantized model directory: whole, tokenizer and template
    present, eos ids set, quantized as expected."""
    try:
        summary = validate_model_dir(directory)
    except ModelError as err:
        return [err.describe()]
    problems = []
    config = json.loads((directory / "config.json").read_text())
    eos = config.get("eos_token_id")
    if eos in (None, [], ""):
        problems.append(f"{directory / 'config.json'}: no eos_token_id")
    gen = directory / "generation_config.json"
    if gen.is_file():
        g = json.loads(gen.read_text()).get("eos_token_id")
        as_set = lambda v: set(v) if isinstance(v, list) else {v}  # noqa: E731
        if g is not None and eos is not None and not as_set(g) <= as_set(eos):
            problems.append(f"{gen}: eos_token_id {g} not in config.json's {eos}")
    template = (directory / "chat_template.jinja").is_file() or "chat_template" in _json(
        directory / "tokenizer_config.json"
    )
    if not template:
        problems.append(f"{directory}: no chat template (chat_template.jinja or tokenizer_config.json)")
    q: dict[str, Any] = summary.get("quantization") or {}
    if bits is not None and q.get("bits") != bits:
        problems.append(f"{directory / 'config.json'}: quantization bits {q.get('bits')}, expected {bits}")
    if group_size is not None and q.get("group_size") != group_size:
        problems.append(
            f"{directory / 'config.json'}: quantization group_size {q.get('group_size')}, expected {group_size}"
        )
    return problems


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}


def adapter_applied(fused: Path, base: Path, adapter: Path) -> list[str]:
    """The fused weights differ from the base where the adapter has LoRA tensors."""
    import mlx.core as mx

    lora: dict[str, Any] = mx.load(str(adapter / "adapters.safetensors") if adapter.is_dir() else str(adapter))  # type: ignore[assignment]
    targets = sorted({k.rsplit(".lora_", 1)[0] for k in lora if ".lora_" in k})
    if not targets:
        return [f"{adapter}: no LoRA tensors"]
    fused_w = _weights(fused)
    base_w = _weights(base)
    base_cfg = json.loads((base / "config.json").read_text()).get("quantization") or {}
    changed = 0
    for t in targets:
        key = f"{t}.weight"
        if key not in fused_w or key not in base_w:
            continue
        b = base_w[key]
        if f"{t}.scales" in base_w:
            # a layer may carry its own quantization (mlx-lm keeps MoE routers at 8 bits)
            own = base_cfg.get(t)
            q: dict[str, Any] = own if isinstance(own, dict) else base_cfg
            b = mx.dequantize(
                b,
                base_w[f"{t}.scales"],
                base_w.get(f"{t}.biases"),
                group_size=q.get("group_size", 64),
                bits=q.get("bits", 4),
            )
        f = fused_w[key]
        if f"{t}.scales" in fused_w:
            continue  # compare unquantized fused weights only
        if b.shape == f.shape and not mx.allclose(b.astype(mx.float32), f.astype(mx.float32), atol=1e-6).item():
            changed += 1
    if changed == 0:
        return [f"{fused}: weights equal the base's at all {len(targets)} LoRA targets: the adapter was not applied"]
    return []


def _weights(directory: Path) -> dict[str, Any]:
    import mlx.core as mx

    out: dict[str, Any] = {}
    for shard in sorted(directory.glob("*.safetensors")):
        out.update(mx.load(str(shard)))  # type: ignore[arg-type]
    return out


def fused_checks(fused: Path, base: Path, adapter: Path) -> dict[str, list[str]]:
    """The fused model's checks, run at build time before the dequantized intermediate is removed."""
    return {"fused": check_model(fused), "adapter-applied": adapter_applied(fused, base, adapter)}
