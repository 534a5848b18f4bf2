"""The run's state as the items report it: every prompt's result, the data-lint findings, what
answered (each source's identity), the other checks that ran and the tests that failed; gathered
on the xdist controller (or the single process) from the items' reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import FindingRow, JsonObject


@dataclass
class Gathered:
    """What the run's items reported, from every worker."""

    results: list[PromptResult] = field(default_factory=list)
    """Every prompt's result, in the order the reports arrived."""
    sources: list[JsonObject] = field(default_factory=list)
    """Identities of what answered, as the workers saw them (each once)."""
    findings: list[FindingRow] = field(default_factory=list)
    """Data-lint findings from every worker."""
    parity: list[JsonObject] = field(default_factory=list)
    """The parity items' figures (the model under test against base + adapter as trained)."""
    checks_run: int = 0
    """Items other than prompts that ran (data lint, pipeline, tokenizer checks)."""
    checks_failed: int = 0
    """Of those, the ones that failed."""
    other_failures: list[str] = field(default_factory=list)
    """Node ids of failed tests that are not prompts (a user's own test, a check)."""

    def attach(
        self,
        item: pytest.Item,
        call: pytest.CallInfo[None],
        report: pytest.TestReport,
        identity_of: Callable[[str], JsonObject | None],
    ) -> None:
        """Put an item's result on its report: it travels to the xdist controller."""
        if call.when != "call":
            return
        findings = getattr(item, "punie_findings", None)
        if findings:
            report.punie_findings = findings  # type: ignore[attr-defined]
        parity = getattr(item, "punie_parity", None)
        if parity:
            report.punie_parity = parity  # type: ignore[attr-defined]
        result: PromptResult | None = getattr(item, "punie_result", None)
        if result is not None:
            report.punie_result = result.to_wire()  # type: ignore[attr-defined]
            identity = identity_of(result.variant)
            if identity is not None:
                report.punie_source = identity  # type: ignore[attr-defined]

    def collect(self, report: pytest.TestReport) -> None:
        """Controller (and single process): gather what the items reported."""
        self.findings.extend(getattr(report, "punie_findings", None) or [])
        parity = getattr(report, "punie_parity", None)
        if parity:
            self.parity.append(parity)
        source = getattr(report, "punie_source", None)
        if source is not None and source not in self.sources:
            self.sources.append(source)
        wire = getattr(report, "punie_result", None)
        if wire is not None:
            self.results.append(PromptResult.from_wire(wire))
        elif report.failed:
            self.other_failures.append(report.nodeid)
        if wire is None and report.when == "call" and not report.skipped:
            self.checks_run += 1
            self.checks_failed += int(report.failed)
