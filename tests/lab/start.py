"""Starting a lab for a test: skipped with the reason when it cannot start, failed when CI requires it."""

from __future__ import annotations

import os

import pytest

from tests.kubespray_fixtures import kubespray_dir


def start_lab(prefix: str, **options):
    from kubespray_verify.errors import VerifyError
    from kubespray_verify.lab.api import Lab

    try:
        return Lab.up(prefix, kubespray_dir=str(kubespray_dir()), **options)
    except VerifyError as exc:
        reason = f"the lab could not start: {exc}"
        if os.environ.get("KUBESPRAY_VERIFY_REQUIRE_LAB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
