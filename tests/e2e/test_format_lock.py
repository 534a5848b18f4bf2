"""The format lock on the embedded model: each prompt's P(opener) and margin equal an independent
computation (mlx-lm's load, one forward pass, a log-softmax: no pytest-punie code), and on a
temperature sweep the expected wrong openings are printed beside the observed ones."""

from __future__ import annotations

import json
import math

import pytest
import yaml

pytestmark = pytest.mark.slow


def independent_first_position(model_path, system: str | None, query: str) -> tuple[float, float, int, float]:
    """log P(<tool_call>), the best other token's log P and its id, at the first generated position,
    and the teacher-forced log-likelihood of the whole wrapper prefix."""
    import mlx.core as mx
    from mlx_lm import load

    model, tokenizer = load(str(model_path))
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": query}]
    tokens = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    logits = model(mx.array(tokens)[None])[0, -1].astype(mx.float32)
    logprobs = logits - mx.logsumexp(logits)
    (opener,) = tokenizer.encode("<tool_call>", add_special_tokens=False)
    order = [int(i) for i in mx.argsort(-logprobs)[:2].tolist()]
    other = next(i for i in order if i != opener)
    wrapper = tokenizer.encode("<tool_call><function=execute_code>\n<parameter=code>\n", add_special_tokens=False)
    forced = model(mx.array(tokens + wrapper)[None])[0].astype(mx.float32)
    forced = forced - mx.logsumexp(forced, axis=-1, keepdims=True)
    loglik = sum(float(forced[len(tokens) - 1 + i, t]) for i, t in enumerate(wrapper))
    return float(logprobs[opener]), float(logprobs[other]), other, loglik


