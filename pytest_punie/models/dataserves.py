"""Which eval suites a training data directory serves, whatever a run selected.

The data lint holds training data to the system prompts (and keeps it apart from the prompts) of
the suites it serves. Which suites those are is a property of the data and the project, never of
``-k``, the paths on the command line or ``--punie-suite``: the data-lint stage gate of a recipe
must build, or refuse, the same recipe the same way from any selection and any cache state, and
the data items must find the same problems.

The rule, in order:

1. a registry entry's own list (``suites = ["phase33", "phase26"]``: names of the project's
   ``evalsuites/`` or of the packaged suites, or suite files relative to the project);
2. else every suite that names the directory in its ``datasets:`` (the project's ``evalsuites/``,
   and the suites this run loaded from elsewhere), plus, for the embedded data that ships inside
   the package, the packaged suites (the embedded data was written for them);
3. else, when no suite names it, every suite of the project's ``evalsuites/`` (none where the
   project has none: then no system prompt is expected, and several in one file are an error).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_punie.errors import ModelError, PunieError
from pytest_punie.suite import Suite, load_suite
from pytest_punie.suites import packaged_suites

EMBEDDED_DATA = Path(__file__).parent / "tiny" / "data"  # shipped in the wheel; the repository's data/ here


@dataclass(frozen=True)
class ServedSuites:
    """The suites a data directory serves, and why those: what the data gate records."""

    suites: tuple[Suite, ...]
    """The suites, in a fixed order (by name, then path)."""
    rule: str
    """Which rule chose them: ``entry``, ``named``, ``embedded`` (named, plus the packaged suites
    for the embedded data) or ``project`` (no suite names the data)."""

    @property
    def system_prompts(self) -> tuple[str, ...]:
        """The system prompts the data is held to, each once."""
        return tuple(dict.fromkeys(s.system_prompt for s in self.suites))

    @property
    def queries(self) -> tuple[str, ...]:
        """Every prompt of every served suite (the leak and near-copy checks read them)."""
        return tuple(p.query for s in self.suites for p in s.prompts)

    def record(self) -> dict[str, object]:
        """The gate's inputs as a build records them: each suite by name and content digest."""
        return {"rule": self.rule, "suites": [{"name": s.name, "digest": s.digest} for s in self.suites]}


def is_embedded(data: Path) -> bool:
    """Whether a data directory is the embedded training data shipped inside the package."""
    return _same(data, EMBEDDED_DATA)


# the packaged suites the embedded data was made for (the multi-turn tasks suite is scored on the
# conversation, its prompts written after the data: it is not what the data is linted against)
EMBEDDED_SERVES = ("phase26", "phase33")


def suites_serving(
    data: Path, root: Path, entry_suites: Sequence[str] | None = None, loaded: Iterable[Suite] = ()
) -> ServedSuites:
    """The suites ``data`` serves (the module's rule), the same from any selection: ``loaded`` adds
    only suites outside the project's ``evalsuites/`` that name the data, never removes one."""
    if entry_suites:
        return ServedSuites(_ordered(_suite_named(name, root) for name in entry_suites), "entry")
    project = _project_suites(root)
    candidates = {str(Path(s.path).resolve()): s for s in [*project, *loaded]}
    named = [s for s in candidates.values() if _names(s, data)]
    if is_embedded(data):
        packaged = [load_suite(p) for n, p in packaged_suites().items() if n in EMBEDDED_SERVES]
        return ServedSuites(_ordered(_unique([*packaged, *named])), "embedded")
    if named:
        return ServedSuites(_ordered(named), "named")
    return ServedSuites(_ordered(project), "project")


def _names(suite: Suite, data: Path) -> bool:
    return any(_same(d, data) for d in suite.datasets().values())


def _same(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _project_suites(root: Path) -> list[Suite]:
    out = []
    for path in sorted((root / "evalsuites").glob("*.yaml")):
        try:
            out.append(load_suite(path))
        except PunieError:
            continue  # a broken suite is reported by its own items
    return out


def _suite_named(name: str, root: Path) -> Suite:
    own = root / "evalsuites" / f"{name}.yaml"
    packaged = packaged_suites()
    as_file = (root / name) if not Path(name).is_absolute() else Path(name)
    for path in (own, packaged.get(name), as_file):
        if path is not None and path.is_file() and path.suffix in (".yaml", ".yml"):
            return load_suite(path)
    raise ModelError(
        None,
        None,
        f"the registry entry's suites names {name!r}: no {own}, no packaged suite of that name "
        f"(packaged: {', '.join(packaged)}) and no suite file {as_file}",
    )


def _unique(suites: Iterable[Suite]) -> list[Suite]:
    """One suite per name: a project's own suite of a packaged name wins, as everywhere."""
    out: dict[str, Suite] = {}
    for s in suites:
        out[s.name] = s  # later (the project's, the named ones) win over the packaged
    return list(out.values())


def _ordered(suites: Iterable[Suite]) -> tuple[Suite, ...]:
    return tuple(sorted(suites, key=lambda s: (s.name, str(s.path))))
