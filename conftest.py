"""Project conftest: pytester for the plugin's own tests (plugins must be
declared in the rootdir conftest)."""

pytest_plugins = ["pytester"]
