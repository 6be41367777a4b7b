"""Configuration lint: settings that look protective but are not. One finding for the cluster each."""

import pytest

from kubespray_verify.verdicts.status import Status

pytestmark = pytest.mark.lint


def test_pinned_digests_are_enforced_by_kubespray(pins_enforced_verdict):
    if pins_enforced_verdict.status is not Status.PASS:
        pytest.fail(pins_enforced_verdict.message, pytrace=False)


def test_pinned_digest_is_the_tags_in_the_registry(pin_tag_verdict):
    if pin_tag_verdict.status is not Status.PASS:
        pytest.fail(pin_tag_verdict.message, pytrace=False)
