"""Progress of the long phases (resolving the expected state, observing the nodes) on the operator's terminal.

Shown only when the run's output is a terminal; under `pytest -n` the worker that observes the
nodes draws it on the controller's terminal. CI logs and redirected output never get it.
"""

from __future__ import annotations

import sys

import pytest

from reports.progress import Progress, on_terminal

ENABLED = pytest.StashKey[bool]()


def enabled(config) -> bool:
    if ENABLED not in config.stash:
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            config.stash[ENABLED] = bool(workerinput.get("kv_progress"))
        else:
            config.stash[ENABLED] = _isatty(sys.stdout) and not config.pluginmanager.is_blocked("terminal")
    return config.stash[ENABLED]


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def pytest_configure(config):
    enabled(config)  # while pytest's capture is off: the answer is the terminal's


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["kv_progress"] = enabled(node.config)


def on_terminal_of(config, label: str, total: int = 0) -> Progress:
    return on_terminal(enabled(config), label, total)
