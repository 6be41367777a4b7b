"""Every mirror, registry and package repo Kubespray will use answers, from the runner and from each node."""

import pytest

pytestmark = pytest.mark.mirrors


def test_mirror(mirror_verdict):
    if mirror_verdict.status != "pass":
        pytest.fail(mirror_verdict.message, pytrace=False)
