"""Every image a node needs is in its runtime, at the pinned digest where one is pinned."""

import pytest

from kubespray_verify.verdicts.status import Status

pytestmark = pytest.mark.images


def test_image(image_verdict_for):
    if image_verdict_for.status is not Status.PASS:
        pytest.fail(image_verdict_for.message, pytrace=False)
