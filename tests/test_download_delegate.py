"""Pull once, push many: what the download_delegate fetches only for other nodes is marked so in the
expected state, and is not required on the delegate by the node checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kubespray_verify.nodes.observe import expected_paths
from kubespray_verify.resolve.expected import resolve
from tests.kubespray_fixtures import kubespray_dir, with_k8s_cluster, write_inventory

HOSTS = {"node1": {"ansible_host": "127.0.0.11"}, "node2": {"ansible_host": "127.0.0.12"},
         "node3": {"ansible_host": "127.0.0.13"}}
# etcd is not on node1, the first control plane: under download_run_once node1 fetches etcd's archive for node2.
GROUPS = {"kube_control_plane": ["node1"], "etcd": ["node2"], "kube_node": ["node2", "node3"]}


@pytest.fixture
def inventory(tmp_path):
    return write_inventory(tmp_path / "inv", HOSTS, with_k8s_cluster(GROUPS),
                           group_vars={"all": {"download_run_once": True, "etcd_deployment_type": "host"}})


def test_items_fetched_only_for_others_are_marked_and_not_held(inventory):
    state = resolve([str(inventory)], str(kubespray_dir()))
    assert state.download.run_once and state.download.host == "node1"
    node1, node2, node3 = (state.hosts[h] for h in ("node1", "node2", "node3"))
    # etcd's archive and the localhost load balancer's nginx belong to other groups than node1's.
    assert node1.item("etcd").delegate and node1.item("nginx").delegate
    assert not node2.item("etcd").delegate and not node3.item("nginx").delegate
    assert not node1.item("kubeadm").delegate  # node1's own
    held = {i.name for i in node1.items_held()}
    assert "kubeadm" in held and not held & {"etcd", "nginx"}
    assert {i.name for i in node1.items} - held == {i.name for i in node1.items if i.delegate}
    # The node probe does not read what the delegate does not need to hold.
    paths = {p["path"] for p in expected_paths(node1)}
    assert node1.item("kubeadm").dest in paths and node1.item("etcd").dest not in paths
    assert node2.item("etcd").dest in {p["path"] for p in expected_paths(node2)}


def test_node_checks_do_not_ask_the_delegate_for_items_it_fetches_for_others(inventory, tmp_path):
    env = dict(os.environ, KUBESPRAY_DIR=str(kubespray_dir()), KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "kubespray_verify", "check", "--inventory", str(inventory),
                           "-m", "files or images", "--collect-only", "-q"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = {line.split("::", 1)[1] for line in proc.stdout.splitlines() if line.startswith("checks/")}
    assert "test_file[node2::etcd]" in ids and "test_image[node3::nginx]" in ids
    assert "test_file[node1::kubeadm]" in ids
    assert "test_file[node1::etcd]" not in ids and "test_image[node1::nginx]" not in ids
