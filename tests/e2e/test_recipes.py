"""Training recipes end to end on the tiny base: a base + data + [lora] entry trains, fuses,
quantizes and evaluates; the stage gates stop it (lint errors before training, a training log
outside its bounds before fusing); training seeds are variants, and determinism is checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LORA = (
    "lora = { iters = 10, batch_size = 4, learning_rate = 1e-4, num_layers = -1, mask_prompt = true, "
    "save_every = 10, steps_per_report = 10, steps_per_eval = 10, val_batches = -1, max_seq_length = 1024, seed = 0 }"
)


def base_of(tiny_model) -> Path:
    return Path(next(b for b in tiny_model.builds if b["step"] == "q4")["path"])


def register(project, base: Path, expect: str = "min_loss_decrease = 0.0", data: str = "data") -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.punie.models.recipe_5bit]\nbase = "{base}"\ndata = "{data}"\nbits = 5\ngroup_size = 64\n{LORA}\n'
        + f"expect = {{ {expect} }}\n"
        # the recipe's parity gates are tested by test_parity and every cold build of the embedded
        # model; here the parity pipeline item measures it once
        + "parity_gate = false\n"
    )


def test_a_lora_recipe_trains_fuses_quantizes_and_evaluates_and_seeds_are_variants(tiny_project, tiny_model):
    register(tiny_project, base_of(tiny_model))
    result = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "--punie-json=r.json", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    doc = json.loads((tiny_project.path / "r.json").read_text())
    assert doc["verdict"] in ("PASS", "FAIL") and doc["completeness"]["state"] == "whole"
    assert [b["step"] for b in doc["provenance"]["model"]["builds"]] == ["adapter", "fused", "q5"]
    adapter = Path(doc["provenance"]["model"]["builds"][0]["path"])
    assert (adapter / "train.log").is_file() and (adapter / "0000010_adapters.safetensors").is_file()
    # each step of the recipe is a pipeline item of the run
    pipeline = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "pipeline", "-v", "-p", "no:cacheprovider"
    )
    pipeline.assert_outcomes(passed=8)  # with parity (the 10-iteration adapter: q5 KL 11% of the base's)
    pipeline.stdout.fnmatch_lines(["*::training-log PASSED*", "*::adapter-applied PASSED*"])
    # two seeds of the recipe on two xdist workers: one worker per seed, the seeds section written
    seeds = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "--punie-seeds=0,1", "--punie-json=s.json", "-n", "2",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert seeds.ret in (0, 1), seeds.stdout.str()[-3000:]
    seeds.stdout.fnmatch_lines(["*pytest-punie training seeds*", "suite phase33: 2 training seeds", "overall *"])
    s = json.loads((tiny_project.path / "s.json").read_text())
    variants = s["provenance"]["variants"]
    assert variants["seed=0"]["digest"] == doc["provenance"]["model"]["digest"]  # seed 0 is the entry's own seed
    assert variants["seed=0"]["digest"] != variants["seed=1"]["digest"]
    assert all(len(v["workers"]) == 1 for v in variants.values())
    assert set(s["seeds"]) == {"phase26", "phase33", "tasks"}
    assert s["seeds"]["phase33"]["overall"]["interval"]["method"].startswith("crossed bootstrap")
    # seeds registered in the entry: every run of the recipe is judged over them
    pyproject = tiny_project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "bits = 5\ngroup_size = 64\nlora =", "bits = 5\ngroup_size = 64\nseeds = [0, 1]\nlora =", 1
        )
    )
    registered = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "--punie-json=r2.json", "-p", "no:cacheprovider"
    )
    assert json.loads((tiny_project.path / "r2.json").read_text())["seeds"]["phase33"]["seeds"] == [0, 1], (
        registered.stdout.str()[-2000:]
    )
    # the same seeds judged by what their programs did (--punie-scorer=outcome): each seed's figure
    # is the mean of its prompts' outcome scores, never the primary scorer's
    outcome = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "--punie-seeds=0,1", "--punie-scorer=outcome",
        "--punie-json=o.json", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert outcome.ret in (0, 1), outcome.stdout.str()[-3000:]
    o = json.loads((tiny_project.path / "o.json").read_text())
    rows = [p for p in o["prompts"] if p["suite"].endswith("phase33.yaml") and not p["error"]]
    assert len(rows) == 54 and all(p["response"] for p in rows)  # 27 prompts answered on each seed
    for seed in ("0", "1"):
        mine = [p["scores"]["outcome"] for p in rows if p["variant"] == f"seed={seed}"]
        per_seed = o["seeds"]["phase33"]["overall"]["per_seed"][seed]["score"]
        assert per_seed == pytest.approx(sum(mine) / len(mine), abs=1e-4), (seed, per_seed, mine)
    html = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "--punie-seeds=0,1", "--punie-html=s.html", "-p", "no:cacheprovider"
    )
    assert html.ret in (0, 1)
    page = (tiny_project.path / "s.html").read_text()
    assert "<h2 id=seeds>Training seeds</h2>" in page and "Prompts decided by the seed" in page


def test_lint_errors_in_the_recipe_s_data_stop_it_before_training(tiny_project, tiny_model):
    bad = tiny_project.path / "baddata"
    shutil.copytree(tiny_project.path / "data", bad)
    with (bad / "train.jsonl").open("a") as f:
        f.write('{"messages": [\n')
    register(tiny_project, base_of(tiny_model), data="baddata")
    result = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "-k", "text-01", "-p", "no:cacheprovider"
    )
    assert result.ret == 1
    out = result.stdout.str()
    assert "stage gate 'data lint (before training)' stopped the recipe" in out
    assert "baddata/train.jsonl:" in out and "building adapter" not in out


def test_a_training_log_outside_its_bounds_stops_the_recipe_before_fusing(tiny_project, tiny_model):
    register(tiny_project, base_of(tiny_model), expect="min_loss_decrease = 0.0, min_val_reduction = 0.99")
    result = tiny_project.runpytest_subprocess(
        "--punie-model=recipe_5bit", "-m", "eval", "-k", "text-01", "-p", "no:cacheprovider"
    )
    assert result.ret == 1
    out = result.stdout.str()
    assert "stage gate 'training log (before fusing)' stopped the recipe" in out, out[-3000:]
    assert "less than 99%" in out and "building fused" not in out


def test_the_same_seed_trains_the_same_adapter_and_another_seed_another(tiny_model, tmp_path):
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.recipe import lora_artifact
    from pytest_punie.models.resolve import load_registry

    from ..conftest import ROOT, cache_dir

    base = base_of(tiny_model)
    params = {**load_registry(ROOT).get("tiny_5bit", {}).get("lora_params", {})}
    from pytest_punie.models.tiny.tinyrecipe import DEFAULT_LORA

    # the recipe test's LORA parameters, exactly: where that test ran first (the same file, the same
    # worker), the first adapter is its, found in the shared cache; the fresh cache trains it again
    params = {**DEFAULT_LORA, **params, "iters": 10, "save_every": 10, "steps_per_report": 10, "steps_per_eval": 10}
    shared = BuildCache(cache_dir())
    first = lora_artifact(shared, base, shared.digest(base), ROOT / "data", params, lambda _m: None)
    fresh = BuildCache(tmp_path / "empty-cache")
    again = lora_artifact(fresh, base, fresh.digest(base), ROOT / "data", params, lambda _m: None)
    assert again.built and again.key == first.key

    def weights(a) -> list[str]:  # the adapter's weights; its train.log holds timings and differs
        return [fresh.digest(f) for f in sorted(a.path.glob("*adapters.safetensors"))]

    assert len(weights(first)) == 2 and weights(again) == weights(first)  # final + the iteration-10 checkpoint
    from pytest_punie.models.steps import fuse_and_quantize

    _, model_first = fuse_and_quantize(shared, base, first.path, 5, 64, lambda _m: None, keep_intermediates=True)
    _, model_again = fuse_and_quantize(fresh, base, again.path, 5, 64, lambda _m: None, keep_intermediates=True)
    assert model_again.built and model_again.digest == model_first.digest  # bit for bit the same 5-bit model
    other = lora_artifact(fresh, base, fresh.digest(base), ROOT / "data", {**params, "seed": 1}, lambda _m: None)
    assert weights(other) != weights(first)


def test_a_fused_model_that_fails_its_checks_is_never_quantized(tiny_model, tmp_path):
    import mlx.core as mx

    from pytest_punie.checks.artifacts import fused_checks
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.gates import GateStopped
    from pytest_punie.models.steps import fuse_and_quantize

    adapter = Path(next(b for b in tiny_model.builds if b["step"] == "adapter")["path"])
    noop = tmp_path / "noop-adapter"  # every lora_b zero: the fused model equals its base
    noop.mkdir()
    shutil.copy(adapter / "adapter_config.json", noop)
    weights = mx.load(str(adapter / "adapters.safetensors"))
    mx.save_safetensors(
        str(noop / "adapters.safetensors"),
        {k: (mx.zeros_like(v) if ".lora_b" in k else v) for k, v in weights.items()},  # type: ignore[union-attr]
    )
    cache = BuildCache(tmp_path / "cache")
    with pytest.raises(GateStopped) as stopped:
        fuse_and_quantize(cache, base_of(tiny_model), noop, 5, 64, lambda _m: None, check_fused=fused_checks)
    assert "stage gate 'fused checks (before quantizing)'" in stopped.value.describe()
    assert "the adapter was not applied" in stopped.value.describe()
    assert not (tmp_path / "cache" / "q5").exists() or not any((tmp_path / "cache" / "q5").iterdir())


def test_a_yaml_config_is_passed_to_mlx_lm_and_keyed_by_its_content(tiny_model, tmp_path):
    from pytest_punie.errors import ModelError
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.recipe import lora_artifact

    from ..conftest import ROOT

    base = base_of(tiny_model)
    cache = BuildCache(tmp_path / "cache")
    config = tmp_path / "lora.yaml"
    params = {"iters": 2, "batch_size": 2, "num_layers": -1, "val_batches": 1, "steps_per_eval": 2, "save_every": 2}
    params["config"] = str(config)
    with pytest.raises(ModelError, match="config file does not exist"):
        lora_artifact(cache, base, cache.digest(base), ROOT / "data", params, lambda _m: None)
    config.write_text("lora_parameters: {rank: 4, dropout: 0.0, scale: 10.0}\n")
    four = lora_artifact(cache, base, cache.digest(base), ROOT / "data", params, lambda _m: None)
    assert json.loads((four.path / "adapter_config.json").read_text())["lora_parameters"]["rank"] == 4
    config.write_text("lora_parameters: {rank: 2, dropout: 0.0, scale: 10.0}\n")  # same path, other content
    two = lora_artifact(cache, base, cache.digest(base), ROOT / "data", params, lambda _m: None)
    assert two.key != four.key and two.built
    assert json.loads((two.path / "adapter_config.json").read_text())["lora_parameters"]["rank"] == 2


def test_the_data_gate_holds_the_data_to_the_suites_it_serves(tmp_path):
    """A run with no suite (a user's own test asking for punie_model) still lints the data against
    the project's suites that name it; with none at all, two system prompts are an error."""
    from pytest_punie.sources.stagegates import stage_gates

    from ..conftest import ROOT

    assert stage_gates({}, "entry", [], ROOT).data(ROOT / "data").problems == []
    elsewhere = tmp_path / "project"
    shutil.copytree(ROOT / "data", elsewhere / "data")
    problems = stage_gates({}, "entry", [], elsewhere).data(elsewhere / "data").problems
    assert any("2 different system prompts" in p for p in problems), problems


def test_the_embedded_recipe_takes_seeds_too(tiny_project, tiny_model):
    """`pytest --punie-model=tiny_5bit --punie-seeds=0,1 -m eval`: seed 0 is the embedded model
    itself; seed 1 trains its own adapter through the same recipe path and gates."""
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-seeds=0,1", "--punie-json=s.json", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*pytest-punie training seeds*", "suite phase26: 2 training seeds"])
    doc = json.loads((tiny_project.path / "s.json").read_text())
    variants = doc["provenance"]["variants"]
    assert variants["seed=0"]["digest"] == tiny_model.digest
    assert variants["seed=1"]["digest"] != tiny_model.digest and variants["seed=1"]["training_seed"] == 1
    assert doc["seeds"]["phase33"]["seeds"] == [0, 1] and "not_measured" not in doc["seeds"]["phase33"]


