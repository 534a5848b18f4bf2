"""A run over remote hosts (``--tx ssh=...``), the parts that need no host: what is asked for up
front, and how the controller turns a lost host into unanswered prompts (the real hosts are in
tests/e2e/test_ssh_hosts.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_punie.session.hosts import HostLedger, prepare_remote, remote_specs, unanswered_results

from ..conftest import ROOT

B33 = "--punie-responses=phase33b_responses.jsonl"
TX = ("--dist", "load", "--tx", "ssh=nobody@127.0.0.9//python=python3//chdir=/nowhere")


def test_a_path_argument_is_refused_in_the_users_terms_before_any_host_is_reached(eval_project):
    result = eval_project.runpytest_subprocess("-m", "eval", "evalsuites/phase33.yaml", B33, *TX)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*evalsuites/phase33.yaml: a path argument is not sent to a remote host*-k or*"])
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_a_remote_run_replaces_no_lost_worker_unless_asked(pytester):
    config = pytester.parseconfig(*TX)
    assert remote_specs(config) and prepare_remote(config) == [] and config.option.maxworkerrestart == "0"
    mine = pytester.parseconfig(*TX, "--max-worker-restart=3")
    assert prepare_remote(mine) == [] and mine.option.maxworkerrestart == "3"
    local = pytester.parseconfig("-n", "2")
    assert remote_specs(local) == [] and local.option.maxworkerrestart is None
    popen = pytester.parseconfig("--dist", "load", "--tx", "2*popen")
    assert remote_specs(popen) == []


def gateway(worker: str, ssh: str) -> SimpleNamespace:
    return SimpleNamespace(gateway=SimpleNamespace(id=worker, spec=SimpleNamespace(ssh=ssh)))


def report(nodeid: str, when: str, node=None) -> pytest.TestReport:
    rep = pytest.TestReport(nodeid, ("f", 0, "f"), {}, "failed" if when == "???" else "passed", None, when)
    rep.node = node  # type: ignore[attr-defined]
    return rep


def test_a_lost_host_leaves_its_prompts_unanswered_naming_it():
    ids = [f"evalsuites/phase33.yaml::{p}[seed={s}]" for s in (0, 1) for p in ("text-01", "text-02")]
    ledger = HostLedger()
    ledger.node_collected(ids)
    ledger.node_collected(ids[:1])  # every worker collects the same: the first kept
    for nodeid in ids[:2]:
        assert not ledger.saw(report(nodeid, "setup")) and not ledger.saw(report(nodeid, "call"))
    assert ledger.unanswered() == []  # nothing lost: nothing made up
    lost = gateway("gw1", "root@127.0.0.3")
    ledger.node_down(gateway("gw0", "root@127.0.0.2"), None)  # a worker that finished
    ledger.node_down(lost, "Traceback ...\nEOFError: Not properly terminated\n")
    assert not ledger.saw(report(ids[2], "setup"))  # it had started when its host went
    assert ledger.saw(report(ids[2], "???", lost))  # xdist's report of the item it was running
    out = dict(ledger.unanswered())
    assert list(out) == ids[2:]
    assert (
        out[ids[2]]
        == "host root@127.0.0.3 (gw1) was lost: EOFError: Not properly terminated (it was answering this prompt)"
    )
    assert out[ids[3]].startswith("not answered: host root@127.0.0.3 (gw1) was lost")
    results = unanswered_results(ledger, ROOT)
    rows = [(r.id, r.variant, r.passed, r.response) for r in results]
    assert rows == [("text-01", "seed=1", False, None), ("text-02", "seed=1", False, None)]
    assert all(r.error == out[f"evalsuites/phase33.yaml::{r.id}[{r.variant}]"] for r in results)


def test_a_host_that_cannot_be_reached_at_the_start_is_a_usage_error_naming_it(eval_project):
    config = eval_project.path / "ssh_config"
    config.write_text("Host *\n  Port 9\n  BatchMode yes\n  ConnectTimeout 5\n")  # nothing listens on port 9
    result = eval_project.runpytest_subprocess(
        "-m", "eval", "-k", "git", B33, "--dist", "load", "--tx", f"ssh=nobody@127.0.0.9//ssh_config={config}"
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "pytest-punie: the host nobody@127.0.0.9 could not be reached" in out, out[-2000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out
