"""Training-data lint: every registered data check over a dataset, each finding at its file and line."""

from pytest_punie.datalint.context import LintConfig
from pytest_punie.datalint.findings import Finding
from pytest_punie.datalint.lint import lint_dataset
from pytest_punie.datalint.registry import DATA_CHECKS, at_file_end, data_check

__all__ = ["DATA_CHECKS", "Finding", "LintConfig", "at_file_end", "data_check", "lint_dataset"]
