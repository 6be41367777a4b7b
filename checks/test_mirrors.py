"""Every mirror, registry and package repo Kubespray will use answers, from the runner and from each node."""

import pytest

from kubespray_verify.verdicts.status import Status

pytestmark = pytest.mark.mirrors


def test_mirror(mirror_verdict):
    if mirror_verdict.status is not Status.PASS:
        pytest.fail(mirror_verdict.message, pytrace=False)
