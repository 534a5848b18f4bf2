"""The response cache, pinned where a wrong answer would be served or kept: its folder per artifact,
the key's exact definition (kept entries must stay findable across versions of this plugin), what
is never kept, and entries in the user's own characters."""

from __future__ import annotations

import hashlib
import json

from pytest_punie.backends import ChatRequest, ResponseRecord
from pytest_punie.sources.responsecache import FORMAT, ResponseCache
from pytest_punie.suite.suitetypes import Sampling

DIGEST = "sha256:" + "0123456789abcdef" * 4


def request(query: str = "Où est le statut ?", **sampling) -> ChatRequest:
    return ChatRequest("p#0", ({"role": "user", "content": query},), Sampling(**sampling))


def record(text: str = "Voilà") -> ResponseRecord:
    return ResponseRecord({"choices": [{"message": {"role": "assistant", "content": text}}], "punie": {}}, seconds=1.0)


def test_entries_live_in_one_folder_per_artifact_under_the_root(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    assert cache.folder == tmp_path / "responses" / ("0123456789abcdef" * 4)[:24]
    cache.put(request(), record())
    (entry,) = cache.folder.iterdir()
    assert entry.name == f"{cache.key(request())}.json"


def test_the_key_is_the_digest_of_its_material_written_one_way(tmp_path):
    """Sorted keys, compact, UTF-8 as written: an entry kept by this version is found by the next."""
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    material = cache.key_material(request())
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert cache.key(request()) == hashlib.sha256(blob).hexdigest()
    assert list(material) == ["artifact_digest", "messages", "sampling", "backend", "versions"]
    assert "timeout_s" not in material["sampling"] and material["messages"][0]["content"] == "Où est le statut ?"


def test_an_entry_keeps_the_users_characters(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    cache.put(request(), record("Voilà, c'est fait"))
    (entry,) = cache.folder.iterdir()
    text = entry.read_text(encoding="utf-8")
    assert "Voilà, c'est fait" in text and "Où est le statut ?" in text
    kept = json.loads(text)
    assert kept["format"] == FORMAT and kept["artifact_digest"] == DIGEST and kept["seconds"] == 1.0


def test_what_is_never_kept_or_served(tmp_path):
    cache = ResponseCache(tmp_path, DIGEST, "in-process")
    random = request(temperature=0.7)  # unseeded sampling: the same request may give another answer
    cache.put(random, record())
    assert not cache.folder.exists()
    seeded = request(temperature=0.7, seed=3)
    cache.put(seeded, record())
    assert cache.get(seeded) is not None
    cache.put(request("errored"), ResponseRecord(None, error="timeout"))
    cache.put(request("nothing"), ResponseRecord(None))
    cut = record()
    cut.error = "timeout: cut"
    cache.put(request("cut"), cut)
    assert [p.name for p in cache.folder.iterdir()] == [f"{cache.key(seeded)}.json"]
    (cache.folder / f"{cache.key(random)}.json").write_text(
        json.dumps({"format": FORMAT, "artifact_digest": DIGEST, "response": record().response})
    )
    assert cache.get(random) is None  # not even an entry that is there: unseeded asks are generated
    (cache.folder / f"{cache.key(request('odd'))}.json").write_text(
        json.dumps({"format": FORMAT, "artifact_digest": DIGEST, "response": ["not", "a", "response"]})
    )
    assert cache.get(request("odd")) is None
