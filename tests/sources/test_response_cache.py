"""The response cache: what it keys on, what it never serves, and a run
interrupted half-way resuming from what it kept (no model: a backend that
answers like one, so that only the cache is under test)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pytest_punie.backends import ChatRequest, ResponseRecord
from pytest_punie.sources.modelsource import ModelSource
from pytest_punie.sources.responsecache import ResponseCache
from pytest_punie.suite.suitetypes import Sampling

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def request(key: str = "p#0", query: str = "status?", **sampling) -> ChatRequest:
    return ChatRequest(key, ({"role": "user", "content": query},), Sampling(**sampling))


def record(text: str = "done") -> ResponseRecord:
    return ResponseRecord({"choices": [{"message": {"role": "assistant", "content": text}}], "punie": {}}, seconds=0.5)


def test_a_kept_response_comes_back_marked(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    assert cache.get(request()) is None
    cache.put(request(), record())
    got = cache.get(request())
    assert got is not None and got.response["choices"][0]["message"]["content"] == "done"
    assert got.response["punie"]["from_cache"] is True and got.seconds == 0.5
    assert cache.get(replace(request(), key="another id")) is not None  # the id is not what is asked


@pytest.mark.parametrize(
    "changed",
    [
        lambda r: request(query="status now?"),
        lambda r: request(max_tokens=64),
        lambda r: request(stop=("<|im_end|>",)),
        lambda r: request(temperature=0.7, seed=1),
        lambda r: ChatRequest(r.key, ({"role": "system", "content": "other"}, *r.messages), r.sampling),
    ],
)
def test_a_changed_prompt_or_sampling_misses(tmp_path, changed):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    cache.put(request(), record())
    assert cache.get(changed(request())) is None


def test_the_timeout_is_not_part_of_the_key(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    cache.put(request(), record())
    assert cache.get(request(timeout_s=5)) is not None


def test_never_served_to_another_artifact_backend_or_version(tmp_path, monkeypatch):
    ResponseCache(tmp_path, DIGEST, "in-process").put(request(), record())
    assert ResponseCache(tmp_path, OTHER, "in-process").get(request()) is None
    assert ResponseCache(tmp_path, DIGEST, "server").get(request()) is None
    newer = ResponseCache(tmp_path, DIGEST, "in-process")
    newer.versions = {**newer.versions, "mlx-lm": "99.0"}
    assert newer.get(request()) is None
    # an entry copied under another artifact's folder is refused by what it says inside
    mine = ResponseCache(tmp_path, DIGEST, "in-process")
    theirs = ResponseCache(tmp_path, OTHER, "in-process")
    theirs.folder.mkdir(parents=True)
    for f in mine.folder.iterdir():
        entry = json.loads(f.read_text())
        (theirs.folder / f"{theirs.key(request())}.json").write_text(json.dumps(entry))
    assert theirs.get(request()) is None


def test_errors_random_samples_and_damaged_entries_are_not_kept(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    cache.put(request(), ResponseRecord(None, error="timeout"))
    assert cache.get(request()) is None
    sampled = request(temperature=0.7)  # no seed: another run would sample another answer
    cache.put(sampled, record())
    assert cache.get(sampled) is None and not ResponseCache.cacheable(sampled)
    cache.put(request(), record())
    (cache.folder / f"{cache.key(request())}.json").write_text("{not json")
    assert cache.get(request()) is None


class Answering:
    """A backend that answers every request, and can stop half-way like Ctrl-C."""

    def __init__(self, stop_after: int | None = None):
        self.asked: list[str] = []
        self.stop_after = stop_after

    def identity(self):
        return {"backend": "test"}

    def complete(self, requests, on_result=None):
        out = []
        for i, req in enumerate(requests):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt
            self.asked.append(req.key)
            rec = record(f"answer to {req.messages[-1]['content']}")
            if on_result is not None:
                on_result(req, rec)
            out.append(rec)
        return out

    def close(self):
        pass


def test_an_interrupted_run_resumes_from_what_it_kept(tmp_path, phase33):
    prompts = list(phase33.prompts)
    first = ModelSource(Answering(stop_after=10), {}, {}, response_cache=ResponseCache(tmp_path, DIGEST, "in-process"))
    with pytest.raises(KeyboardInterrupt):
        first.get(phase33, prompts[0], prompts)
    backend = Answering()
    again = ModelSource(backend, {}, {}, response_cache=ResponseCache(tmp_path, DIGEST, "in-process"))
    said: list[str] = []
    again.progress = said.append
    again.get(phase33, prompts[0], prompts)
    assert len(backend.asked) == 17  # only what the interrupted run had not finished
    assert again.response_cache.summary()["hits"] == 10 and again.response_cache.misses == 17
    assert said[0].startswith("10 responses from cache (phase33; ")
    # a person still sees every response, the kept ones said as such, counted over all 27
    assert [" cached " in line for line in said[1:]] == [True] * 10 + [False] * 17
    assert said[10].endswith("[10/27]") and "[27/27]" in said[-1] and "tok/s, slowest" in said[-1]
    third = ModelSource(Answering(stop_after=0), {}, {}, response_cache=ResponseCache(tmp_path, DIGEST, "in-process"))
    third.get(phase33, prompts[0], prompts)  # all 27 kept: the backend is never asked
    assert third.response_cache.hits == 27 and third.identity()["response_cache"]["misses"] == 0


def test_without_a_cache_every_response_is_generated(phase33):
    backend = Answering()
    ModelSource(backend, {}, {}).get(phase33, phase33.prompts[0], list(phase33.prompts))
    assert len(backend.asked) == 27
