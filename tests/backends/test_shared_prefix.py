"""The common prefix the in-process backend prefills once: every prompt starts with
it, and each keeps at least one token of its own to prefill."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.backends.inprocess import shared_prefix_length

tokens = st.lists(st.integers(0, 3), min_size=1, max_size=12)


@given(st.lists(tokens, min_size=1, max_size=6))
def test_the_prefix_is_common_and_leaves_each_prompt_a_token(prompts):
    n = shared_prefix_length(prompts)
    assert all(p[:n] == prompts[0][:n] for p in prompts)
    assert all(len(p) > n for p in prompts)
    longer = n + 1
    # the longest such prefix: one token more is either not shared or leaves a prompt empty
    assert any(len(p) <= longer or p[:longer] != prompts[0][:longer] for p in prompts)


def test_a_system_prompt_shared_by_every_prompt():
    system = [7, 1, 2, 3, 4]
    assert shared_prefix_length([system + [9, 9], system + [8], system + [9, 1, 1]]) == 5
    assert shared_prefix_length([[1, 2], [1, 2]]) == 1  # identical prompts keep their last token
    assert shared_prefix_length([[5], [5, 6]]) == 0
