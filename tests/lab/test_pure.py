"""The lab's pure parts: names and addresses, image and file bytes, Kubespray's checksum variables."""

from __future__ import annotations

import hashlib

import pytest

from kubespray_verify import oci
from kubespray_verify.lab import artifacts, images
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import Layout, check_prefix, node_groups, subnet_candidates
from kubespray_verify.lab.overrides import checksum_vars
from tests.kubespray_fixtures import kubespray_dir


def test_subnets_are_private_and_derived_from_the_prefix():
    first = [next(subnet_candidates(p)) for p in ("kvlab", "kv1234", "kv1235", "a")]
    assert first == [next(subnet_candidates(p)) for p in ("kvlab", "kv1234", "kv1235", "a")]
    assert len(set(first)) == 4
    assert all(net.network_address.packed[0] == 10 and 200 <= net.network_address.packed[1] <= 249
               and net.prefixlen == 24 for net in first)


def test_interface_names_fit_the_kernel_limit():
    layout = Layout("abcdefghij", next(subnet_candidates("abcdefghij")))
    assert len(layout.runner_link) <= 15


@pytest.mark.parametrize("prefix", ["", "Kv", "kv-1", "1kv", "abcdefghijk"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(LabError, match="prefix"):
        check_prefix(prefix)


@pytest.mark.parametrize("count, expected", [
    (1, [("kube_control_plane", "etcd", "kube_node")]),
    (2, [("kube_control_plane", "etcd", "kube_node")] * 2),
    (4, [("kube_control_plane", "etcd")] * 2 + [("kube_node",)] * 2),
])
def test_node_groups(count, expected):
    assert [node_groups(i, count) for i in range(count)] == expected


@pytest.mark.parametrize("style", images.STYLES)
def test_images_are_deterministic_and_variants_differ(style):
    a, b = images.build("calico/node", "v3.31.7", style), images.build("calico/node", "v3.31.7", style)
    other = images.build("calico/node", "v3.31.7", style, variant="drift")
    assert (a.digest, a.config_digest()) == (b.digest, b.config_digest())
    assert other.digest != a.digest
    assert images.docker_archive(a, "r/calico/node:v3.31.7") == images.docker_archive(b, "r/calico/node:v3.31.7")


def test_image_styles_use_their_media_types():
    tops = {s: images.build("pause", "3.10", s).artifact.manifest.media_type for s in images.STYLES}
    assert tops == {"oci-index": oci.OCI_INDEX, "docker-list": oci.DOCKER_MANIFEST_LIST,
                    "oci": oci.OCI_MANIFEST, "docker": oci.DOCKER_MANIFEST}
    assert set(images.build("pause", "3.10", "oci-index").platforms) == {"amd64", "arm64"}


def test_file_stand_ins_are_deterministic_and_realistic_sizes_are_large():
    url = "dl.k8s.io/release/v1.36.4/bin/linux/amd64/kubeadm"
    small = artifacts.content("kubeadm", url, realistic=False)
    assert small == artifacts.content("kubeadm", url, realistic=False) and small.startswith(b"#!/bin/sh")
    big = artifacts.content("kubeadm", url, realistic=True)
    assert len(big) >= artifacts.REALISTIC_SIZES["kubeadm"]
    assert hashlib.sha256(big).digest() == hashlib.sha256(artifacts.content("kubeadm", url, True)).digest()
    archive = artifacts.content("crictl", "github.com/crictl-v1.36.0-linux-amd64.tar.gz", realistic=False)
    assert archive[:2] == b"\x1f\x8b"


def test_checksum_variables_come_from_the_raw_download_items():
    found = checksum_vars(str(kubespray_dir()))
    assert found["kubeadm"].file_var == "kubeadm_binary_checksum"
    assert found["etcd"].file_var == "etcd_binary_checksum"
    assert found["containerd"].file_var == "containerd_checksum"
    assert found["calico_crds"].file_var is None  # reads the calico_crds_checksums role var directly
    assert found["calico_node"].digest_var == "calico_node_digest_checksum"
    assert found["kubeadm"].prefixed
