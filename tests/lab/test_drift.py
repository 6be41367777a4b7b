"""Each drift kind is observable on the node the way an operator would see it, and heal undoes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubespray_verify.lab.nodes import SSH_PORT
from kubespray_verify.lab.processes import listening
from tests.lab.observe import image_views, registry_digest, run, ssh

pytestmark = pytest.mark.lab
NODES = ("node1", "node2", "node3")  # containerd, docker, crio
IMAGE_ITEM = "calico_node"  # on every node (k8s_cluster)
FILE_ITEM = "kubeadm"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def drift(lab):
    """lab.drift, with every drift healed after the test (and the heal checked)."""
    yield lab.drift
    lab.heal()
    assert lab.state.drifts == []


def _image(lab, name):
    item = lab.expected.hosts[name].item(IMAGE_ITEM)
    path = item.repo[len(lab.registry.host) + 1:]
    return item, path, registry_digest(lab.registry.host, path, item.tag), lab.images[f"{path}:{item.tag}"]


def _views(lab, name):
    node = lab.node(name)
    with ssh(node) as client:
        return image_views(client, node.runtime)


@pytest.mark.parametrize("name", NODES)
def test_image_missing(lab, drift, name):
    item, _, digest, _ = _image(lab, name)
    drift(name, "image-missing", IMAGE_ITEM)
    assert item.reference not in _views(lab, name)
    lab.heal(name)
    assert digest in _views(lab, name)[item.reference].digests


@pytest.mark.parametrize("name", NODES)
def test_image_at_the_right_tag_with_another_digest(lab, drift, name):
    item, _, digest, record = _image(lab, name)
    drift(name, "image-other-digest", IMAGE_ITEM)
    view = _views(lab, name)[item.reference]
    assert digest not in view.digests and view.digests
    if lab.node(name).runtime != "containerd":
        assert view.image_id != record.config_digest


@pytest.mark.parametrize("name", NODES)
def test_image_only_under_the_mirror_name(lab, drift, name):
    item, path, digest, _ = _image(lab, name)
    mirror = f"{lab.registry.secure_host}/{path}:{item.tag}"
    drift(name, "image-mirror-name", IMAGE_ITEM)
    views = _views(lab, name)
    assert item.reference not in views
    assert digest in views[mirror].digests


@pytest.mark.parametrize("name", NODES)
def test_image_with_several_names(lab, drift, name):
    item, path, digest, _ = _image(lab, name)
    names = {item.reference, f"{lab.registry.secure_host}/{path}:{item.tag}", f"docker.io/{path}:{item.tag}"}
    drift(name, "image-extra-names", IMAGE_ITEM)
    views = _views(lab, name)
    assert names <= set(views)
    assert digest in views[item.reference].digests
    assert len({views[n].image_id for n in names}) == 1
    lab.heal(name)
    assert set(_views(lab, name)) & names == {item.reference}


@pytest.mark.parametrize("name", NODES)
def test_image_loaded_from_a_tarball_has_no_registry_digest(lab, drift, name):
    item, _, digest, record = _image(lab, name)
    drift(name, "image-from-tarball", IMAGE_ITEM)
    view = _views(lab, name)[item.reference]
    assert digest not in view.digests
    if lab.node(name).runtime == "docker":
        assert view.digests == set()
    if lab.node(name).runtime != "containerd":
        assert view.image_id == record.config_digest


def _file_state(lab, name):
    dest = lab.expected.hosts[name].item(FILE_ITEM).dest
    with ssh(lab.node(name)) as client:
        rc, out = run(client, f"stat -c '%a %s' {dest} && sha256sum {dest}")
    if rc:
        return None
    (mode, size), digest = out.split("\n")[0].split(), out.split("\n")[1].split()[0]
    return {"mode": mode, "size": int(size), "checksum": "sha256:" + digest}


def test_file_missing(lab, drift):
    drift("node1", "file-missing", FILE_ITEM)
    assert _file_state(lab, "node1") is None


def test_file_corrupted_keeps_size_and_mode(lab, drift):
    before = _file_state(lab, "node1")
    drift("node1", "file-corrupted", FILE_ITEM)
    after = _file_state(lab, "node1")
    assert (after["size"], after["mode"]) == (before["size"], before["mode"])
    assert after["checksum"] != lab.expected.hosts["node1"].item(FILE_ITEM).checksum


def test_file_wrong_mode(lab, drift):
    drift("node1", "file-wrong-mode", FILE_ITEM)
    item = lab.expected.hosts["node1"].item(FILE_ITEM)
    state = _file_state(lab, "node1")
    assert (state["mode"] != item.mode.lstrip("0"), state["checksum"]) == (True, item.checksum)


def test_heal_puts_the_file_back_as_expected(lab):
    item = lab.expected.hosts["node1"].item(FILE_ITEM)
    lab.drift("node1", "file-corrupted", FILE_ITEM)
    lab.drift("node1", "file-wrong-mode", FILE_ITEM)
    lab.heal("node1", FILE_ITEM)
    state = _file_state(lab, "node1")
    assert (state["mode"], state["checksum"]) == (item.mode.lstrip("0"), item.checksum)


def test_node_unreachable_and_back(lab, drift):
    node = lab.node("node3")
    drift("node3", "node-unreachable")
    assert not listening(node.ip, SSH_PORT)
    lab.heal("node3")
    assert listening(node.ip, SSH_PORT)


def test_cli_drift_and_undo(lab):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "kubespray_verify", "lab", *args, "--prefix", lab.prefix],
                              capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              timeout=60)

    drifted = cli("drift", "node2", "file-missing", FILE_ITEM)
    missing = _file_state(lab, "node2")
    undone = cli("drift", "node2", "file-missing", FILE_ITEM, "--undo")
    assert (drifted.returncode, missing, undone.returncode) == (0, None, 0)
    assert _file_state(lab, "node2")["checksum"] == lab.expected.hosts["node2"].item(FILE_ITEM).checksum
