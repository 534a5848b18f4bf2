"""Distribution parity on models the project builds, for real: the embedded q5 model keeps its adapter
(its figures in the document, the terminal and the HTML, and equal to an independent computation with
plain mlx-lm); a fuse made with the adapter's scale at 0 behaves like the base and fails saying so;
another architecture or tokenizer is refused by name; a missing reference part is named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FIGURES = ("kl_mean", "kl_p95", "kl_p99", "top1_agreement", "base_kl_mean", "base_top1_agreement", "positions")


def parts(model) -> tuple[Path, Path]:
    """The tiny model's reference parts: its 4-bit base and the adapter trained on it."""
    steps = {b["step"]: Path(b["path"]) for b in model.builds}
    return steps["q4"], steps["adapter"]


def register(project: pytest.Pytester, name: str, **entry: str) -> None:
    """A registry entry in the project's pyproject (paths as given)."""
    lines = [f"\n[tool.punie.models.{name}]"] + [f'{k} = "{v}"' for k, v in entry.items()]
    with open(project.path / "pyproject.toml", "a") as f:
        f.write("\n".join(lines) + "\n")


def test_the_shipped_model_keeps_its_adapter_and_says_so_everywhere(tiny_project, tiny_model):
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "pipeline or eval", "-k", "parity or phase33", "-rA",
        "--punie-json=p.json", "--punie-html=p.html", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["PASSED *parity*"])
    doc = json.loads((tiny_project.path / "p.json").read_text())
    (row,) = doc["parity"]
    assert set(FIGURES) <= set(row) and row["model"] == "tiny_5bit" and row["bits"] == 5 and row["passed"]
    assert row["positions"] > 1000 and row["transcripts"] >= 30  # the validation set's assistant tokens
    assert row["kl_mean"] < 0.25 * row["base_kl_mean"] and row["top1_agreement"] > row["base_top1_agreement"]
    assert row["candidate"]["digest"] == tiny_model.digest and row["gold"]["digest"].startswith("sha256:")
    assert {b["name"] for b in row["bounds"]} == {"max_kl_share_of_base", "min_top1_agreement"}
    assert all("default for 5 bits" in b["source"] for b in row["bounds"])
    result.stdout.fnmatch_lines(["*pytest-punie parity*", f"tiny_5bit * 5 * {row['kl_mean']:.4f} *PASS"])
    page = (tiny_project.path / "p.html").read_text()
    assert "Parity: is the model you ship the model you trained?" in page and f"{row['kl_mean']:.4f}" in page


def test_parity_equals_an_independent_computation_with_plain_mlx_lm(tiny_model):
    """The transcripts with one assistant turn: its positions are those mlx-lm's own ChatDataset trains
    on (mask_prompt); three separate plain loads (base + adapter, base, the q5 model), one forward pass
    each per transcript, KL in numpy: the same figures as the parity measurement's."""
    import mlx.core as mx
    import numpy as np
    from mlx_lm import load
    from mlx_lm.tuner.datasets import ChatDataset

    from pytest_punie.checks.paritycheck import Gold, gold_from_adapter, measure_parity

    base, adapter = parts(tiny_model)
    gold = gold_from_adapter(adapter)
    single = [m for m in gold.transcripts if sum(x["role"] == "assistant" for x in m) == 1]
    assert len(single) >= 10
    ours = measure_parity(base, adapter, tiny_model.path, Gold(gold.path, gold.digest, single))
    reference, tokenizer = load(str(base), adapter_path=str(adapter))
    alone, _ = load(str(base))
    shipped, _ = load(str(tiny_model.path))
    data = ChatDataset([{"messages": m} for m in single], tokenizer, mask_prompt=True)

    def logp(model, tokens):
        out = np.array(model(mx.array(tokens)[None])[0].astype(mx.float32))
        out = out - out.max(-1, keepdims=True)
        return out - np.log(np.exp(out).sum(-1, keepdims=True))

    kl, base_kl, agree = [], [], []
    for i in range(len(single)):
        tokens, offset = data.process(data[i])
        rows = np.arange(offset, len(tokens)) - 1
        r, b, c = (logp(m, tokens)[rows] for m in (reference, alone, shipped))
        kl.append((np.exp(r) * (r - c)).sum(-1))
        base_kl.append((np.exp(r) * (r - b)).sum(-1))
        agree.append(r.argmax(-1) == c.argmax(-1))
    kl_all = np.concatenate(kl)
    assert ours.positions == kl_all.size
    assert ours.kl_mean == pytest.approx(float(kl_all.mean()), rel=1e-3, abs=1e-6)
    assert ours.kl_p95 == pytest.approx(float(np.percentile(kl_all, 95)), rel=1e-3, abs=1e-6)
    assert ours.base_kl_mean == pytest.approx(float(np.concatenate(base_kl).mean()), rel=1e-3)
    assert ours.top1_agreement == pytest.approx(float(np.concatenate(agree).mean()), abs=1e-9)
    assert ours.base_kl_mean > 10 * ours.kl_mean  # the adapter moved the base; the q5 model kept that


