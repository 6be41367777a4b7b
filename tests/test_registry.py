"""RegistryClient against real registries (distribution 2.8) started on 127.0.0.1."""

import pytest
import requests

from kubespray_verify import errors, oci
from kubespray_verify.oci import Platform
from kubespray_verify.registry.client import RegistryClient, registry_base_url

AMD64 = oci.build_image({"bin/pause": b"pause amd64"}, Platform("amd64"))
ARM64 = oci.build_image({"bin/pause": b"pause arm64"}, Platform("arm64", variant="v8"))
AMD64_DOCKER = oci.build_image({"bin/pause": b"pause amd64"}, Platform("amd64"), flavour="docker")
ARM64_DOCKER = oci.build_image({"bin/pause": b"pause arm64"}, Platform("arm64", variant="v8"), flavour="docker")

ARTIFACTS = {
    "oci-manifest": ("kubespray/oci-image", "v1", AMD64),
    "docker-schema2": ("kubespray/docker-image", "v1", AMD64_DOCKER),
    "oci-index": ("kubespray/oci-multiarch", "v1", oci.build_index([AMD64, ARM64])),
    "docker-manifest-list": ("kubespray/docker-multiarch", "v1", oci.build_index([AMD64_DOCKER, ARM64_DOCKER], flavour="docker")),
}


@pytest.fixture(scope="module")
def pushed(plain_registry):
    with plain_registry.client() as client:
        for repository, tag, artifact in ARTIFACTS.values():
            assert client.push(repository, tag, artifact) == artifact.digest
    return plain_registry


@pytest.fixture
def client(pushed):
    with pushed.client() as c:
        yield c


@pytest.mark.parametrize(
    "given, base",
    [
        ("127.0.0.1:5000", "https://127.0.0.1:5000"),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000"),
        ("docker.io", "https://registry-1.docker.io"),
        ("https://mirror.local/prefix/", "https://mirror.local/prefix"),
    ],
)
def test_registry_base_url(given, base):
    assert registry_base_url(given) == base


def test_ping(client):
    ping = client.ping()
    assert (ping.status, ping.api_version, ping.auth_scheme) == (200, "registry/2.0", None)


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_head_manifest_gives_the_pushed_digest(client, kind):
    repository, tag, artifact = ARTIFACTS[kind]
    info = client.head_manifest(repository, tag)
    assert (info.digest, info.media_type, info.size) == (artifact.digest, artifact.manifest.media_type, artifact.manifest.size)
    assert client.head_manifest(repository, artifact.digest) == info


@pytest.mark.parametrize("kind", ARTIFACTS)
def test_get_manifest_gives_the_pushed_bytes(client, kind):
    repository, tag, artifact = ARTIFACTS[kind]
    manifest = client.get_manifest(repository, tag)
    assert manifest.body == artifact.manifest.data
    assert manifest.info == client.head_manifest(repository, tag)


@pytest.mark.parametrize(
    "kind, answer",
    [
        ("oci-manifest", 404),  # "OCI manifest found, but accept header does not support OCI manifests"
        ("oci-index", 404),
        ("docker-schema2", "converted"),  # rewritten to schema1 for an "old client": another digest
    ],
)
def test_without_accept_the_registry_hides_or_converts_the_manifest(pushed, kind, answer):
    """Why every manifest request sends `oci.MANIFEST_ACCEPT`."""
    repository, tag, artifact = ARTIFACTS[kind]
    session = requests.Session()
    session.trust_env = False
    response = session.head(f"{pushed.url}/v2/{repository}/manifests/{tag}", timeout=5)
    if answer == 404:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert response.headers["Docker-Content-Digest"] != artifact.digest
        assert "schema1" in response.headers["Content-Type"] or "v1+prettyjws" in response.headers["Content-Type"]


@pytest.mark.parametrize(
    "kind, platform, image",
    [
        ("oci-index", Platform("amd64"), AMD64),
        ("oci-index", Platform("arm64"), ARM64),  # Kubespray's image_arch has no variant
        ("oci-index", Platform("arm64", variant="v8"), ARM64),
        ("docker-manifest-list", Platform("arm64"), ARM64_DOCKER),
        ("oci-manifest", Platform("amd64"), AMD64),  # not an index: the manifest itself
    ],
    ids=lambda v: str(v) if isinstance(v, (str, Platform)) else "",
)
def test_platform_manifest(client, kind, platform, image):
    repository, tag, _ = ARTIFACTS[kind]
    info = client.platform_manifest(repository, tag, platform.architecture, platform.os, platform.variant)
    assert (info.digest, info.media_type) == (image.digest, image.manifest.media_type)


def test_platform_manifest_missing_platform(client):
    repository, tag, artifact = ARTIFACTS["oci-index"]
    with pytest.raises(errors.PlatformUnknown, match=r"has no linux/ppc64le image \(it has linux/amd64, linux/arm64/v8\)"):
        client.platform_manifest(repository, tag, "ppc64le")


def test_platform_manifest_child_missing_from_a_partial_mirror(client):
    """A mirror that holds the index but lost the arm64 image."""
    client.push("kubespray/partial", "v1", oci.build_index([AMD64, ARM64]))
    session = requests.Session()
    session.trust_env = False
    deleted = session.delete(f"{client.base_url}/v2/kubespray/partial/manifests/{ARM64.digest}", timeout=5)
    assert deleted.status_code == 202
    assert client.platform_manifest("kubespray/partial", "v1", "amd64").digest == AMD64.digest
    with pytest.raises(errors.ManifestUnknown) as caught:
        client.platform_manifest("kubespray/partial", "v1", "arm64")
    assert type(caught.value) is errors.ManifestUnknown and caught.value.status == 404


@pytest.mark.parametrize("kind, image", [("oci-manifest", AMD64), ("docker-schema2", AMD64_DOCKER)])
def test_config_digest_is_the_image_id(client, kind, image):
    repository, _, _ = ARTIFACTS[kind]
    assert client.config_digest(repository, image.digest) == image.config.digest


def test_config_digest_of_an_index_asks_for_a_platform(client):
    repository, _, index = ARTIFACTS["oci-index"]
    with pytest.raises(errors.WrongMediaType, match="is an index"):
        client.config_digest(repository, index.digest)


MISSING_DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "repository, reference, cls, words",
    [
        ("kubespray/oci-image", "v9", errors.ManifestUnknown, "repository kubespray/oci-image has no manifest v9"),
        ("kubespray/oci-image", MISSING_DIGEST, errors.ManifestUnknown, f"has no manifest {MISSING_DIGEST}"),
        ("kubespray/no-such-image", "v1", errors.RepositoryUnknown, "no repository kubespray/no-such-image"),
    ],
)
@pytest.mark.parametrize("method", ["head_manifest", "get_manifest"])
def test_missing_manifest_or_repository(client, method, repository, reference, cls, words):
    with pytest.raises(cls, match=words) as caught:
        getattr(client, method)(repository, reference)
    assert caught.value.status == 404
    assert isinstance(caught.value, errors.NotFound)


def test_repr_names_the_registry_only(pushed):
    client = RegistryClient(pushed.url, credentials=("operator", "hunter2"))
    assert "hunter2" not in repr(client) and "operator" not in repr(client)
    assert pushed.url in repr(client)
