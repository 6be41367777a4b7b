"""Image building and manifest reading, pure."""

import json

import pytest

from kubespray_verify import oci
from kubespray_verify.oci import Platform


def test_build_image_is_deterministic():
    a = oci.build_image({"etc/hello": b"hi", "bin/x": b"\x00"})
    b = oci.build_image({"bin/x": b"\x00", "etc/hello": b"hi"})
    assert a == b
    assert a.digest == oci.sha256_digest(a.manifest.data)


@pytest.mark.parametrize(
    "flavour, manifest_type, config_type, layer_type",
    [
        ("oci", oci.OCI_MANIFEST, oci.OCI_CONFIG, oci.OCI_LAYER_GZIP),
        ("docker", oci.DOCKER_MANIFEST, oci.DOCKER_CONFIG, oci.DOCKER_LAYER_GZIP),
    ],
)
def test_build_image_media_types(flavour, manifest_type, config_type, layer_type):
    image = oci.build_image({"f": b"x"}, Platform("arm64", variant="v8"), flavour=flavour)
    manifest = json.loads(image.manifest.data)
    assert (manifest["mediaType"], manifest["config"]["mediaType"], manifest["layers"][0]["mediaType"]) == (
        manifest_type, config_type, layer_type,
    )
    assert manifest["config"]["digest"] == image.config.digest
    config = json.loads(image.config.data)
    assert (config["architecture"], config["os"], config["variant"]) == ("arm64", "linux", "v8")


def test_flavours_and_platforms_give_different_digests():
    digests = {
        oci.build_image({"f": b"x"}).digest,
        oci.build_image({"f": b"x"}, flavour="docker").digest,
        oci.build_image({"f": b"x"}, Platform("arm64")).digest,
        oci.build_image({"f": b"y"}).digest,
    }
    assert len(digests) == 4


def test_build_index_lists_children_with_platforms():
    amd, arm = oci.build_image({"f": b"1"}), oci.build_image({"f": b"2"}, Platform("arm64", variant="v8"))
    index = oci.build_index([amd, arm], flavour="docker")
    body = json.loads(index.manifest.data)
    assert body["mediaType"] == oci.DOCKER_MANIFEST_LIST
    assert oci.index_platforms(body) == {"linux/amd64": amd.digest, "linux/arm64/v8": arm.digest}


INDEX = {
    "manifests": [
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:armv8", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:armv7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:win", "platform": {"os": "windows", "architecture": "amd64"}},
        {"digest": "sha256:attestation", "platform": {"os": "unknown", "architecture": "unknown"}},
    ]
}


@pytest.mark.parametrize(
    "platform, expected",
    [
        (Platform("amd64"), "sha256:amd"),
        (Platform("amd64", "windows"), "sha256:win"),
        (Platform("arm64"), "sha256:arm"),  # the bare child before the v8 one
        (Platform("arm64", variant="v8"), "sha256:armv8"),
        (Platform("arm", variant="v7"), "sha256:armv7"),
        (Platform("arm", variant="v6"), None),
        (Platform("ppc64le"), None),
    ],
    ids=str,
)
def test_select_platform(platform, expected):
    found = oci.select_platform(INDEX, platform)
    assert (found or {}).get("digest") == expected


def test_select_platform_takes_a_variant_child_when_it_is_the_only_one():
    index = {"manifests": [INDEX["manifests"][1]]}
    assert oci.select_platform(index, Platform("arm64"))["digest"] == "sha256:armv8"


@pytest.mark.parametrize(
    "body, codes",
    [
        (b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', ("MANIFEST_UNKNOWN",)),
        (b'{"errors":[{"code":"NAME_UNKNOWN"},{"code":"DENIED"}]}', ("NAME_UNKNOWN", "DENIED")),
        (b"", ()),
        (b"<html>404</html>", ()),
        (b'{"errors":"nope"}', ()),
        (b"[]", ()),
    ],
)
def test_distribution_error_codes(body, codes):
    assert oci.distribution_error_codes(body) == codes


@pytest.mark.parametrize(
    "reference, expected",
    [("sha256:" + "a" * 64, True), ("v1.31.0", False), ("sha256:XYZ", False), ("latest", False), ("sha256:", False)],
)
def test_is_digest(reference, expected):
    assert oci.is_digest(reference) is expected


def test_media_type_of_prefers_the_body():
    assert oci.media_type_of(b'{"mediaType":"' + oci.OCI_INDEX.encode() + b'"}', "application/json") == oci.OCI_INDEX
    assert oci.media_type_of(b"{}", oci.OCI_MANIFEST) == oci.OCI_MANIFEST
