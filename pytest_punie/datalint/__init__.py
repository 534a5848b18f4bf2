"""Training-data lint: one streaming pass per file, every finding at its line."""

from pytest_punie.datalint.findings import Finding
from pytest_punie.datalint.lint import CHECKS, LintConfig, lint_dataset

__all__ = ["CHECKS", "Finding", "LintConfig", "lint_dataset"]
