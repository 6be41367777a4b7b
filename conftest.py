"""The suite's pytest wiring: everything lives in the `plugins` package."""

pytest_plugins = ["plugins.expected_state", "plugins.observations", "plugins.node_checks", "plugins.mirror_checks"]
