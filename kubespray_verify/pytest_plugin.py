"""The suite's pytest plugin, registered as a `pytest11` entry point in pyproject.toml.

Options, parametrization and report hooks belong here; until they land it
registers nothing, so that pytest starts in a checkout where the entry point
is installed.
"""
