"""Initialise and pretrain the tiny Qwen3 base model with mlx-lm's own classes.

``mlx_lm lora --fine-tune-type full`` leaves embeddings, lm_head and the
final norm frozen (loss stalls), so pretraining uses mlx-lm's trainer with
``model.unfreeze()``: every parameter trains. mlx-lm shuffles with numpy's
global RNG, so numpy is seeded as well as ``mx.random``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

_QWEN3: dict[str, Any] = {
    "model_type": "qwen3",
    "architectures": ["Qwen3ForCausalLM"],
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "intermediate_size": 384,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "rms_norm_eps": 1e-6,
    "vocab_size": 2048,
    "max_position_embeddings": 4096,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": False,
}
# every layer input a multiple of 64, or quantization silently skips the layer
ARCHS: dict[str, dict[str, Any]] = {
    "qwen3": _QWEN3,
    # the production model is an MoE (A3B): the same shape with 8 experts, top-2
    "qwen3_moe": {
        **_QWEN3,
        "model_type": "qwen3_moe",
        "architectures": ["Qwen3MoeForCausalLM"],
        "moe_intermediate_size": 128,
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "decoder_sparse_step": 1,
        "mlp_only_layers": [],
        "norm_topk_prob": True,
    },
}


GENERIC_SYSTEM = "You are a helpful assistant. You can write Python code and call functions to get work done."


def model_config(arch: str, eos_ids: list[int]) -> dict[str, Any]:
    """The tiny model's config for an architecture (qwen3 or qwen3_moe), in float32 for the CPU."""
    cfg = dict(ARCHS[arch])
    # float32 on CPU: quantized matmul is ~10x slower in bf16, ~50x in fp16
    cfg.update({"torch_dtype": "float32", "eos_token_id": eos_ids, "bos_token_id": None})
    return cfg


def pretrain_rows(data_dir: Path, split: str, system: str) -> list[dict[str, Any]]:
    """The examples the base is pretrained on, behind the phase's system prompt (``none``,
    ``generic`` or the data's own): single-turn only, since reading a <tool_response> and
    answering from it is left for the LoRA adapter to learn."""
    with open(data_dir / f"{split}.jsonl", encoding="utf-8") as fh:
        out = [r for r in (json.loads(line) for line in fh) if len(r["messages"]) <= 3]
    if system == "data":
        return out
    convert = []
    for r in out:
        msgs = [m for m in r["messages"] if m["role"] != "system"]
        if system == "generic":
            msgs = [{"role": "system", "content": GENERIC_SYSTEM}, *msgs]
        convert.append({"messages": msgs})
    return convert


def _save_base(model: Any, cfg: dict[str, Any], eos: list[int], tokenizer_dir: Path, out_dir: Path) -> None:
    """A loadable mlx-lm model directory: weights, config, the tokenizer and chat template, eos."""
    from mlx_lm.utils import save_config, save_model

    save_model(out_dir, model)
    save_config(cfg, config_path=out_dir / "config.json")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tokenizer_dir / name, out_dir / name)
    (out_dir / "generation_config.json").write_text(json.dumps({"eos_token_id": eos}) + "\n")


def _train_phases(
    model: Any,
    tok: Any,
    data_dir: Path,
    phases: tuple[tuple[int, str, float], ...],
    batch_size: int,
    scratch: Path,
    log: Any,
) -> dict[str, list[tuple[int, float]]]:
    """Each curriculum phase in turn, with its own cosine schedule; the losses reported as one run."""
    import contextlib
    import io

    import mlx.optimizers as optim
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import CacheDataset, ChatDataset
    from mlx_lm.tuner.trainer import TrainingArgs, train

    losses: dict[str, list[tuple[int, float]]] = {"train": [], "val": []}
    done = 0

    class Record(TrainingCallback):
        def on_train_loss_report(self, info: dict[str, Any]) -> None:
            losses["train"].append((done + info["iteration"], float(info["train_loss"])))
            log(f"pretrain iter {done + info['iteration']}/{total}: train loss {info['train_loss']:.3f}")

        def on_val_loss_report(self, info: dict[str, Any]) -> None:
            losses["val"].append((done + info["iteration"], float(info["val_loss"])))

    total = sum(p[0] for p in phases)
    for iters, system, lr in phases:
        train_set = CacheDataset(ChatDataset(pretrain_rows(data_dir, "train", system), tok, mask_prompt=True))  # type: ignore[arg-type]
        val_set = CacheDataset(ChatDataset(pretrain_rows(data_dir, "valid", system), tok, mask_prompt=True))  # type: ignore[arg-type]
        opt = optim.AdamW(learning_rate=optim.cosine_decay(lr, iters, lr / 20), weight_decay=0.0)
        targs = TrainingArgs(
            batch_size=batch_size,
            iters=iters,
            val_batches=4,
            steps_per_report=25,
            steps_per_eval=iters,
            steps_per_save=iters,
            max_seq_length=1024,
            adapter_file=str(scratch / "weights.safetensors"),
        )
        with contextlib.redirect_stdout(io.StringIO()):  # mlx-lm's progress table; we report our own
            train(model, opt, train_set, val_set, args=targs, training_callback=Record())
        done += iters
    return losses


def pretrain(
    data_dir: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    arch: str = "qwen3",
    seed: int = 0,
    phases: tuple[tuple[int, str, float], ...] = ((300, "none", 1e-3), (150, "generic", 5e-4)),
    batch_size: int = 8,
    log: Any = print,
) -> dict[str, Any]:
    """Write a loadable mlx-lm model directory to ``out_dir``; returns training stats.

    ``phases`` are (iterations, system prompt, peak learning rate): a
    curriculum. First the tools on short examples (system prompt ``none``:
    2x cheaper, and a 2-layer model learns the query -> tool mapping far
    faster), then behind a ``generic`` assistant system prompt, so the base
    learns to look past one, or behind the users' own (``data``). The
    base sees single-turn examples only: answering from a tool response is
    what the LoRA adapter adds, so its loss has something real to show.
    """
    from pytest_punie.blas import preload

    preload()

    import mlx.core as mx
    import numpy as np
    from mlx.utils import tree_flatten
    from mlx_lm.tokenizer_utils import load as load_tokenizer

    from pytest_punie.models.mlxlm_private import private

    tok = load_tokenizer(tokenizer_dir)
    eos = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    cfg = model_config(arch, eos)
    mx.random.seed(seed)
    np.random.seed(seed)
    model_cls, args_cls = private("_get_classes")(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    model.set_dtype(mx.float32)
    model.unfreeze()

    scratch = out_dir / "_pretrain"
    scratch.mkdir(parents=True, exist_ok=True)
    losses = _train_phases(model, tok, data_dir, phases, batch_size, scratch, log)
    shutil.rmtree(scratch)
    _save_base(model, cfg, eos, tokenizer_dir, out_dir)
    params = sum(int(v.size) for _, v in tree_flatten(model.parameters()))  # type: ignore[misc,union-attr,str-unpack]
    return {"losses": losses, "params": params}
