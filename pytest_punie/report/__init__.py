"""The results document: built from the run's results, judged per suite, with its analyses
(seeds, format lock, variant matrix, bits sweep); its views are in pytest_punie/views/."""

from pytest_punie.report.document import FORMAT, build_document

__all__ = ["FORMAT", "build_document"]
