"""Regression gate: a candidate's results against a saved baseline."""
