"""Eval suites: YAML data with a schema, loaded into typed objects."""

from pytest_punie.suite.loader import load_suite
from pytest_punie.suite.suitetypes import Category, Expectation, Prompt, Sampling, Suite, Threshold

__all__ = ["Category", "Expectation", "Prompt", "Sampling", "Suite", "Threshold", "load_suite"]
