"""The embedded tiny model, end to end: built by the project, fused,
quantized, served and evaluated for real (no mocks)."""

from __future__ import annotations

import json
import shutil

import pytest

from pytest_punie.backends import ChatRequest
from pytest_punie.scoring.parse import parse_response
from pytest_punie.sources.modelsource import messages_for
from pytest_punie.suite import load_suite

from ..conftest import PHASE33

pytestmark = pytest.mark.slow


def normalized(response: dict) -> tuple:
    """What a response says, whatever the wire format: calls and visible text, and every later turn."""
    parsed = parse_response(response)
    later = tuple((t["role"], t["content"]) for t in (response.get("punie") or {}).get("turns") or [])
    return (
        tuple((c.name, (c.code or c.raw_arguments).strip()) for c in parsed.calls),
        parsed.visible_text.strip(),
        later,
    )


def client_view(response: dict) -> tuple:
    """What an OpenAI client sees: content, tool calls (name, arguments), finish reason."""
    choice = response["choices"][0]
    msg = choice["message"]
    calls = tuple((c["function"]["name"], c["function"]["arguments"]) for c in msg.get("tool_calls") or [])
    return msg.get("content"), calls, choice["finish_reason"]


def test_main_command_evaluates_the_tiny_model(tiny_project, tiny_model):
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-json=out.json", "--punie-md=out.md", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    # the three suites of evalsuites/, each with its table and verdict, then the run's verdict
    result.stdout.fnmatch_lines(
        [
            "*pytest-punie eval*",
            "suite phase26 *",
            "overall * 25/25 *",
            "field_access_rate * 20/20 *",
            "suite verdict phase26: *",
            "suite phase33 *",
            "overall * 27/27 *",
            "suite verdict phase33: *",
            "suite tasks *",
            "overall * 22/22 *",
            "suite verdict tasks: *",
            "VERDICT: *",
        ]
    )
    doc = json.loads((tiny_project.path / "out.json").read_text())
    assert len(doc["prompts"]) == 74 and [s["suite"] for s in doc["suites"]] == ["phase26", "phase33", "tasks"]
    phase26 = doc["suites"][0]
    assert phase26["metrics"]["field_access_rate"]["prompts"] == 20
    # the embedded default scores something real on Phase 26: direct answers and fields read
    labels = {p["id"]: p["label"] for p in doc["prompts"] if p["suite"].endswith("phase26.yaml")}
    assert "direct-answer" in labels.values() and "wrapped-correct" in labels.values(), labels
    assert phase26["metrics"]["field_access_rate"]["score"] > 0
    model = doc["provenance"]["model"]
    assert model["digest"] == tiny_model.digest and model["path"] == str(tiny_model.path)
    assert model["quantization"] == {"group_size": 64, "bits": 5, "mode": "affine"}
    assert [b["step"] for b in model["builds"]] == ["q4", "adapter", "fused", "q5"]
    assert not any(b["built_now"] for b in model["builds"])  # the fixture built it; this run reused it
    assert model["backend"] == "in-process"
    scored = [name for name, c in doc["categories"].items() if c["score"] > 0.1]
    assert len(scored) >= 4, doc["categories"]  # a real model: it scores on most categories
    assert "[punie] building" not in result.stdout.str()
    out = result.stdout.str()
    # what a person sees: every response as it completes, with a running count; no third-party noise
    result.stdout.fnmatch_lines(["[[]punie[]] * text-01 *legacy * strict * [[]*/27[]]", "*[[]27/27[]]"])
    assert "PyTorch was not found" not in out and "Failed to parse tool call" not in out
    result.stdout.fnmatch_lines(["model: tiny_5bit (model, in-process) *", "results: *.punie/runs/*-tiny_5bit/*"])

    one = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "-k", "phase26", "--punie-json=one.json", "-p", "no:cacheprovider"
    )
    assert one.ret == 1, one.stdout.str()[-3000:]
    one_doc = json.loads((tiny_project.path / "one.json").read_text())
    assert [s["suite"] for s in one_doc["suites"]] == ["phase26"] and len(one_doc["prompts"]) == 25
    assert "suite phase33" not in one.stdout.str()
    assert {p["id"]: p["scores"] for p in one_doc["prompts"]} == {
        p["id"]: p["scores"] for p in doc["prompts"] if p["suite"].endswith("phase26.yaml")
    }