def val_reduction(adapter: Path) -> float:
    from pytest_punie.checks.trainlog import parse_training_log

    log = parse_training_log(adapter / "train.log")
    first, last = log.val[0][1], log.val[-1][1]
    return (first - last) / first


def test_seeds_on_one_suite_and_seeds_a_gate_stops_are_named_never_measured(tiny_project, tiny_model):
    """`--punie-seeds=0,1` with one suite selected answers both seeds (the data gate holds the data to
    every suite it serves). A recipe whose pre-registered bound stops one seed at the training-log
    gate: INCOMPLETE, the summary covers the answered seed only and names the gate that stopped the
    other; every seed stopped: INCOMPLETE, no spread or interval from zero answered prompts."""
    both = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-seeds=0,1", "-k", "phase33", "--punie-json=b.json",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert both.ret in (0, 1), both.stdout.str()[-3000:]
    doc = json.loads((tiny_project.path / "b.json").read_text())
    assert len(doc["prompts"]) == 54 and all(p["response"] and not p["error"] for p in doc["prompts"])
    seeds = doc["seeds"]["phase33"]
    assert seeds["seeds"] == [0, 1] and seeds["covers"] == "all 2 seeds" and "not_measured" not in seeds
    adapters = {
        v: Path(next(b for b in doc["provenance"]["variants"][v]["builds"] if b["step"] == "adapter")["path"])
        for v in ("seed=0", "seed=1")
    }
    r0, r1 = (val_reduction(adapters[v]) for v in ("seed=0", "seed=1"))
    assert abs(r0 - r1) > 0.01, (r0, r1)
    weaker = 1 if r1 < r0 else 0
    pyproject = tiny_project.path / "pyproject.toml"
    plain = pyproject.read_text()
    entry = '[tool.punie.models.tiny_strict]\nrecipe = "tiny"\nbits = 5\ngroup_size = 64\nkeep_intermediates = true\n'

    def strict(bound: float) -> dict:
        pyproject.write_text(f"{plain}\n{entry}expect = {{ min_loss_decrease = 0.0, min_val_reduction = {bound} }}\n")
        run = tiny_project.runpytest_subprocess(
            "--punie-model=tiny_strict", "-m", "eval", "--punie-seeds=0,1", "-k", "phase33", "--punie-json=s.json",
            "-p", "no:cacheprovider",
        )  # fmt: skip
        assert run.ret == 7, run.stdout.str()[-3000:]  # INCOMPLETE
        out = json.loads((tiny_project.path / "s.json").read_text())
        assert out["verdict"] == "INCOMPLETE" and "[punie] building adapter" not in run.stdout.str()
        return {"run": run, "doc": out}

    one = strict(round((r0 + r1) / 2, 4))
    seeds = one["doc"]["seeds"]["phase33"]
    assert seeds["seeds"] == [1 - weaker] and seeds["asked"] == [0, 1]
    assert seeds["stopped_at"] == {str(weaker): "training log (before fusing)"}
    assert seeds["covers"] == f"1 of 2 seeds (seed {weaker} not measured)"
    answered = [p for p in one["doc"]["prompts"] if p["variant"] == f"seed={1 - weaker}"]
    assert len(answered) == 27 and all(p["response"] and not p["error"] for p in answered)
    assert seeds["overall"]["per_seed"].keys() == {str(1 - weaker)}
    one["run"].stdout.fnmatch_lines(
        [
            f"suite phase33: seed {weaker} stopped at the stage gate 'training log (before fusing)'*",
            f"suite phase33: 1 training seed (the figures cover 1 of 2 seeds (seed {weaker} not measured))",
        ]
    )
    reason = " ".join(one["doc"]["completeness"]["reasons"])
    assert f"seed={weaker} at 'training log (before fusing)'" in reason and "rerun to finish" not in reason

    none = strict(round(max(r0, r1) + 0.05, 4))["doc"]["seeds"]["phase33"]
    assert none["seeds"] == [] and none["stopped_at"] == dict.fromkeys(("0", "1"), "training log (before fusing)")
    assert "overall" not in none and "categories" not in none and "rule" not in none
    assert none["covers"].startswith("no seed")
