"""Every file a node needs is at its dest with the right checksum, mode and owner; installed binaries match."""

import pytest

from kubespray_verify.verdicts.status import Status

pytestmark = pytest.mark.files


def test_file(file_verdict_for):
    if file_verdict_for.status is not Status.PASS:
        pytest.fail(file_verdict_for.message, pytrace=False)


def test_installed_binary(installed_binary_verdict):
    if installed_binary_verdict.status is not Status.PASS:
        pytest.fail(installed_binary_verdict.message, pytrace=False)
