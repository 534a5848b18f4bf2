"""``python -m pytest_punie cache [list|prune]``: the build cache, seen and pruned;
``python -m pytest_punie report RUN_DIR_OR_JSON [--compare BASELINE]``: a saved run's HTML report."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Dispatch the sub-command: ``cache`` or ``report``."""
    if not argv or argv[0] not in ("cache", "report"):
        print(
            "usage: python -m pytest_punie cache [list|prune] [--help]\n"
            "       python -m pytest_punie report RUN_DIR_OR_JSON [--compare BASELINE] [--out FILE] [--open]",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "report":
        from pytest_punie.gate.reportcmd import main as report_main

        return report_main(argv[1:])
    from pytest_punie.models.cachetool import main as cache_main

    return cache_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
