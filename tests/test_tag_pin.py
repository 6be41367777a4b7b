"""A pinned digest against what the registry serves for the tag: where it stands (pure), and the lint's question
asked of a real registry on 127.0.0.1."""

import pytest

from kubespray_verify import oci
from kubespray_verify.model import ImageItem
from kubespray_verify.oci import Platform
from kubespray_verify.registry.evidence import RegistryEvidence
from kubespray_verify.registry.site import SiteSettings
from kubespray_verify.registry.tags import WHOLE, describe, pin_in_tag

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


AMD64 = oci.build_image({"bin/pause": b"pause amd64"}, Platform("amd64"))
ARM64 = oci.build_image({"bin/pause": b"pause arm64"}, Platform("arm64"))
MULTI = oci.build_index([AMD64, ARM64], flavour="docker")


@pytest.fixture(scope="module")
def evidence(plain_registry):
    with plain_registry.client() as client:
        client.push("pin/pause", "3.10", MULTI)
        client.push("pin/single", "1.0", AMD64)
    found = RegistryEvidence(SiteSettings(insecure={plain_registry.host}))
    yield found
    found.close()


def pin(server, repository, tag, digest):
    return ImageItem("pause", f"{server.host}/{repository}", tag, digest, ("k8s_cluster",))


@pytest.mark.parametrize("repository, tag, digest, matches", [
    ("pin/pause", "3.10", MULTI.digest, True),
    ("pin/pause", "3.10", ARM64.digest, True),
    ("pin/single", "1.0", AMD64.digest, True),
    ("pin/single", "1.0", ARM64.digest, False),
    ("pin/pause", "3.10", oci.sha256_digest(b"elsewhere"), False),
])
def test_the_lint_asks_the_registry_for_the_tag(evidence, plain_registry, repository, tag, digest, matches):
    found, said, served = evidence.pin_matches_tag(pin(plain_registry, repository, tag, digest))
    assert found is matches, said
    assert served == (MULTI if repository == "pin/pause" else AMD64).digest
    if not matches:
        assert f"registry {plain_registry.host} serves " in said and f"for {repository}:{tag}" in said
        assert (MULTI if repository == "pin/pause" else AMD64).digest in said


def test_a_platform_pin_is_named_with_its_platform_and_index(evidence, plain_registry):
    _, said, _ = evidence.pin_matches_tag(pin(plain_registry, "pin/pause", "3.10", ARM64.digest))
    assert said == (f"{ARM64.digest} is the linux/arm64 manifest of pin/pause:3.10's index {MULTI.digest} "
                    f"in registry {plain_registry.host}")
