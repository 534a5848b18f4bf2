"""The response cache with the real tiny model: an identical rerun generates
nothing and imports no mlx; another sampling misses; --punie-no-cache generates."""

from __future__ import annotations

import json
import shutil

import pytest

from ..conftest import cache_dir

pytestmark = pytest.mark.slow


def run(project, name: str, *args: str):
    result = project.runpytest_subprocess(
        "--punie-model=tiny_5bit",
        "-m",
        "eval",
        "-k",
        "phase26",
        f"--punie-json={name}",
        "-p",
        "no:cacheprovider",
        *args,
    )
    assert result.ret == 1, result.stdout.str()[-2000:]  # the tiny model's honest FAIL, whatever the source
    return result, json.loads((project.path / name).read_text())


def ids(doc: dict) -> dict:
    return {p["id"]: p["response"]["punie"]["token_ids"] for p in doc["prompts"]}


def test_an_identical_rerun_comes_from_the_cache(tiny_project, tiny_model, monkeypatch):
    shutil.rmtree(cache_dir() / "responses" / tiny_model.digest.removeprefix("sha256:")[:24], ignore_errors=True)
    _, first = run(tiny_project, "first.json")
    assert first["response_cache"]["hits"] == 0 and first["response_cache"]["misses"] == 25

    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # every module the rerun imports, on stderr
    again, second = run(tiny_project, "second.json")
    monkeypatch.delenv("PYTHONPROFILEIMPORTTIME")
    assert second["response_cache"]["hits"] == 25 and second["response_cache"]["misses"] == 0
    again.stdout.fnmatch_lines(
        ["[[]punie[]] 25 responses from cache (phase26; *), 0 to generate*", "[[]punie[]] * cached *[[]25/25[]]"]
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.lines if line.startswith("import time:")}
    assert any(m.startswith("pytest_punie.") for m in imported)  # the listing is of this run
    assert not {m for m in imported if m.split(".")[0] in ("mlx", "mlx_lm")}
    assert ids(second) == ids(first)
    assert [p["scores"] for p in second["prompts"]] == [p["scores"] for p in first["prompts"]]
    assert all(p["response"]["punie"]["from_cache"] for p in second["prompts"])
    assert second["provenance"]["model"]["digest"] == tiny_model.digest  # verified in this run all the same

    forced, third = run(tiny_project, "third.json", "--punie-no-cache")
    assert third["response_cache"] is None and "from cache" not in forced.stdout.str()
    assert ids(third) == ids(first) and not any(p["response"]["punie"].get("from_cache") for p in third["prompts"])

    _, shorter = run(tiny_project, "shorter.json", "--punie-max-tokens=40")  # another sampling: nothing kept fits
    assert shorter["response_cache"] == {**shorter["response_cache"], "hits": 0, "misses": 25}
