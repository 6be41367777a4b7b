"""The suite's pytest wiring: hooks in `plugins`, fixtures in `fixtures`."""

pytest_plugins = [
    "plugins.expected_state",
    "plugins.observations",
    "plugins.mirror_checks",
    "plugins.results",
    "plugins.progress",
    "plugins.fix",
    "fixtures.expected",
    "fixtures.verdicts",
    "fixtures.mirrors",
    "fixtures.lint",
]