def test_the_reference_kept_from_one_candidate_gives_the_next_the_same_figures(tiny_model):
    """The gate before quantizing measures the fused model, the gate after it the q5 model, against
    one reference: the reference's and the base's rows kept from the first give the second exactly the
    figures it gets alone; a memo with no room keeps nothing."""
    from pytest_punie.checks.paritycheck import Gold, ReferenceMemo, gold_from_adapter, measure_parity

    base, adapter = parts(tiny_model)
    fused = Path(next(b for b in tiny_model.builds if b["step"] == "fused")["path"])
    gold = gold_from_adapter(adapter)
    gold = Gold(gold.path, gold.digest, gold.transcripts[:12])

    def figures(f) -> dict:
        return {k: v for k, v in f.to_dict().items() if k != "seconds"}

    alone = measure_parity(base, adapter, tiny_model.path, gold)
    memo = ReferenceMemo().for_key("this reference")
    first = measure_parity(base, adapter, fused, gold, memo=memo)
    assert len(memo.rows) == 12 and memo.used > 0 and first.kl_mean < alone.kl_mean  # the fuse: no rounding yet
    kept = dict(memo.rows)
    second = measure_parity(base, adapter, tiny_model.path, gold, memo=memo)
    assert all(memo.rows[t] is kept[t] for t in kept)  # read, not computed again
    assert figures(second) == figures(alone) and alone.positions > 100
    none = ReferenceMemo(budget=0).for_key("x")
    measure_parity(base, adapter, tiny_model.path, gold, memo=none)
    assert none.rows == {} and none.used == 0


