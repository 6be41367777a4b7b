"""Session fixtures shared by the suite's own tests."""

from __future__ import annotations

import os

import pytest

from tests.lab.start import start_lab
from tests.registries import (  # noqa: F401  (fixtures)
    file_server,
    plain_registry,
    registry_ca,
    tls_registry,
    token_issuer,
    token_registry,
)

LAB_RUNTIMES = ("containerd", "docker", "crio")


@pytest.fixture(scope="session")
def lab():
    """One lab per test session (prefix unique per process): 3 nodes, one per runtime, torn down at the end.

    When the lab cannot start (not root, packages missing...) the tests that need it
    are skipped with the reason, or fail when KUBESPRAY_VERIFY_REQUIRE_LAB=1 (CI).
    """
    started = start_lab(f"kv{os.getpid()}", nodes=3, runtimes=LAB_RUNTIMES)
    yield started
    started.down()
