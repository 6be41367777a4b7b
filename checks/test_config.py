"""Configuration lint: settings that look protective but are not."""

import pytest

pytestmark = pytest.mark.lint


def test_pinned_digests_are_enforced_by_kubespray(kubespray_state, host_expectation):
    pinned = [i for i in host_expectation.items if i.kind == "image" and i.digest]
    if pinned and kubespray_state.pulls_by_digest is False:
        listed = ", ".join(f"{i.name} ({i.repo}:{i.tag}@{i.digest})" for i in pinned)
        pytest.fail(
            f"{host_expectation.host}: Kubespray {kubespray_state.kubespray_version} at "
            f"{kubespray_state.kubespray_dir} pulls by tag: its items spell the digest `checksum:` and its "
            f"container task reads `sha256`, so these pins are enforced only by this suite: {listed}",
            pytrace=False,
        )


def test_pinned_digest_is_the_tags_in_the_registry(registry_evidence, pinned_image):
    from kubespray_verify.errors import CheckError, EndpointError

    try:
        matches, said = registry_evidence.pin_matches_tag(pinned_image)
    except EndpointError as exc:
        raise CheckError(f"{pinned_image.name}: cannot ask the registry about {pinned_image.reference}: {exc}") from None
    if not matches:
        pytest.fail(f"{pinned_image.name} pins {pinned_image.digest}, but {said}: the pin and the tag disagree",
                    pytrace=False)