def test_the_task_suite_carries_each_conversation_past_the_tool_and_scores_its_outcome(tiny_project):
    """``-m eval -k tasks``: every task answered and scored by the outcome scorer; the programs' output
    goes back and the model writes a second turn on most tasks; a miss shows its transcript; the
    document keeps each turn; the verdict is the suite's."""
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "-k", "tasks", "--punie-json=t.json", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    doc = json.loads((tiny_project.path / "t.json").read_text())
    assert [s["suite"] for s in doc["suites"]] == ["tasks"] and len(doc["prompts"]) == 22
    assert doc["suites"][0]["scorer"] == "outcome" and all(p["error"] is None for p in doc["prompts"])
    turns = {p["id"]: p["response"]["punie"].get("turns") or [] for p in doc["prompts"]}
    talked = {i: t for i, t in turns.items() if [x for x in t if x["role"] == "assistant"]}
    assert len(talked) > len(turns) / 2, {i: len(t) for i, t in turns.items()}  # a second model turn on most
    assert all(t[0]["role"] == "tool" and t[1]["role"] == "assistant" for t in talked.values())
    missed = [p["id"] for p in doc["prompts"] if not p["passed"] and p["id"] in talked]
    out = result.stdout.str()
    assert missed and all(f"task {m}" in out or f"{m} (" in out for m in missed)
    result.stdout.fnmatch_lines(["*tool response: *", "*the model: *", "VERDICT: *"])
    assert doc["verdict"] == ("PASS" if result.ret == 0 else "FAIL")


def test_inprocess_and_server_backends_agree_at_temperature_zero(tiny_model):
    from pytest_punie.backends.httpclient import HttpBackend
    from pytest_punie.backends.inprocess import InProcessBackend
    from pytest_punie.backends.managedserver import ManagedServer

    suite = load_suite(PHASE33)
    reqs = [ChatRequest(p.id, messages_for(suite, p), suite.sampling_for(p)) for p in suite.prompts]
    inprocess = InProcessBackend(tiny_model.path)
    local = inprocess.complete(reqs)
    # the system prompt's KV cache computed once, shared by every prompt; the ids still equal the server's
    assert inprocess.shared_prefix_tokens and inprocess.shared_prefix_tokens[0] > 50
    server = ManagedServer(tiny_model.path).start()
    try:
        served = HttpBackend(
            server.url, str(tiny_model.path), tokenizer_file=tiny_model.path / "tokenizer.json"
        ).complete(reqs)
    finally:
        server.stop()
    assert all(r.error is None for r in served), [r.error for r in served if r.error]
    ids = [
        (a.response["punie"]["token_ids"], b.response["punie"]["token_ids"]) for a, b in zip(local, served, strict=True)
    ]
    assert all(x == y for x, y in ids), [r.key for r, (x, y) in zip(reqs, ids, strict=True) if x != y]
    views = [
        (r.key, client_view(a.response), client_view(b.response)) for r, a, b in zip(reqs, local, served, strict=True)
    ]
    assert not [v for v in views if v[1] != v[2]], [v for v in views if v[1] != v[2]][:2]
    assert all(normalized(a.response) == normalized(b.response) for a, b in zip(local, served, strict=True))


