"""kubespray-verify: know before a Kubespray deploy whether every node has what it needs.

PYTEST_DONT_REWRITE: the engine's verdicts are values, not asserts, and `kubespray-verify check`
imports it before it starts pytest.
"""

__version__ = "0.1.0"
