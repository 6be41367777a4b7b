"""Configuration lint: settings that look protective but are not."""

import pytest

pytestmark = pytest.mark.lint


def test_pinned_digest_is_enforced_by_kubespray(kubespray_state, inventory_host, pinned_image):
    if kubespray_state.pulls_by_digest is False:
        pytest.fail(
            f"{inventory_host}: {pinned_image.name} pins {pinned_image.digest}, but Kubespray {kubespray_state.kubespray_version} "
            f"at {kubespray_state.kubespray_dir} pulls {pinned_image.repo}:{pinned_image.tag} by tag: its items spell "
            "the digest `checksum:` and its container task reads `sha256`. Only this suite enforces the pin.",
            pytrace=False,
        )