def close(a, b, tol: float = 1e-4) -> bool:
    """Two records equal, numbers to ``tol``: what two batches of the same prompts measure."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= tol
    return a == b


def test_every_prompt_s_p_opener_and_margin_match_one_forward_pass(tiny_project, tiny_model):
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-json=lock.json", "--punie-no-cache", "-p", "no:cacheprovider",
        "--punie-record=rec.jsonl",
    )  # fmt: skip
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*P(open) 0.* nats*", "*pytest-punie format lock*", "overall *"])
    doc = json.loads((tiny_project.path / "lock.json").read_text())
    suites = {s["path"]: yaml.safe_load((tiny_project.path / s["path"]).read_text()) for s in doc["suites"]}
    checked = 0
    for p in doc["prompts"]:
        suite = suites[p["suite"]]
        query = next(q["query"] for q in suite["prompts"] if q["id"] == p["id"])
        logp_open, logp_other, other, loglik = independent_first_position(
            tiny_model.path, suite.get("system_prompt"), query
        )
        first = p["response"]["punie"]["first_position"]
        assert first["logp_opener"] == pytest.approx(logp_open, abs=1e-4), p["id"]
        assert first["logp_runner_up"] == pytest.approx(logp_other, abs=1e-4), p["id"]
        assert first["runner_up_id"] == other or abs(logp_other - first["logp_runner_up"]) < 1e-4  # a tie
        assert first["wrapper"]["loglik"] == pytest.approx(loglik, abs=1e-3), p["id"]  # a sum over 8 tokens
        assert first["wrapper"]["per_token"][0] == pytest.approx(first["logp_opener"], abs=1e-4)
        lock = p["format_lock"]
        assert lock["p_opener"] == pytest.approx(math.exp(logp_open), abs=1e-4)
        sign = 1 if p["expected"]["kind"] != "direct" else -1
        assert lock["margin"] == pytest.approx(sign * (logp_open - logp_other), abs=2e-4), p["id"]
        checked += 1
    assert checked == 74
    # a replayed run reports the same margins: the record keeps each response's first position
    replay = tiny_project.runpytest_subprocess(
        "-m", "eval", "--punie-responses=rec.jsonl", "--punie-json=replay.json", "-p", "no:cacheprovider"
    )
    assert replay.ret in (0, 1), replay.stdout.str()[-2000:]
    again = {
        (p["suite"], p["id"]): p["format_lock"]
        for p in json.loads((tiny_project.path / "replay.json").read_text())["prompts"]
    }
    assert all(again[p["suite"], p["id"]] == p["format_lock"] for p in doc["prompts"])
    # and so does a rerun answered from the response cache (the first position is kept with the response)
    for name in ("fill.json", "cached.json"):
        run = tiny_project.runpytest_subprocess(
            "--punie-model=tiny_5bit", "-m", "eval", f"--punie-json={name}", "-p", "no:cacheprovider"
        )
        assert run.ret in (0, 1)
    run.stdout.fnmatch_lines(["*responses from cache*"])
    cached = {
        (p["suite"], p["id"]): p["format_lock"]
        for p in json.loads((tiny_project.path / "cached.json").read_text())["prompts"]
    }
    # the kept responses may come from another run of this model (the README's, one suite at a time):
    # another batch gives the same tokens, and log-probabilities equal to float noise (1e-6 seen)
    for p in doc["prompts"]:
        assert close(cached[p["suite"], p["id"]], p["format_lock"]), p["id"]
    lock = next(s for s in doc["suites"] if s["suite"] == "phase33")["format_lock"]
    assert lock["overall"]["prompts"] == 27 and "0.7" in lock["overall"]["expected_wrong_openings"]


def test_a_weakened_lock_is_seen_by_the_gate_while_no_prompt_flips(tiny_project, tiny_model):
    """On this model the LoRA adapter's own direction is what weakens the opener (scaling it down
    to 0.9 strengthened the lock: median +0.25 nats), so the candidate is the same adapter at 1.02x
    its scale: every greedy answer of Phase 33 stays as it was, the margins drop."""
    import shutil
    from pathlib import Path

    adapter = Path(next(b for b in tiny_model.builds if b["step"] == "adapter")["path"])
    q4 = Path(next(b for b in tiny_model.builds if b["step"] == "q4")["path"])
    shifted = tiny_project.path / "shifted-adapter"
    shifted.mkdir()
    shutil.copy(adapter / "adapters.safetensors", shifted)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["lora_parameters"]["scale"] *= 1.02
    (shifted / "adapter_config.json").write_text(json.dumps(config))
    pyproject = tiny_project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.punie.models.shifted]\nbase = "{q4}"\nadapter = "{shifted}"\nbits = 5\ngroup_size = 64\n'
    )
    common = ["-m", "eval", "-k", "phase33", "-p", "no:cacheprovider"]
    saved = tiny_project.runpytest_subprocess("--punie-model=tiny_5bit", "--punie-save=prod", *common)
    assert saved.ret in (0, 1), saved.stdout.str()[-2000:]
    assert "saved baseline" in saved.stdout.str(), saved.stdout.str()[-2000:]
    result = tiny_project.runpytest_subprocess(
        "--punie-model=shifted", "--punie-compare=prod", "--punie-json=c.json", *common
    )
    result.stdout.fnmatch_lines(["format lock weakened: median margin change -* nats over 27 prompts (exact Wilcoxon*"])
    comp = json.loads((tiny_project.path / "c.json").read_text())["comparison"]
    assert comp["flips"] == []  # the pass/fail comparison sees nothing
    assert comp["format_lock"]["verdict"] == "weakened" and comp["format_lock"]["p_value"] < 0.01
    assert not any(
        "format lock" in r for r in json.loads((tiny_project.path / "c.json").read_text())["gate"]["reasons"]
    )
    # pre-registered in the suite, the weakened lock is a reason the gate fails
    suite = tiny_project.path / "evalsuites" / "phase33.yaml"
    suite.write_text(suite.read_text().replace("datasets:\n", "format_lock:\n  gate: true\ndatasets:\n", 1))
    saved = tiny_project.runpytest_subprocess("--punie-model=tiny_5bit", "--punie-save=prod2", *common)
    assert "saved baseline" in saved.stdout.str()
    gated = tiny_project.runpytest_subprocess(
        "--punie-model=shifted", "--punie-compare=prod2", "--punie-json=g.json", *common
    )
    assert gated.ret == 1
    reasons = json.loads((tiny_project.path / "g.json").read_text())["gate"]["reasons"]
    assert any(r.startswith("format lock weakened") and "(the suite gates on it)" in r for r in reasons), reasons


def test_the_expected_wrong_openings_match_sampled_generation(tiny_model):
    """Predicted from the log-probabilities at T = 0.7 (top_p 1), then generated for real:
    27 prompts x 30 seeds, the first token of each. The observed count of openers must lie within
    3 standard deviations of the prediction (a sum of independent Bernoullis)."""
    import math

    from pytest_punie.backends import ChatRequest
    from pytest_punie.backends.inprocess import InProcessBackend
    from pytest_punie.suite import load_suite
    from pytest_punie.suite.suitetypes import Sampling, chat_messages

    from ..conftest import PHASE33

    suite = load_suite(PHASE33)
    backend = InProcessBackend(tiny_model.path)
    greedy = [
        ChatRequest(p.id, chat_messages(suite.system_prompt, p.query), Sampling(max_tokens=1)) for p in suite.prompts
    ]
    firsts = {
        r.key: rec.response["punie"]["first_position"] for r, rec in zip(greedy, backend.complete(greedy), strict=True)
    }
    predicted = {k: f["p_opener_at"]["0.7"] for k, f in firsts.items()}  # top_p 1: grid value
    seeds = range(30)
    sampled = [
        ChatRequest(
            f"{p.id}#{s}", chat_messages(suite.system_prompt, p.query), Sampling(temperature=0.7, max_tokens=1, seed=s)
        )
        for s in seeds
        for p in suite.prompts
    ]
    records = backend.complete(sampled)
    opened = sum(
        1 for r in records if r.response["punie"]["token_ids"][:1] == [firsts[next(iter(firsts))]["opener_id"]]
    )
    expected = len(seeds) * sum(predicted.values())
    sd = math.sqrt(len(seeds) * sum(p * (1 - p) for p in predicted.values()))
    assert abs(opened - expected) <= 3 * sd, (opened, expected, sd)
    assert 0 < sum(1 - p for p in predicted.values()) < len(predicted)  # some prompts are not sure: a real test


def test_prompt_sensitivity_reports_the_range_under_the_suite_s_paraphrases(tiny_project, tiny_model):
    """Opt-in: each prompt's lock under the suite's system-prompt paraphrases (one greedy token each),
    the raw first positions equal to an independent forward pass, the range reported."""
    paraphrases = ["You are Punie, a coding assistant for Python projects.", "You help with Python code."]
    suite = tiny_project.path / "evalsuites" / "phase33.yaml"
    listed = "".join(f"  - {p}\n" for p in paraphrases)
    suite.write_text(suite.read_text().replace("datasets:\n", f"system_prompt_variants:\n{listed}datasets:\n", 1))
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "-k", "phase33", "--punie-prompt-sensitivity",
        "--punie-json=sens.json", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*under 3 system prompts: smallest margin * nats, widest range * nats, *"])
    doc = json.loads((tiny_project.path / "sens.json").read_text())
    for p in doc["prompts"]:
        lock = p["format_lock"]
        assert lock["system_prompts"] == 3
        assert lock["margin_range"][0] <= lock["margin"] <= lock["margin_range"][1]
    first = next(p for p in doc["prompts"] if p["id"] == "text-01")
    query = first["query"]
    for text, recorded in zip(paraphrases, first["response"]["punie"]["first_position_variants"], strict=True):
        logp_open, logp_other, _other, _ll = independent_first_position(tiny_model.path, text, query)
        assert recorded["logp_opener"] == pytest.approx(logp_open, abs=1e-4)
        assert recorded["logp_runner_up"] == pytest.approx(logp_other, abs=1e-4)
    assert "sensitivity" in next(s for s in doc["suites"] if s["suite"] == "phase33")["format_lock"]["overall"]
