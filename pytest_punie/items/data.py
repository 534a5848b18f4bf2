"""Data lint as pytest items: one per check per dataset, marked ``data``.

Datasets come from the suites' ``datasets:`` (linted against the prompts and
system prompts of every suite that names the dataset) or from ``--punie-data DIR``. The whole dataset
is linted once per process; each item reports its check's findings, each
naming file and line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.datalint import DATA_CHECKS, Finding, LintConfig, lint_dataset
from pytest_punie.items.paths import display_path
from pytest_punie.resultsformat import FindingRow
from pytest_punie.session import punie_session
from pytest_punie.suite.suitetypes import Suite

_LINT_CACHE = pytest.StashKey[dict[tuple[str, str], list[Finding]]]()


class DataFindings(Exception):
    """A data check's error findings, raised so the item fails with them."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__(f"{len(findings)} finding(s)")


def lint_config(config: pytest.Config, suites: list[Suite]) -> LintConfig:
    """The lint's bounds from the ini and the tokenizer, with the suites' prompts for the near-copy check."""
    lo, hi = (float(x) for x in config.getini("punie_lint_tool_share").split())
    tok = config.getoption("punie_tokenizer")
    if tok and Path(tok).is_dir():
        tok = str(Path(tok) / "tokenizer.json")
    prompts = tuple(p.query for s in suites for p in s.prompts)
    systems = tuple(dict.fromkeys(s.system_prompt for s in suites))  # a dataset may serve several suites
    return LintConfig(
        tool_share=(lo, hi),
        min_tool_examples=int(config.getini("punie_lint_min_tool_examples")),
        similarity=float(config.getini("punie_lint_similarity")),
        max_seq_length=int(config.getini("punie_lint_max_seq_length")),
        eval_queries=prompts,
        eval_system_prompts=systems,
        tokenizer=tok or None,
    )


class DatasetCollector(pytest.Collector):
    """One dataset folder: an item per lint check, all from one lint pass."""

    def __init__(self, *, dataset: Path, suites: list[Suite], **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.suites = suites

    def collect(self):  # type: ignore[override]
        """An item per lint check."""
        for check in DATA_CHECKS.names():
            yield DataCheckItem.from_parent(self, name=check, check=check)

    def findings(self) -> list[Finding]:
        """The dataset linted once per run (and per set of suites), shared by its check items."""
        cache = self.config.stash.setdefault(_LINT_CACHE, {})
        suites = self._serving()
        key = (str(self.dataset.resolve()), ",".join(s.digest for s in suites))
        if key not in cache:
            found = lint_dataset(self.dataset, lint_config(self.config, suites))
            cache[key] = [dataclasses.replace(f, path=display_path(self.config, Path(f.path).resolve())) for f in found]
        return cache[key]

    def _serving(self) -> list[Suite]:
        """The suites this dataset serves, whatever the run selected (``models.dataserves``): the
        same findings from ``pytest``, a suite's path, ``-k`` or ``--punie-suite``. A folder no
        suite names (``--punie-data=DIR``) is held to the suites it was collected with."""
        from pytest_punie.models.dataserves import suites_serving

        loaded = [*punie_session(self.config).suites_seen, *self.suites]
        served = suites_serving(self.dataset, Path(self.config.rootpath), loaded=loaded)
        return self.suites if served.rule == "project" else list(served.suites)


class DataCheckItem(pytest.Item):
    """One lint check over one dataset: fails on its error findings, warns on the rest."""

    def __init__(self, *, check: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.check = check
        self.add_marker("data")
        self.punie_findings: list[FindingRow] = []

    @property
    def dataset(self) -> DatasetCollector:
        """The dataset collector this check belongs to."""
        assert isinstance(self.parent, DatasetCollector)
        return self.parent

    def runtest(self) -> None:
        """Fails with this check's error findings; its warnings are shown, not failed on."""
        if self.check == "length" and not self.config.getoption("punie_tokenizer"):
            pytest.skip("the length check needs the model's tokenizer: --punie-tokenizer=DIR")
        mine = [f for f in self.dataset.findings() if f.check == self.check]
        self.punie_findings = [f.to_dict() for f in mine]
        errors = [f for f in mine if f.severity == "error"]
        if errors:
            raise DataFindings(mine)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        """Each finding at its file and line (the first 50), never a traceback."""
        if isinstance(excinfo.value, DataFindings):
            lines = [f"{self.check}: {DATA_CHECKS.get(self.check).description}"]
            for f in excinfo.value.findings[:50]:
                lines.append(f"  {f.where()}: {f.severity}: {f.message}")
            if len(excinfo.value.findings) > 50:
                lines.append(f"  ... and {len(excinfo.value.findings) - 50} more (all in --punie-json findings[])")
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        """Where pytest says the check is: the dataset, not this plugin's code."""
        return self.dataset.dataset, None, f"data lint {self.check} [{self.dataset.dataset}]"
