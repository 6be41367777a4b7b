"""A pinned digest against what the registry serves for the tag: where it stands (pure)."""

import pytest

from kubespray_verify import oci
from kubespray_verify.tag_pin import WHOLE, describe, pin_in_tag

A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
INDEX = {"digest": A, "media_type": oci.OCI_INDEX, "platforms": {"linux/amd64": B, "linux/arm64": C}}
SINGLE = {"digest": B, "media_type": oci.DOCKER_MANIFEST}
SHARED = {"digest": A, "media_type": oci.DOCKER_MANIFEST_LIST, "platforms": {"linux/arm64/v8": C, "linux/arm64": C}}


@pytest.mark.parametrize("pinned, served, platform, where", [
    (A, INDEX, None, WHOLE),
    (B, INDEX, None, "linux/amd64"),
    (C, INDEX, "linux/amd64", "linux/arm64"),  # another platform's manifest: said which
    ("sha256:" + "d" * 64, INDEX, None, None),
    (B, SINGLE, None, WHOLE),
    (A, SINGLE, None, None),
    (C, {**SINGLE, "platforms": {"linux/amd64": C}}, None, None),  # platforms count only for an index
    (C, SHARED, None, "linux/arm64/v8"),
    (C, SHARED, "linux/arm64", "linux/arm64"),
])
def test_where_the_tag_holds_the_pin(pinned, served, platform, where):
    assert pin_in_tag(pinned, served, platform) == where


@pytest.mark.parametrize("served, says", [
    (INDEX, f"{A} (OCI index: linux/amd64, linux/arm64)"),
    (SINGLE, f"{B} (Docker manifest)"),
    ({"digest": B, "media_type": "application/x-odd"}, f"{B} (application/x-odd)"),
    ({"digest": B, "media_type": None}, f"{B} (manifest)"),
])
def test_what_the_registry_serves_in_words(served, says):
    assert describe(served) == says

