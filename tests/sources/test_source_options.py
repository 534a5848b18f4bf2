"""The sources' options: read once from pytest's config into one frozen value that the factory
functions take, each value already checked by its option's type= while pytest parsed it."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_punie.sources.sourceoptions import SourceOptions, source_options


def test_the_options_are_read_once_frozen_and_typed(pytestconfig):
    first = source_options(pytestconfig)
    assert source_options(pytestconfig) is first  # one read per run
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.model = "other"  # type: ignore[misc]
    assert first.root == pytestconfig.rootpath and first.timeout_scale == 1.0 and first.repeat == 1


def test_what_a_run_uses_follows_from_the_values(tmp_path):
    assert SourceOptions(tmp_path, model="tiny_5bit").uses_model
    assert not SourceOptions(tmp_path, model="tiny_5bit", responses="r.jsonl").uses_model
    assert not SourceOptions(tmp_path, model="tiny_5bit", server_urls=("http://127.0.0.1:1",)).uses_model
    opts = SourceOptions(tmp_path, temperature=0.7, max_tokens=64, seed=3)
    assert opts.sampling_overrides() == {"temperature": 0.7, "max_tokens": 64, "seed": 3}
