"""What answered each variant, gathered from every worker: compared by verified digest, never by
build bookkeeping; a real mismatch names both digests and where each came from."""

from __future__ import annotations

import pytest

from pytest_punie.errors import SuiteError
from pytest_punie.items.scheduling import VARIANT_SCOPE, variant_scope
from pytest_punie.report.rundocument import _identities, answered_by


def source(worker: str, digest: str = "sha256:aaa", built: bool = False, **extra) -> dict:
    return {
        "kind": "model",
        "name": "tiny_5bit",
        "path": f"/cache/q5/{digest[-3:]}",
        "digest": digest,
        "digest_verified": f"every file hashed in this run ({0.1 if built else 0.2} s)",
        "builds": [{"step": "q5", "digest": digest, "built_now": built}],
        "blas": "mkl",
        "sampling_overrides": {"temperature": None},
        "variant": "ckpt=20",
        "worker": worker,
        **extra,
    }


def test_two_workers_that_differ_only_in_who_built_it_agree():
    out = _identities([source("gw0", built=True), source("gw1", built=False)])
    ident = out["ckpt=20"]
    assert ident["workers"] == ["gw0", "gw1"]
    assert "worker" not in ident
    assert ident["builds"][0]["built_now"] is True  # built by one worker: built in this run


def test_one_worker_per_variant_is_recorded():
    a, b = source("gw0"), {**source("gw1", digest="sha256:bbb"), "variant": "ckpt=40"}
    out = _identities([a, b])
    assert {k: v["workers"] for k, v in out.items()} == {"ckpt=20": ["gw0"], "ckpt=40": ["gw1"]}


def test_two_artifacts_for_one_variant_are_named_not_dumped():
    with pytest.raises(SuiteError) as err:
        _identities([source("gw0"), source("gw1", digest="sha256:bbb")])
    message = err.value.describe()
    assert "variant ckpt=20 was answered by two different models" in message
    assert "worker gw0: sha256:aaa (/cache/q5/aaa)" in message
    assert "worker gw1: sha256:bbb (/cache/q5/bbb)" in message
    assert "{" not in message  # no dict dump


def test_different_sampling_is_a_different_answerer():
    hot = source("gw1", sampling_overrides={"temperature": 0.7})
    assert answered_by(source("gw0")) != answered_by(hot)


def test_an_external_server_is_compared_by_its_name_and_address():
    ext = {"kind": "external-server", "name": "m", "url": "http://a", "served_model": "m", "variant": ""}
    assert _identities([{**ext, "worker": "gw0"}, {**ext, "worker": "gw1"}])[""]["workers"] == ["gw0", "gw1"]
    with pytest.raises(SuiteError, match="http://b"):
        _identities([{**ext, "worker": "gw0"}, {**ext, "url": "http://b", "worker": "gw1"}])


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        ("evalsuites/phase33.yaml::text-01[ckpt=20]", VARIANT_SCOPE + "ckpt=20"),
        ("evalsuites/phase26.yaml::disc-01[ckpt=20]", VARIANT_SCOPE + "ckpt=20"),  # one variant, every suite
        ("evalsuites/phase33.yaml::text-01[ckpt=40,t=0.7]", VARIANT_SCOPE + "ckpt=40,t=0.7"),
        ("evalsuites/phase33.yaml::text-01", "evalsuites/phase33.yaml::text-01"),  # no variant: its own unit
        ("evalsuites/phase33.yaml::data[train]::x", "evalsuites/phase33.yaml::data[train]::x"),
        ("tests/test_a.py::test_b[ckpt=99]", "tests/test_a.py::test_b[ckpt=99]"),  # not a variant of this run
    ],
)
def test_a_prompt_item_s_unit_of_work_is_its_variant(nodeid, scope):
    assert variant_scope(nodeid, ["ckpt=20", "ckpt=40,t=0.7"]) == scope


def test_the_machine_that_answered_is_recorded_and_named():
    out = _identities([{**source("gw0"), "host": "mac1"}, {**source("gw1"), "host": "mac2"}])
    assert out["ckpt=20"]["hosts"] == ["mac1", "mac2"] and "host" not in out["ckpt=20"]
    with pytest.raises(SuiteError, match="worker gw1 on mac2: sha256:bbb"):
        _identities([{**source("gw0"), "host": "mac1"}, {**source("gw1", digest="sha256:bbb"), "host": "mac2"}])
