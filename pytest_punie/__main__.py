"""``python -m pytest_punie COMMAND``: the commands of pytest_punie/cli/."""

import sys

from pytest_punie.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
