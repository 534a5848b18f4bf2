"""Training-data lint: every registered data check over a dataset, each finding at its file and line."""

from pytest_punie.datalint.checkcontext import LintConfig
from pytest_punie.datalint.checkregistry import DATA_CHECKS, at_file_end, data_check
from pytest_punie.datalint.findings import Finding
from pytest_punie.datalint.lint import lint_dataset

__all__ = ["DATA_CHECKS", "Finding", "LintConfig", "at_file_end", "data_check", "lint_dataset"]
