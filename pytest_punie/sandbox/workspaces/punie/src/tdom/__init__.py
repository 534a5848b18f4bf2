"""A stand-in for tdom's API (the real one renders templates): what the workspace's views import."""

from typing import Any


def html(template: str, **values: Any) -> str:
    """Renders a template with its values escaped."""
    return template.format(**{k: str(v).replace("<", "&lt;") for k, v in values.items()})
