"""Session fixtures shared by the suite's own tests."""

from __future__ import annotations

import os

import pytest

from tests.kubespray_fixtures import kubespray_dir
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
    from kubespray_verify.errors import VerifyError
    from kubespray_verify.lab import Lab

    try:
        started = Lab.up(f"kv{os.getpid()}", nodes=3, runtimes=LAB_RUNTIMES, kubespray_dir=str(kubespray_dir()))
    except VerifyError as exc:
        reason = f"the lab could not start: {exc}"
        if os.environ.get("KUBESPRAY_VERIFY_REQUIRE_LAB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield started
    started.down()
