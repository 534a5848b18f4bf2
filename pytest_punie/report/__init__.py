"""Reports: the results document and its terminal and Markdown views."""

from pytest_punie.report.document import FORMAT, build_document
from pytest_punie.report.markdown import render_markdown
from pytest_punie.report.terminal import render_terminal

__all__ = ["FORMAT", "build_document", "render_markdown", "render_terminal"]