def test_a_fuse_that_behaves_like_the_base_fails_saying_so(tiny_project, tiny_model, tmp_path):
    """mlx_lm fuse with the adapter's scale set to 0, quantized to 5 bits as the recipe does: weights
    that look like a model, behaviour of the base. Parity against the adapter as trained fails."""
    base, adapter = parts(tiny_model)
    zeroed = tmp_path / "zeroed-adapter"
    shutil.copytree(adapter, zeroed)
    config = json.loads((zeroed / "adapter_config.json").read_text())
    config["lora_parameters"]["scale"] = 0.0
    (zeroed / "adapter_config.json").write_text(json.dumps(config))
    fused, shipped = tmp_path / "fused", tmp_path / "q5"
    for cmd in (
        ["fuse", "--model", str(base), "--adapter-path", str(zeroed), "--save-path", str(fused), "--dequantize"],
        ["convert", "--hf-path", str(fused), "--mlx-path", str(shipped), "-q", "--q-bits", "5", "--q-group-size", "64"],
    ):
        done = subprocess.run([sys.executable, "-m", "mlx_lm", *cmd], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    register(tiny_project, "zeroed", path=str(shipped), base=str(base), adapter=str(adapter))
    result = tiny_project.runpytest_subprocess(
        "--punie-model=zeroed", "-m", "pipeline", "-k", "parity", "--punie-json=z.json", "-p", "no:cacheprovider"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(
        [
            "*behaves like the base model, not like the adapter that was trained*",
            "*parity max_kl_share_of_base * is above 0.25 (default for 5 bits*",
        ]
    )
    (row,) = json.loads((tiny_project.path / "z.json").read_text())["parity"]
    assert not row["passed"] and row["kl_share_of_base"] > 0.8


def test_another_architecture_or_tokenizer_is_refused_and_a_missing_reference_is_named(
    tiny_project, tiny_model, tiny_moe_model, tmp_path
):
    base, adapter = parts(tiny_model)
    retokenized = tmp_path / "retokenized"
    shutil.copytree(tiny_model.path, retokenized)
    tok = json.loads((retokenized / "tokenizer.json").read_text())
    word = next(iter(tok["model"]["vocab"]))
    tok["model"]["vocab"][word + "x"] = tok["model"]["vocab"].pop(word)  # one token of the vocabulary renamed
    (retokenized / "tokenizer.json").write_text(json.dumps(tok))
    register(tiny_project, "moe", path=str(tiny_moe_model.path), base=str(base), adapter=str(adapter))
    register(tiny_project, "retokenized", path=str(retokenized), base=str(base), adapter=str(adapter))
    register(tiny_project, "orphan", path=str(tiny_model.path), base=str(base), adapter=str(tmp_path / "gone"))
    expected = {
        "moe": "*parity refused: another model: model_type 'qwen3_moe' (reference 'qwen3')*",
        "retokenized": "*parity refused: the candidate's tokenizer differs from the reference's * in its model:*",
        "orphan": f"*reference (base + adapter as trained) cannot be built: the adapter {tmp_path}/gone is missing*",
    }
    for name, line in expected.items():
        result = tiny_project.runpytest_subprocess(
            f"--punie-model={name}", "-m", "pipeline", "-k", "parity", "-p", "no:cacheprovider"
        )
        assert result.ret == 1, (name, result.stdout.str()[-3000:])
        result.stdout.fnmatch_lines([line])
        assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()


def test_a_bits_sweep_quantizes_one_fuse_and_kl_falls_as_bits_rise(tiny_project, tiny_model):
    """--punie-bits=4,5,6,8: one fuse, four quantized models, each with parity, size, decode speed and the
    eval; KL to the reference falls as bits rise, as plain mlx-lm computes it too; the report names
    the smallest width that holds (or why none does); -n 2 gives the same sweep."""
    import mlx.core as mx
    import numpy as np
    from mlx_lm import load
    from mlx_lm.tuner.datasets import ChatDataset

    from pytest_punie.checks.paritycheck import gold_from_adapter

    args = ["--punie-model=tiny_5bit", "--punie-bits=4,5,6,8", "-m", "eval", "-k", "phase33", "-p", "no:cacheprovider"]
    result = tiny_project.runpytest_subprocess(*args, "--punie-json=b.json", "--punie-html=b.html")
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    doc = json.loads((tiny_project.path / "b.json").read_text())
    rows = doc["bits_sweep"]["rows"]
    assert [r["bits"] for r in rows] == [4, 5, 6, 8]
    kl = [r["kl_mean"] for r in rows]
    assert kl[0] > kl[1] > kl[2] > kl[3], kl
    assert [r["size_bytes"] for r in rows] == sorted(r["size_bytes"] for r in rows) and rows[0]["size_bytes"] > 0
    assert all(r["decode_tok_s"] > 0 and r["scores"]["phase33"] > 0 for r in rows)
    variants = doc["provenance"]["variants"]
    fuses = {v["builds"][0]["digest"] for v in variants.values()}
    assert len(fuses) == 1 and len({v["digest"] for v in variants.values()}) == 4  # one fuse, four models
    assert variants["bits=5"]["digest"] == tiny_model.digest  # the model under test is its 5-bit width
    assert {p["bits"] for p in doc["parity"]} == {4, 5, 6, 8}
    result.stdout.fnmatch_lines(["*pytest-punie bits sweep*", "smallest bits within the parity bounds and the eval*"])
    page = (tiny_project.path / "b.html").read_text()
    assert "<h2 id=bits>Bits sweep</h2>" in page and "class=bits-chart" in page
    # independently: plain mlx-lm loads, one forward pass per model, the positions mlx-lm trains on
    base, adapter = parts(tiny_model)
    single = [m for m in gold_from_adapter(adapter).transcripts if sum(x["role"] == "assistant" for x in m) == 1]
    reference, tokenizer = load(str(base), adapter_path=str(adapter))[:2]
    data = ChatDataset([{"messages": m} for m in single[:12]], tokenizer, mask_prompt=True)
    samples = [data.process(data[i]) for i in range(len(data))]

    def logp(model, tokens):
        out = np.array(model(mx.array(tokens)[None])[0].astype(mx.float32))
        out = out - out.max(-1, keepdims=True)
        return out - np.log(np.exp(out).sum(-1, keepdims=True))

    refs = [logp(reference, t)[o - 1 : len(t) - 1] for t, o in samples]
    independent = []
    for bits in (4, 5, 6, 8):
        model = load(variants[f"bits={bits}"]["path"])[0]
        cands = [logp(model, t)[o - 1 : len(t) - 1] for t, o in samples]
        per_token = [(np.exp(r) * (r - c)).sum(-1) for r, c in zip(refs, cands, strict=True)]
        independent.append(float(np.mean(np.concatenate(per_token))))
    assert independent[0] > independent[1] > independent[2] > independent[3], independent
    parallel = tiny_project.runpytest_subprocess(*args, "--punie-json=n.json", "-n", "2")
    assert parallel.ret == result.ret, parallel.stdout.str()[-2000:]
    again = json.loads((tiny_project.path / "n.json").read_text())["bits_sweep"]

    def same(sweep: dict) -> list:  # decode speed is a timing: the rest is what was measured
        return [{k: v for k, v in r.items() if k != "decode_tok_s"} for r in sweep["rows"]]

    assert same(again) == same(doc["bits_sweep"]) and again["smallest"] == doc["bits_sweep"]["smallest"]


def test_the_recipe_stops_at_the_parity_gate_after_quantizing_a_model_that_lost_its_adapter(tiny_project, tiny_model):
    """A registered base + adapter quantized to 2 bits (on purpose, as far as the bits check goes):
    the stage gate after quantizing measures its parity, finds it further from the adapter than the
    base itself, and stops the recipe before any prompt is evaluated, naming the gate and the model."""
    base, adapter = parts(tiny_model)
    register(tiny_project, "two_bit", base=str(base), adapter=str(adapter))
    with open(tiny_project.path / "pyproject.toml", "a") as f:
        f.write("bits = 2\ngroup_size = 64\nexpect = { low_bits_on_purpose = true }\n")
    result = tiny_project.runpytest_subprocess(
        "--punie-model=two_bit", "-m", "eval", "-k", "phase33", "--punie-json=g.json", "-p", "no:cacheprovider"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]  # as every stage gate that stops a recipe
    result.stdout.fnmatch_lines(
        [
            "*stage gate 'parity (after quantizing)' stopped the recipe*",
            "*is further from the adapter that was trained than the base model itself*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    doc = json.loads((tiny_project.path / "g.json").read_text())
    assert "verdict" not in doc and doc["checks"] == {"ran": 27, "failed": 27, "findings": 0}  # nothing judged
