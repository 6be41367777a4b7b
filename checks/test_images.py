"""Every image a node needs is in its runtime, at the pinned digest where one is pinned."""

import pytest

pytestmark = pytest.mark.images


def test_image(image_verdict_for):
    if image_verdict_for.status != "pass":
        pytest.fail(image_verdict_for.message, pytrace=False)
