"""Distribution parity: does the model you ship still behave like the adapter you trained?

Gold transcripts (the assistant turns of the recipe's validation set) are teacher-forced through
the reference (the base plus the adapter as trained: unfused, in the training dtype) and through
the candidate (the fused, quantized model under test). Per assistant token: KL(reference ||
candidate) and whether the two agree on the most likely token. The base alone is measured against
the reference the same way: a candidate whose KL is not far below the base's has lost its adapter,
whatever its weights look like (mlx-lm#1172: a fuse that behaved like the base).

Memory stays bounded at real size: one transcript at a time (its logits only), the base's weights
loaded once (the base alone is the reference with its LoRA scales set to 0), the candidate beside it.
The reference's and the base's log-probabilities at the measured tokens are kept for the next
candidate of the same reference (the gate after quantizing follows the gate before it; a bits sweep
measures four) while they fit in ``REFERENCE_MEMO_BYTES``; past that they are computed again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_punie.datalint.examples import ExampleFormatError, example_messages
from pytest_punie.errors import ModelError
from pytest_punie.models.digest import DigestMemo, inputs_key, path_digest

ARCHITECTURE_KEYS = ("model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads")
MAX_TOKENS = 2048  # a transcript longer than this is cut (its first tokens measured)
GOLD_LIMIT = 64  # transcripts of the validation set measured (the first N, in file order)
REFERENCE_MEMO_BYTES = 512 * 2**20  # the embedded model's 64 transcripts take 50 MB; the real vocabulary ~3.7 GB


class ParityRefused(ModelError):
    """The reference and the candidate cannot be compared (another tokenizer, vocabulary or architecture)."""


@dataclass(frozen=True)
class Gold:
    """The transcripts teacher-forced through both models, and where they came from."""

    path: str
    """The validation set read (the data the adapter's own config names)."""
    digest: str
    """Its content digest (sha256), checked against the adapter's training inputs where recorded."""
    transcripts: list[list[dict[str, Any]]]
    """The chat transcripts, in file order."""


@dataclass
class ParityFigures:
    """What parity measured: the candidate against the reference, and the base against the reference."""

    kl_mean: float
    """Mean over assistant tokens of KL(reference || candidate), in nats."""
    kl_p95: float
    """Its 95th percentile."""
    kl_p99: float
    """Its 99th percentile."""
    top1_agreement: float
    """Share of assistant tokens where the two models' most likely next token is the same."""
    base_kl_mean: float
    """Mean KL(reference || base alone): how far the adapter moved the base; the yardstick."""
    base_top1_agreement: float
    """Top-1 agreement of the base alone with the reference."""
    positions: int
    """Assistant tokens measured."""
    transcripts: int
    """Gold transcripts measured."""
    worst: list[dict[str, Any]] = field(default_factory=list)
    """The largest-KL positions: transcript, position, the gold token, both models' top tokens, KL, context."""
    gold: dict[str, Any] = field(default_factory=dict)
    """The gold transcripts' file and digest."""
    reference: dict[str, Any] = field(default_factory=dict)
    """The reference's base and adapter paths and digests."""
    candidate: dict[str, Any] = field(default_factory=dict)
    """The candidate's path, digest and quantization."""
    seconds: float = 0.0
    """Wall time of the measurement."""

    @property
    def share_of_base(self) -> float:
        """The candidate's mean KL as a share of the base's (0: the adapter kept; 1: behaves like the base)."""
        return self.kl_mean / self.base_kl_mean if self.base_kl_mean > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the results document (``parity``)."""
        return {**asdict(self), "kl_share_of_base": self.share_of_base}


@dataclass
class ReferenceMemo:
    """One reference's log-probabilities (with the adapter, and the base alone) at the measured tokens,
    per transcript, kept between candidates while they fit in ``budget`` bytes."""

    key: str = ""
    """What the rows were computed from (base, adapter, gold, versions); another key starts afresh."""
    budget: int = REFERENCE_MEMO_BYTES
    """Bytes the rows may take; a transcript past it is computed again for each candidate."""
    rows: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    """Transcript number -> (reference log-probabilities, base-alone log-probabilities)."""
    used: int = 0
    """Bytes held."""

    def for_key(self, key: str) -> ReferenceMemo:
        """This memo, emptied first when it holds another reference's rows."""
        if key != self.key:
            self.key, self.rows, self.used = key, {}, 0
        return self

    def keep(self, transcript: int, ref: Any, alone: Any) -> None:
        """Hold one transcript's rows where the budget allows."""
        size = int(ref.nbytes) + int(alone.nbytes)
        if self.used + size <= self.budget:
            self.rows[transcript] = (ref, alone)
            self.used += size


_MEMO = ReferenceMemo()  # one per process: the stage gates, the parity item and a bits sweep share it


def file_sha256(path: Path) -> str:
    """A file's content digest, as the document writes digests."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def gold_from_adapter(adapter: Path, limit: int = GOLD_LIMIT) -> Gold:
    """The validation set the adapter was trained with (its ``adapter_config.json`` names the data;
    where the build recorded the training data's digest, the folder must still match it)."""
    config_file = adapter / "adapter_config.json"
    try:
        data = Path(json.loads(config_file.read_text())["data"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(config_file, None, f"parity: cannot read the adapter's training data folder ({exc})") from None
    valid = data / "valid.jsonl"
    if not valid.is_file():
        raise ModelError(valid, None, "parity: the validation set the adapter was trained with is missing")
    _check_training_data(adapter, data)
    transcripts = []
    for number, line in enumerate(valid.read_text().splitlines()[:limit], start=1):
        try:
            transcripts.append(example_messages(json.loads(line)))
        except (ValueError, ExampleFormatError) as exc:
            raise ModelError(valid, number, f"parity: a gold transcript cannot be read: {exc}") from None
    return Gold(str(valid), file_sha256(valid), transcripts)


def _check_training_data(adapter: Path, data: Path) -> None:
    """The data folder is the one the adapter was trained on, by content (where the build recorded it)."""
    try:
        recorded = json.loads((adapter / "punie-build.json").read_text())["inputs"]["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # an adapter not built by us: its config's folder is all there is
    files = [data / f"{s}.jsonl" for s in ("train", "valid", "test")]
    now = "sha256:" + inputs_key({f.name: path_digest(f) for f in files if f.is_file()})
    if now != recorded:
        raise ModelError(
            data, None, f"parity: the data folder changed since the adapter was trained ({recorded} then, {now} now)"
        )


TOKENIZER_PARTS = ("model", "added_tokens", "normalizer", "pre_tokenizer")


def refuse_mismatch(reference: Path, candidate: Path) -> None:
    """Two models whose tokenizers, vocabularies or architectures differ are refused by name, never compared."""
    ours, theirs = reference / "tokenizer.json", candidate / "tokenizer.json"
    for path in (ours, theirs):
        if not path.is_file():
            raise ParityRefused(path, None, "parity: tokenizer.json is missing: the two tokenizers cannot be checked")
    a, b = (json.loads(p.read_text()) for p in (ours, theirs))
    differ = [part for part in TOKENIZER_PARTS if a.get(part) != b.get(part)]
    if differ:
        raise ParityRefused(
            theirs,
            None,
            f"parity refused: the candidate's tokenizer differs from the reference's ({ours}) in its "
            f"{', '.join(differ)}: the same text is other tokens, so their distributions are never compared",
        )
    configs = [json.loads((p / "config.json").read_text()) for p in (reference, candidate)]
    differ = [k for k in ARCHITECTURE_KEYS if configs[0].get(k) != configs[1].get(k)]
    if differ:
        what = ", ".join(f"{k} {configs[1].get(k)!r} (reference {configs[0].get(k)!r})" for k in differ)
        raise ParityRefused(candidate / "config.json", None, f"parity refused: another model: {what}")


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def assistant_positions(tokenizer: Any, messages: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """A transcript's tokens as the chat template renders it, and the positions of its assistant
    turns' tokens (each turn's end-of-turn token included): what the model was trained to write."""
    tokens = list(tokenizer.apply_chat_template(messages, tokenize=True))[:MAX_TOKENS]
    positions: list[int] = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        asked = list(tokenizer.apply_chat_template(messages[:i], add_generation_prompt=True, tokenize=True))
        said = list(tokenizer.apply_chat_template(messages[: i + 1], tokenize=True))
        start, end = _common_prefix(asked, tokens), _common_prefix(said, tokens)
        positions += range(max(start, 1), end)
    return tokens, positions


def _lora_layers(model: Any) -> list[Any]:
    """The modules carrying the adapter (their ``scale`` set to 0 leaves the base alone)."""
    return [m for _, m in model.named_modules() if hasattr(m, "lora_a") and hasattr(m, "scale")]


def measure_parity(
    base: Path, adapter: Path, candidate: Path, gold: Gold, worst: int = 5, memo: ReferenceMemo | None = None
) -> ParityFigures:
    """Teacher-forces the gold transcripts through the reference (base + adapter, unfused), the base
    alone and the candidate, one transcript at a time; returns the figures. A ``memo`` of this
    reference supplies (and keeps) the reference's and the base's rows."""
    import time

    import numpy as np
    from mlx_lm import load

    started = time.monotonic()
    refuse_mismatch(base, candidate)
    reference, tokenizer = load(str(base), adapter_path=str(adapter))[:2]
    layers = _lora_layers(reference)
    if not layers:
        raise ModelError(adapter, None, "parity: the adapter put no LoRA layer on the base (nothing to compare)")
    shipped = load(str(candidate))[0]
    kls, base_kls, agree, base_agree, where = [], [], [], [], []
    for t, messages in enumerate(gold.transcripts):
        tokens, positions = assistant_positions(tokenizer, messages)
        if not positions:
            continue
        kept = memo.rows.get(t) if memo is not None else None
        ref, alone = kept if kept is not None else _reference_rows(reference, layers, tokens, positions)
        if memo is not None and kept is None:
            memo.keep(t, ref, alone)
        kl, base_kl, ref_top, cand_top, base_top = _against(ref, alone, shipped, tokens, positions)
        kls.append(kl)
        base_kls.append(base_kl)
        agree.append(ref_top == cand_top)
        base_agree.append(ref_top == base_top)
        where += [(t, pos, tokens, int(ref_top[j]), int(cand_top[j])) for j, pos in enumerate(positions)]
    if not kls:
        raise ModelError(Path(gold.path), None, "parity: no gold transcript has an assistant turn to measure")
    kl_all, base_all = np.concatenate(kls), np.concatenate(base_kls)
    figures = ParityFigures(
        kl_mean=float(kl_all.mean()),
        kl_p95=float(np.percentile(kl_all, 95)),
        kl_p99=float(np.percentile(kl_all, 99)),
        top1_agreement=float(np.concatenate(agree).mean()),
        base_kl_mean=float(base_all.mean()),
        base_top1_agreement=float(np.concatenate(base_agree).mean()),
        positions=int(kl_all.size),
        transcripts=len(kls),
        gold={"path": gold.path, "digest": gold.digest, "transcripts": len(gold.transcripts)},
        reference={"base": str(base), "adapter": str(adapter), "adapter_digest": path_digest(adapter)},
        candidate={"path": str(candidate), "digest": path_digest(candidate)},
    )
    figures.worst = _worst(tokenizer, kl_all, where, worst)
    figures.seconds = round(time.monotonic() - started, 3)
    return figures


def logits_at(model: Any, x: Any, rows: Any) -> Any:
    """The model's logits at ``rows`` of the one sequence ``x``: the body over every position, the
    output head only where a token is measured. At the real vocabulary (151,936) the head over the
    system prompt's positions was most of parity's cost; a model of another layout than mlx-lm's
    ``model`` + ``lm_head`` (or tied embeddings) takes the whole forward pass, then the rows."""
    body = getattr(model, "model", None)
    args = getattr(model, "args", None)
    tied = bool(getattr(args, "tie_word_embeddings", False))
    head = body.embed_tokens.as_linear if tied and body is not None else getattr(model, "lm_head", None)
    if body is None or head is None or not callable(body):
        return model(x)[0][rows]
    return head(body(x)[0][rows])


def _logprobs(model: Any, tokens: list[int], positions: list[int]) -> Any:
    """A model's log-probabilities for the token at each position of ``positions`` (one sequence)."""
    import mlx.core as mx

    x = mx.array(tokens)[None]
    rows = mx.array([p - 1 for p in positions])
    out = logits_at(model, x, rows).astype(mx.float32)
    return out - mx.logsumexp(out, axis=-1, keepdims=True)


def _reference_rows(reference: Any, layers: list[Any], tokens: list[int], positions: list[int]) -> Any:
    """One transcript through the reference and through the base alone (the reference's LoRA scales at
    0, then restored): both models' log-probabilities at the measured tokens, evaluated."""
    import mlx.core as mx

    ref = _logprobs(reference, tokens, positions)
    mx.eval(ref)
    scales = [m.scale for m in layers]
    for m in layers:
        m.scale = 0.0
    try:
        alone = _logprobs(reference, tokens, positions)
        mx.eval(alone)
    finally:
        for m, s in zip(layers, scales, strict=True):
            m.scale = s
    return ref, alone


def _against(ref: Any, alone: Any, shipped: Any, tokens: list[int], positions: list[int]) -> Any:
    """The candidate on one transcript against the reference's rows: per assistant token
    KL(reference || candidate), KL(reference || base) and each model's top token, as numpy arrays.
    A KL is never negative: float rounding below zero (a candidate equal to the reference, as the
    fused float32 model is) counts as 0, never as "-0.0000"."""
    import mlx.core as mx
    import numpy as np

    cand = _logprobs(shipped, tokens, positions)
    p = mx.exp(ref)
    out = (
        mx.maximum(mx.sum(p * (ref - cand), axis=-1), 0.0),
        mx.maximum(mx.sum(p * (ref - alone), axis=-1), 0.0),
        mx.argmax(ref, axis=-1),
        mx.argmax(cand, axis=-1),
        mx.argmax(alone, axis=-1),
    )
    mx.eval(*out)
    return tuple(np.array(a) for a in out)


def _worst(tokenizer: Any, kl: Any, where: list[tuple[int, int, list[int], int, int]], n: int) -> list[dict[str, Any]]:
    """The ``n`` largest-KL positions, with their text: what the candidate lost."""
    out = []
    for i in kl.argsort()[::-1][:n]:
        t, pos, tokens, ref_top, cand_top = where[int(i)]
        out.append(
            {
                "transcript": t,
                "position": pos,
                "kl": round(float(kl[int(i)]), 6),
                "context": tokenizer.decode(tokens[max(0, pos - 12) : pos]),
                "gold": tokenizer.decode([tokens[pos]]),
                "reference_top": tokenizer.decode([ref_top]),
                "candidate_top": tokenizer.decode([cand_top]),
            }
        )
    return out


# pytest-punie's defaults, per bits of the model under test (None: not quantized). Not the users'
# history (none measured this): on the embedded recipe a 5-bit model keeps its KL at 2% of the
# base's and agrees on 99% of top tokens (benchmarks/parity_sweep.py); the bounds leave room for
# a real model while a model that lost its adapter (share near 1) fails at every width.
DEFAULT_MAX_SHARE = {4: 0.5, 5: 0.25, 6: 0.15, 8: 0.10, None: 0.05}
DEFAULT_MIN_TOP1 = {4: 0.85, 5: 0.90, 6: 0.92, 8: 0.95, None: 0.97}
LIKE_THE_BASE = 0.8  # a share of the base's KL from which the candidate is said to behave like the base


def parity_bounds(bits: int | None, expect: Any) -> list[tuple[str, float, str, str]]:
    """(name, bound, 'max' or 'min', where it came from) for each bound that applies to a model of ``bits``."""

    def default(table: dict[int | None, float]) -> float:
        return table.get(bits, table[4] if bits is not None and bits < 4 else table[None])

    width = f"{bits} bits" if bits is not None else "an unquantized model"
    own = "default for " + width + " (pytest-punie's; set it in pipeline_expect or the model's expect table)"
    out = []
    for name, table, kind in (
        ("max_kl_share_of_base", DEFAULT_MAX_SHARE, "max"),
        ("min_top1_agreement", DEFAULT_MIN_TOP1, "min"),
        ("max_kl_mean", None, "max"),
    ):
        value = getattr(expect, name)
        if value is not None:
            out.append((name, float(value), kind, expect.source(name)))
        elif table is not None:
            out.append((name, default(table), kind, own))
    return out


def judge_parity(figures: ParityFigures, bits: int | None, expect: Any, where: str) -> list[str]:
    """The problems with a candidate's parity: each bound it misses, named with its source; a candidate
    as far from the reference as the base is said to behave like the base."""
    measured = {
        "max_kl_share_of_base": figures.share_of_base,
        "min_top1_agreement": figures.top1_agreement,
        "max_kl_mean": figures.kl_mean,
    }
    problems = []
    for name, bound, kind, source in parity_bounds(bits, expect):
        value = measured[name]
        if (kind == "max" and value > bound) or (kind == "min" and value < bound):
            side = "above" if kind == "max" else "below"
            problems.append(f"{where}: parity {name} {value:.4g} is {side} {bound:g} ({source})")
    if problems and figures.share_of_base >= LIKE_THE_BASE:
        share = figures.share_of_base
        like = (
            "behaves like the base model, not like the adapter that was trained"
            if share <= 1 / LIKE_THE_BASE
            else "is further from the adapter that was trained than the base model itself"
        )
        problems.insert(
            0,
            f"{where}: {like}: its KL to the reference is {share:.0%} of the base's own ({figures.kl_mean:.4g} vs "
            f"{figures.base_kl_mean:.4g} nats per assistant token over {figures.positions} tokens); the adapter's "
            "signal did not survive the fuse or the quantization",
        )
    return problems


def parity_record(model: str, bits: int | None, figures: ParityFigures, expect: Any, where: str) -> dict[str, Any]:
    """The document's ``parity`` object for one model: its figures, the bounds it was held to (with
    their sources), and what it missed (the parity item and each width of a bits sweep write it)."""
    problems = judge_parity(figures, bits, expect, where)
    bounds = [{"name": n, "bound": b, "kind": k, "source": s} for n, b, k, s in parity_bounds(bits, expect)]
    return {"model": model, "bits": bits, **figures.to_dict(), "bounds": bounds, "passed": not problems,
            "problems": problems}  # fmt: skip


PARITY_METHOD = 2  # bumped when what is measured changes: kept figures of another method are not reused


def kept_parity(cache_root: Path, base: Path, adapter: Path, candidate: Path, gold: Gold) -> ParityFigures:
    """``measure_parity``, kept in the build cache by the digests of everything it read (the base, the
    adapter, the candidate, the gold transcripts) and the versions: an identical rerun measures nothing."""
    from pytest_punie.provenance import versions_of

    memo = DigestMemo(cache_root / "digests.json")  # the build cache's memo: by size and time stamps
    reference = {
        "base": path_digest(base, memo),
        "adapter": path_digest(adapter, memo),
        "gold": gold.digest,
        "transcripts": len(gold.transcripts),
        "versions": versions_of("mlx", "mlx-lm"),
        "method": PARITY_METHOD,
    }
    key = inputs_key({**reference, "candidate": path_digest(candidate, memo)})
    kept = cache_root / "parity" / f"{key}.json"
    try:
        data = json.loads(kept.read_text())
        data.pop("kl_share_of_base", None)
        return ParityFigures(**data)
    except (OSError, ValueError, TypeError):
        pass
    figures = measure_parity(base, adapter, candidate, gold, memo=_MEMO.for_key(inputs_key(reference)))
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".tmp")
    partial.write_text(json.dumps(figures.to_dict()))
    partial.replace(kept)  # whole or absent
    return figures
