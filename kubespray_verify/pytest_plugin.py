"""The suite's pytest plugin, registered through the `pytest11` entry point.

Options and parametrization hook in here; until they do, the module exists so
that pytest can load the entry point the package declares.
"""
