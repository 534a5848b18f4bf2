"""The machines of a run over xdist's execnet (``--tx ssh=...``), on the controller: what a remote
run needs asked for up front, which hosts were lost and the prompts they left unanswered.

xdist replaces a crashed worker by opening a new gateway to the same host; to a host that went
away that fails inside xdist's loop (an INTERNALERROR that ends the whole run, the other hosts'
work included), and a worker that crashes while starting is replaced without end. A run with a
remote host therefore replaces no worker (``--max-worker-restart=0`` unless the user set it): a
lost host is named, the other hosts finish the work they were given, and the prompts nobody
answered are unanswered (INCOMPLETE, "rerun to finish"), never a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.results import PromptResult

CRASH_PHASE = "???"  # the `when` of the report xdist makes for the item a lost worker was running


def remote_specs(config: pytest.Config) -> list[str]:
    """The ``--tx`` specs that start a worker on another host (ssh, socket), not a local process."""
    specs = [str(s) for s in (getattr(config.option, "tx", None) or [])]
    if not specs or getattr(config.option, "dist", "no") == "no":
        return []
    return [s for s in specs if "popen" not in s.split("*", 1)[-1].split("//")]  # "2*popen//python=..."


def worker_and_host(node: Any) -> tuple[str, str]:
    """An xdist worker's id (gw1) and its host as the user named it in ``--tx`` (``root@127.0.0.3``)."""
    gateway = getattr(node, "gateway", None)
    spec = getattr(gateway, "spec", None)
    host = getattr(spec, "ssh", None) or getattr(spec, "socket", None) or spec
    return str(getattr(gateway, "id", "?")), str(host)


def prepare_remote(config: pytest.Config) -> list[str]:
    """Controller, before xdist starts: replace no lost worker (see the module docstring); path
    arguments xdist cannot send (they must lie under an ``--rsyncdir``) are refused here, in the
    user's terms, instead of as xdist's INTERNALERROR."""
    if not remote_specs(config):
        return []
    if getattr(config.option, "maxworkerrestart", None) is None:
        config.option.maxworkerrestart = "0"
    roots = [Path(r).resolve() for r in [*(config.option.rsyncdir or []), *config.getini("rsyncdirs")]]
    errors = []
    for arg in config.invocation_params.args:
        path = Path(str(arg).split("::")[0])
        if str(arg).startswith("-") or not path.exists():
            continue
        if not any(path.resolve().is_relative_to(r) for r in roots):
            errors.append(
                f"{arg}: a path argument is not sent to a remote host (--tx {remote_specs(config)[0]}): "
                "select the suite with -k or --punie-suite=NAME (every host has the project at its chdir), "
                "and give an option its file with '=' (--punie-json=FILE)"
            )
    return errors


@dataclass(frozen=True)
class LostHost:
    """A worker whose host went away during the run."""

    worker: str
    """xdist's id of the worker (gw1)."""
    host: str
    """The host as ``--tx`` named it."""
    error: str
    """What execnet said when it went (the last line)."""

    def describe(self) -> str:
        """The host, in the words a prompt's error uses."""
        return f"host {self.host} ({self.worker}) was lost: {self.error}"


@dataclass
class HostLedger:
    """What the controller knows of the workers: the prompts they collected, the ones they
    reported, the hosts lost and the item each was running."""

    collected: list[str] = field(default_factory=list)
    """The node ids the workers collected (after -k/-m), once."""
    reported: set[str] = field(default_factory=set)
    """Node ids a worker reported on (setup, call or teardown)."""
    lost: list[LostHost] = field(default_factory=list)
    """Hosts gone during the run, in the order they went."""
    crashed: dict[str, LostHost] = field(default_factory=dict)
    """The item each lost host was running, by node id."""

    def node_collected(self, ids: list[str]) -> None:
        """A worker's collection: every worker collects the same items."""
        if not self.collected:
            self.collected = list(ids)

    def node_down(self, node: Any, error: object | None) -> None:
        """A worker ended; with an error, its host is lost."""
        if error is None:
            return
        said = [line for line in str(error).strip().splitlines() if line.strip()]
        worker, host = worker_and_host(node)
        self.lost.append(LostHost(worker, host, said[-1].strip() if said else "the connection ended"))

    def saw(self, report: pytest.TestReport) -> bool:
        """Record a report; True for xdist's report of the item a lost worker was running (not a
        failure of the test: the prompt is unanswered)."""
        if report.when != CRASH_PHASE:
            self.reported.add(report.nodeid)  # it ran (a setup error or skip is reported by pytest)
            return False
        worker, host = worker_and_host(getattr(report, "node", None))
        known = next((h for h in self.lost if h.worker == worker), None)
        if known is None:
            known = LostHost(worker, host, "the worker crashed")
            self.lost.append(known)
        self.crashed[report.nodeid] = known
        return True

    def unanswered(self) -> list[tuple[str, str]]:
        """(node id, why) of every collected item no worker reported, when a host was lost."""
        if not self.lost:
            return []
        first = self.lost[0]
        out = []
        for nodeid in self.collected:
            if nodeid in self.crashed:  # its setup may have been reported before the host went
                out.append((nodeid, f"{self.crashed[nodeid].describe()} (it was answering this prompt)"))
            elif nodeid in self.reported:
                continue
            else:
                why = f"not answered: {first.describe()}; a run with remote hosts replaces no lost worker"
                out.append((nodeid, why))
        return out


def unanswered_results(ledger: HostLedger, root: Path) -> list[PromptResult]:
    """The prompts a lost host left unanswered, as results with that error (never a score), so
    the run is INCOMPLETE and says which host and what to rerun. Items that are not prompts of
    a suite file under the project (a check) are left to pytest's own report."""
    from pytest_punie.results import no_response
    from pytest_punie.suite.loader import load_suite

    out: list[PromptResult] = []
    suites: dict[str, Any] = {}
    for nodeid, why in ledger.unanswered():
        path, _, name = nodeid.partition("::")
        prompt_id, _, variant = name.partition("[")
        variant = variant[:-1] if variant.endswith("]") else variant
        if path not in suites:
            try:
                suites[path] = load_suite(root / path)
            except (OSError, PunieError):
                suites[path] = None
        suite = suites[path]
        prompt = next((p for p in suite.prompts if p.id == prompt_id), None) if suite is not None else None
        if prompt is not None:
            out.append(no_response(path, suite, prompt, why, variant))
    return out


def unreachable(exc: BaseException) -> str | None:
    """What to tell the user when xdist could not open a host at the start (execnet's
    HostNotFound: ssh refused, no route, a key not accepted), instead of xdist's INTERNALERROR."""
    if type(exc).__name__ != "HostNotFound":
        return None
    return (
        f"pytest-punie: the host {exc} could not be reached (its --tx ssh=... spec: ssh to it failed, "
        "see ssh's line above): start it, check its address, user and key, or leave its --tx out"
    )
