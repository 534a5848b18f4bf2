"""The commands of ``python -m pytest_punie``, in one room:

``python -m pytest_punie cache [list|prune]``: the build cache, seen and pruned;
``python -m pytest_punie report RUN_DIR_OR_JSON [--compare BASELINE]``: a saved run's HTML report;
``python -m pytest_punie same A B``: two saved runs, the same prompt for prompt or not;
``python -m pytest_punie options``: the options reference (docs/options.md);
``python -m pytest_punie suite-keys``: the suite keys reference (docs/suite-keys.md)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Dispatch the sub-command: ``cache``, ``report``, ``same``, ``options`` or ``suite-keys``."""
    if argv[:1] == ["options"]:
        from pytest_punie.optionsref import options_markdown

        print(options_markdown(), end="")
        return 0
    if argv[:1] == ["suite-keys"]:
        from pytest_punie.suite.keysref import suite_keys_markdown

        print(suite_keys_markdown(), end="")
        return 0
    if not argv or argv[0] not in ("cache", "report", "same"):
        print(
            "usage: python -m pytest_punie cache [list|prune] [--help]\n"
            "       python -m pytest_punie report RUN_DIR_OR_JSON [--compare BASELINE] [--out FILE] [--open]\n"
            "       python -m pytest_punie same RUN_A RUN_B\n"
            "       python -m pytest_punie options\n"
            "       python -m pytest_punie suite-keys",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "same":
        from pytest_punie.cli.samecmd import main as same_main

        return same_main(argv[1:])
    if argv[0] == "report":
        from pytest_punie.cli.reportcmd import main as report_main

        return report_main(argv[1:])
    from pytest_punie.cli.cachecmd import main as cache_main

    return cache_main(argv[1:])
