"""Sphinx configuration: the users' own documentation toolchain (Sphinx, furo, myst-parser)."""

project = "pytest-punie"
author = "pytest-punie"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "pytest-punie"
html_static_path = ["_static"]
myst_heading_anchors = 3
