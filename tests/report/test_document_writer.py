"""results.json is streamed into its file (a 50,000-prompt document is never held whole as text), and
the streamed file is byte for byte the one document_to_json would write."""

from __future__ import annotations

import io

from pytest_punie.report import build_document
from pytest_punie.resultsformat import document_from_json, document_to_json, document_writer
from pytest_punie.verdict import judge_suite
from pytest_punie.views.write import write_text

from ..verdict.test_reference_tables import results_of
from .test_html import PROVENANCE


def test_the_streamed_document_is_the_documents_json(phase33, tmp_path):
    results = results_of(phase33, "phase33b_responses.jsonl")
    doc = build_document([(judge_suite(phase33, results), results)], PROVENANCE)
    streamed = io.StringIO()
    document_writer(doc)(streamed)
    assert streamed.getvalue() == document_to_json(doc)
    write_text(tmp_path / "results.json", document_writer(doc))
    assert (tmp_path / "results.json").read_text() == document_to_json(doc)
    assert len(document_from_json((tmp_path / "results.json").read_text())["prompts"]) == 27
