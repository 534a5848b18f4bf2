"""The options reference (docs/options.md): every ``--punie-*`` option and ``punie_*`` ini key with what
it takes, its default and its meaning, read from the declarations themselves, so the reference cannot
drift from the parser (``python -m pytest_punie options`` prints it)."""

from __future__ import annotations

from typing import Any

from pytest_punie.options import add_options


class _Reference:
    """Stands in for pytest's parser and its group: records each declaration as it is made."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.inis: list[tuple[str, dict[str, Any]]] = []

    def getgroup(self, *args: object, **kwargs: object) -> _Reference:
        """The one group every option is added to."""
        return self

    def addoption(self, *names: str, **kwargs: Any) -> None:
        """Records a command-line option."""
        self.options.append((names, kwargs))

    def addini(self, name: str, help: str = "", **kwargs: Any) -> None:
        """Records an ini key."""
        self.inis.append((name, {"help": help, **kwargs}))


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _takes(kwargs: dict[str, Any]) -> str:
    """What an option takes on the command line."""
    action = kwargs.get("action")
    if action in ("store_true", "store_false"):
        return "flag"
    what = kwargs.get("metavar") or (
        " / ".join(kwargs["choices"]) if kwargs.get("choices") else getattr(kwargs.get("type"), "__name__", "value")
    )
    return f"{what} (repeatable)" if action == "append" else str(what)


def _default(kwargs: dict[str, Any]) -> str:
    action = kwargs.get("action")
    if action == "store_true":
        return "off"
    default = kwargs.get("default")
    return "-" if default in (None, [], "") else f"`{default}`"


def options_markdown() -> str:
    """The reference as Markdown: a table of the options, then one of the ini keys."""
    ref = _Reference()
    add_options(ref)  # type: ignore[arg-type]
    out = [
        "# Options reference",
        "",
        "Every pytest-punie option and ini key, generated from their declarations",
        "(`python -m pytest_punie options > docs/options.md`; a test keeps this file equal to it).",
        "",
        "## Command-line options",
        "",
        "| option | takes | default | meaning |",
        "|---|---|---|---|",
    ]
    for names, kwargs in ref.options:
        option = "`" + "`, `".join(names) + "`"
        out.append(f"| {option} | {_cell(_takes(kwargs))} | {_cell(_default(kwargs))} | {_cell(kwargs.get('help'))} |")
    out += ["", "## Ini keys (`[tool.pytest.ini_options]` or `pytest.ini`)", "", "| key | type | default | meaning |"]
    out.append("|---|---|---|---|")
    for name, kwargs in ref.inis:
        kind = kwargs.get("type") or "string"
        out.append(f"| `{name}` | {_cell(kind)} | {_cell(_default(kwargs))} | {_cell(kwargs.get('help'))} |")
    return "\n".join(out) + "\n"