def test_xdist_shares_one_server_and_matches_one_process(tiny_project):
    serial = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-json=s.json", "-p", "no:cacheprovider"
    )
    parallel = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "eval", "--punie-json=p.json", "-n", "2", "-p", "no:cacheprovider"
    )
    assert serial.ret == parallel.ret
    s = json.loads((tiny_project.path / "s.json").read_text())
    p = json.loads((tiny_project.path / "p.json").read_text())
    assert p["provenance"]["model"]["server"] == "managed, shared by xdist workers"  # one identity: one server
    assert p["provenance"]["model"]["digest"] == s["provenance"]["model"]["digest"]
    by_id = {x["id"]: x for x in s["prompts"]}
    for q in p["prompts"]:
        r = by_id[q["id"]]
        assert (q["scores"], q["label"]) == (r["scores"], r["label"]), q["id"]
        assert normalized(q["response"]) == normalized(r["response"]), q["id"]
    assert s["categories"] == p["categories"]


def test_a_changed_adapter_is_a_new_build(tiny_model, tmp_path):
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.steps import fuse_and_quantize

    q4 = next(b for b in tiny_model.builds if b["step"] == "q4")
    adapter = next(b for b in tiny_model.builds if b["step"] == "adapter")
    from pathlib import Path

    adapter_dir = Path(adapter["path"])
    checkpoints = sorted(adapter_dir.glob("00*_adapters.safetensors"))
    assert len(checkpoints) >= 3
    cache = BuildCache(tmp_path / "cache")
    logs: list[str] = []
    first = fuse_and_quantize(cache, Path(q4["path"]), checkpoints[0], 5, 64, logs.append)
    again = fuse_and_quantize(cache, Path(q4["path"]), checkpoints[0], 5, 64, logs.append)
    other = fuse_and_quantize(cache, Path(q4["path"]), checkpoints[1], 5, 64, logs.append)
    assert first[0].built and first[1].built
    assert not again[0].built and not again[1].built and again[1].path == first[1].path
    assert other[0].built and other[0].key != first[0].key and other[1].digest != first[1].digest
    # the user's adapter directory is read, never changed
    states = [f"{c.name[:7]}_resume.json" for c in checkpoints[:-1]]  # how each was reached (lorarun)
    assert sorted(p.name for p in adapter_dir.iterdir()) == sorted(
        [*[c.name for c in checkpoints], *states, "adapters.safetensors", "adapter_config.json", "train.log"]
        + ["punie-build.json"]
    )
    shutil.rmtree(tmp_path / "cache")


def test_fixtures_for_users_own_tests(tiny_project, tiny_model):
    tiny_project.makepyfile(
        test_mine="""
        def test_model_fixture(punie_model):
            assert punie_model.summary["quantization"]["bits"] == 5
            assert punie_model.digest.startswith("sha256:")

        ASK = [{"role": "user", "content": "Show the git status of the repository."}]

        def test_generate_fixture(punie_generate):
            r = punie_generate(ASK, max_tokens=64)
            assert r["object"] == "chat.completion" and r["punie"]["token_ids"]
            again = punie_generate(ASK, max_tokens=64)
            assert again["punie"]["token_ids"] == r["punie"]["token_ids"]  # greedy: reproducible
        """
    )
    result = tiny_project.runpytest_subprocess("--punie-model=tiny_5bit", "test_mine.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_registered_base_and_adapter_is_the_same_build(tiny_project, tiny_model):
    """A real model's registry entry (base + adapter + bits) takes the very path the
    tiny recipe's last two steps take: same inputs, so the same cached artifact."""
    q4 = next(b for b in tiny_model.builds if b["step"] == "q4")["path"]
    adapter = next(b for b in tiny_model.builds if b["step"] == "adapter")["path"]
    pyproject = tiny_project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.punie.models.fused_5bit]\nbase = "{q4}"\nadapter = "{adapter}"\nbits = 5\ngroup_size = 64\n'
    )
    result = tiny_project.runpytest_subprocess(
        "--punie-model=fused_5bit", "-m", "eval", "--punie-json=f.json", "-p", "no:cacheprovider"
    )
    assert result.ret in (0, 1)
    model = json.loads((tiny_project.path / "f.json").read_text())["provenance"]["model"]
    assert model["name"] == "fused_5bit" and model["digest"] == tiny_model.digest
    assert [b["built_now"] for b in model["builds"]] == [False, False]
    checks = tiny_project.runpytest_subprocess("--punie-model=fused_5bit", "-m", "pipeline", "-p", "no:cacheprovider")
    checks.assert_outcomes(passed=6)  # fused, adapter-applied, quantized, parity, eos, smoke


