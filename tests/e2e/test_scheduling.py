"""The in-process scheduler on the tiny model, counted in the backend: every decode step makes one
token of one answer (a prompt is never moved out of the window and started again), so the tokens
decoded equal the answers' lengths; a narrow window (by its limit, or by time limits that let few
run at once) gives the same token ids as a wide one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_punie.backends import ChatRequest
from pytest_punie.sources.modelsource import messages_for
from pytest_punie.suite import load_suite

from ..conftest import PHASE33

pytestmark = pytest.mark.slow


def requests(**sampling) -> list[ChatRequest]:
    suite = load_suite(PHASE33)
    return [
        ChatRequest(p.id, messages_for(suite, p), replace(suite.sampling_for(p), **sampling)) for p in suite.prompts
    ]


def assert_each_token_decoded_once(backend, reqs, records) -> None:
    """Decode steps per prompt = its answer's tokens (and the stop token it ended on); their sum is
    everything the generator decoded: nothing generated twice, nothing lost."""
    assert all(r.error is None and r.response for r in records), [r.error for r in records if r.error]
    for req, record in zip(reqs, records, strict=True):
        ids = record.response["punie"]["token_ids"]
        stopped = 1 if "stop_token" in record.response["punie"] else 0
        assert backend.decode_steps[req.key] == len(ids) + stopped, req.key
    assert sum(backend.decode_steps.values()) == backend.decoded_tokens
    assert sum(len(ids) for ids in backend.last_token_ids.values()) >= 27  # prompts were answered, with tokens


def test_every_decode_step_is_one_token_of_one_answer_in_a_wide_and_a_narrow_window(tiny_model):
    from pytest_punie.backends.inprocess import InProcessBackend

    reqs = requests()
    wide = InProcessBackend(tiny_model.path)
    wide_records = wide.complete(reqs)
    assert_each_token_decoded_once(wide, reqs, wide_records)
    assert wide.widths[0][0] == 1  # the first prompt alone measures the step cost
    narrow = InProcessBackend(tiny_model.path)
    narrow.max_batch = 4  # never more than 4 at once: 23 prompts wait for a place and are admitted later
    narrow_records = narrow.complete(reqs)
    assert_each_token_decoded_once(narrow, reqs, narrow_records)
    assert max(narrow.widths[0]) <= 4 and len(narrow.widths[0]) > 5
    assert narrow.last_token_ids == wide.last_token_ids


def test_time_limits_that_let_few_run_at_once_lose_no_prompt_and_decode_nothing_twice(tiny_model, monkeypatch):
    """A long bound (2,048 tokens) against a short limit: at first only what a full answer at that
    width fits is admitted; more start as short answers finish. Every prompt is whole, none cut.

    The planner is given a recorded step cost (3 ms per sequence sharing a step, the order of the
    real shape's on this CPU) instead of this machine's measured one: what a 20 s limit admits then
    depends on the answers, not on how busy the machine is (measured, a quiet moment's 0.25 ms steps
    let all 27 in at once and a busy one's half as many). The generation, its clocks and its cuts
    stay real: every answer must still finish inside its own real limit."""
    from pytest_punie.backends import window
    from pytest_punie.backends.inprocess import InProcessBackend

    recorded = 0.003  # seconds per step per sequence: alone 6.1 s for 2,048 tokens, two 12.3 s, three 18.4 s
    monkeypatch.setattr(window.StepCost, "at", lambda self, n: recorded * max(1, n) if self.measured else None)
    backend = InProcessBackend(tiny_model.path)
    said: list[str] = []
    backend.note = said.append
    backend.complete(requests()[:2])  # warm: the model loaded, first steps compiled
    long = requests(max_tokens=2048, timeout_s=20.0)
    backend.decode_steps, backend.decoded_tokens = {}, 0
    records = backend.complete(long)
    assert_each_token_decoded_once(backend, long, records)
    assert not [r for r in records if r.response["choices"][0]["finish_reason"] == "timeout"]
    widths = backend.widths[0]
    # the probe alone; then what fits 0.7 x 20 s with every running answer projected to 2,048 tokens
    # (two at 3 ms a sequence); wider once answers finished short
    assert widths[:2] == [1, 2] and max(widths) > 2, widths
    plans = [line for line in said if line.startswith("generating 27 prompts")]
    assert len(plans) == 1, said  # the plan is said once, not once per re-plan


def test_an_answer_that_is_the_wrapper_gives_its_likelihood_from_its_own_positions(tiny_model, monkeypatch):
    """Where an answer began with the wrapper's tokens, the generator's log-probabilities at those
    positions are the wrapper's (the same context): no extra tokens are run for it, and the figures
    equal the teacher-forced forward pass over prompt and wrapper (1e-4 per token)."""
    import pytest_punie.backends.inprocess as inprocess
    from pytest_punie.backends.firstposition import WRAPPER_AFTER_OPENER
    from pytest_punie.backends.inprocess import InProcessBackend

    reqs = requests()
    own = InProcessBackend(tiny_model.path)
    records = own.complete(reqs)
    wrapper = [own.opener_id(), *own._tokenizer.encode(WRAPPER_AFTER_OPENER, add_special_tokens=False)]
    forced = InProcessBackend(tiny_model.path)
    monkeypatch.setattr(inprocess, "_after_prompt", lambda *a: None)  # the teacher-forced pass, every prompt
    forced_records = forced.complete(reqs)
    assert forced.last_token_ids == own.last_token_ids
    whole = 0
    for req, a, b in zip(reqs, records, forced_records, strict=True):
        ours, theirs = (r.response["punie"]["first_position"]["wrapper"] for r in (a, b))
        assert ours["per_token"] == pytest.approx(theirs["per_token"], abs=1e-4), req.key
        assert forced.wrapper_tokens_run[req.key] > len(wrapper)  # prompt and wrapper were run there
        if own.last_token_ids[req.key][: len(wrapper)] == wrapper:
            assert own.wrapper_tokens_run[req.key] == 0, req.key
            whole += 1
        else:
            assert 0 < own.wrapper_tokens_run[req.key] < len(wrapper), req.key  # the opener's came free
    assert whole >= 10  # the tool-call answers wrote the wrapper themselves
