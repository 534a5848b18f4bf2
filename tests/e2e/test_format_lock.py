"""The format lock on the embedded model: each prompt's P(opener) and margin equal an independent
computation (mlx-lm's load, one forward pass, a log-softmax: no pytest-punie code), and on a
temperature sweep the expected wrong openings are printed beside the observed ones."""

from __future__ import annotations

import json
import math

import pytest
import yaml

pytestmark = pytest.mark.slow


def independent_first_position(model_path, system: str | None, query: str) -> tuple[float, float, int]:
    """log P(<tool_call>), the best other token's log P and its id, at the first generated position."""
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
    return float(logprobs[opener]), float(logprobs[other]), other


def test_every_prompt_s_p_opener_and_margin_match_one_forward_pass(tiny_project, tiny_model):
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-json=lock.json", "--punie-no-cache", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*P(open) 0.* nats*", "*pytest-punie format lock*", "overall *"])
    doc = json.loads((tiny_project.path / "lock.json").read_text())
    suites = {s["path"]: yaml.safe_load((tiny_project.path / s["path"]).read_text()) for s in doc["suites"]}
    checked = 0
    for p in doc["prompts"]:
        suite = suites[p["suite"]]
        query = next(q["query"] for q in suite["prompts"] if q["id"] == p["id"])
        logp_open, logp_other, other = independent_first_position(tiny_model.path, suite.get("system_prompt"), query)
        first = p["response"]["punie"]["first_position"]
        assert first["logp_opener"] == pytest.approx(logp_open, abs=1e-4), p["id"]
        assert first["logp_runner_up"] == pytest.approx(logp_other, abs=1e-4), p["id"]
        assert first["runner_up_id"] == other or abs(logp_other - first["logp_runner_up"]) < 1e-4  # a tie
        lock = p["format_lock"]
        assert lock["p_opener"] == pytest.approx(math.exp(logp_open), abs=1e-4)
        sign = 1 if p["expected"]["kind"] != "direct" else -1
        assert lock["margin"] == pytest.approx(sign * (logp_open - logp_other), abs=2e-4), p["id"]
        checked += 1
    assert checked == 52
    lock = next(s for s in doc["suites"] if s["suite"] == "phase33")["format_lock"]
    assert lock["overall"]["prompts"] == 27 and "0.7" in lock["overall"]["expected_wrong_openings"]