def test_an_external_openai_compatible_server(tiny_project, tiny_model, tmp_path):
    """``mlx_lm server --model X`` answered by ``--punie-server-model=X``: X, a model folder here, supplies
    the tokenizer that reads the replies back (recorded in provenance; ``--punie-tokenizer`` overrides
    it); a server model named otherwise (mlx_lm's own ``default_model``) with no tokenizer is INVALID."""
    from pytest_punie.backends.managedserver import ManagedServer

    other = tmp_path / "tokenizer-copy"
    other.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (other / name).write_bytes((tiny_model.path / name).read_bytes())
    common = ["-m", "eval", "-p", "no:cacheprovider"]
    server = ManagedServer(tiny_model.path).start()
    try:
        url = f"--punie-server-url={server.url}"
        missing = tiny_project.runpytest_subprocess(*common, url)
        assert missing.ret == pytest.ExitCode.USAGE_ERROR  # never "the first id of /v1/models"
        blind = tiny_project.runpytest_subprocess(
            *common, url, "--punie-server-model=default_model", "--punie-json=blind.json"
        )
        result = tiny_project.runpytest_subprocess(
            *common, url, f"--punie-server-model={tiny_model.path}", "--punie-json=x.json"
        )
        overridden = tiny_project.runpytest_subprocess(
            *common, url, f"--punie-server-model={tiny_model.path}", f"--punie-tokenizer={other}", "-k", "phase33",
            "--punie-json=o.json",
        )  # fmt: skip
    finally:
        server.stop()
    assert overridden.ret in (0, 1), overridden.stdout.str()[-2000:]
    read_with = json.loads((tiny_project.path / "o.json").read_text())["provenance"]["model"]["tokenizer"]
    assert read_with["from"] == "--punie-tokenizer" and read_with["path"] == str(other / "tokenizer.json")
    # without the tokenizer the server's empty tool_calls answers (calls it could not parse) are unknowable
    assert blind.ret == 6, blind.stdout.str()[-2000:]
    blind.stdout.fnmatch_lines(
        ["WARNING: INVALID: the server (it kept no raw text*--punie-tokenizer DIR, or --punie-server-model naming*"]
    )
    blind_doc = json.loads((tiny_project.path / "blind.json").read_text())
    assert {p["label"] for p in blind_doc["prompts"] if p["served"] == "dropped"} == {"unknown"}
    assert result.ret in (0, 1)
    doc = json.loads((tiny_project.path / "x.json").read_text())
    assert doc["verdict"] == "FAIL" and {p["served"] for p in doc["prompts"]} <= {"parsed", "unclosed", "no-call"}
    assert doc["provenance"]["model"]["kind"] == "external-server"
    assert doc["provenance"]["model"]["url"] == server.url
    tokenizer = doc["provenance"]["model"]["tokenizer"]
    assert tokenizer["from"] == "the --punie-server-model folder"
    assert tokenizer["path"] == str(tiny_model.path.resolve() / "tokenizer.json")
    assert tokenizer["digest"].startswith("sha256:")
    assert all(p["error"] is None for p in doc["prompts"])
    # the task suite's conversations go on through the endpoint: tool responses sent, later turns written
    tasks = [p["response"]["punie"].get("turns") or [] for p in doc["prompts"] if p["suite"].endswith("tasks.yaml")]
    assert len(tasks) == 22 and sum(any(t["role"] == "assistant" for t in ts) for ts in tasks) > 11
