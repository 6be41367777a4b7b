"""Hosts sharing a profile are resolved once; a template that reads a host's own identity is not shortcut."""

from __future__ import annotations

from kubespray_verify.resolve.expected import resolve
from tests.kubespray_fixtures import kubespray_dir, with_k8s_cluster, write_inventory


def many_hosts(n: int):
    hosts = {f"node{i}": {"ansible_host": f"127.0.1.{i}", "ip": f"10.1.0.{i}"} for i in range(1, n + 1)}
    groups = {"kube_control_plane": ["node1", "node2"], "etcd": ["node1", "node2"],
              "kube_node": [f"node{i}" for i in range(3, n + 1)]}
    return hosts, with_k8s_cluster(groups)


def test_hosts_with_one_profile_resolve_once(tmp_path):
    hosts, groups = many_hosts(40)
    hosts["node40"]["ansible_architecture"] = "aarch64"
    inventory = write_inventory(tmp_path / "inv", hosts, groups)
    state = resolve([str(inventory)], str(kubespray_dir()))
    # control planes, amd64 workers, the arm64 worker
    assert state.resolutions == 3
    assert len(state.hosts) == 40
    assert state.hosts["node5"].item("kubelet").url.endswith("/amd64/kubelet")
    assert state.hosts["node40"].item("kubelet").url.endswith("/arm64/kubelet")
    assert state.hosts["node40"].arch == "arm64"
    assert state.hosts["node40"].facts_source == "inventory"
    assert state.hosts["node5"].facts_source == "default"
    assert state.hosts["node5"].item("kubectl") is None  # kube_control_plane only
    assert state.hosts["node1"].item("kubectl") is not None


def test_template_reading_a_hosts_identity_resolves_per_host(tmp_path):
    hosts, groups = many_hosts(6)
    inventory = write_inventory(
        tmp_path / "inv", hosts, groups,
        group_vars={"all": {"kubeadm_download_url": "http://{{ ip }}:8080/kubeadm-{{ inventory_hostname }}"}},
    )
    state = resolve([str(inventory)], str(kubespray_dir()))
    for i in range(1, 7):
        assert state.hosts[f"node{i}"].item("kubeadm").url == f"http://10.1.0.{i}:8080/kubeadm-node{i}"


def test_an_identity_variable_only_some_hosts_define_is_read_for_each(tmp_path):
    # node3 and node4 are alike but for access_ip, which only node4 defines: a template reading it with a
    # default must give each its own answer, whichever of the two is resolved first.
    hosts, groups = many_hosts(4)
    hosts["node4"]["access_ip"] = "10.9.0.4"
    inventory = write_inventory(
        tmp_path / "inv", hosts, groups,
        group_vars={"all": {"kubeadm_download_url": "http://{{ access_ip | default('files.example') }}/kubeadm"}},
    )
    state = resolve([str(inventory)], str(kubespray_dir()))
    assert state.hosts["node3"].item("kubeadm").url == "http://files.example/kubeadm"
    assert state.hosts["node4"].item("kubeadm").url == "http://10.9.0.4/kubeadm"


def test_an_identity_variable_read_through_the_vars_lookup_resolves_per_host(tmp_path):
    hosts, groups = many_hosts(4)
    inventory = write_inventory(
        tmp_path / "inv", hosts, groups,
        group_vars={"all": {"kubeadm_download_url": "http://{{ lookup('vars', 'ip') }}/kubeadm"}},
    )
    state = resolve([str(inventory)], str(kubespray_dir()))
    for i in range(1, 5):
        assert state.hosts[f"node{i}"].item("kubeadm").url == f"http://10.1.0.{i}/kubeadm"


def test_node_facts_decide_architecture_when_inventory_is_silent(tmp_path):
    hosts, groups = many_hosts(3)
    inventory = write_inventory(tmp_path / "inv", hosts, groups)
    state = resolve([str(inventory)], str(kubespray_dir()),
                    node_facts={"node3": {"architecture": "aarch64", "system": "Linux"}})
    assert state.hosts["node3"].arch == "arm64"
    assert state.hosts["node3"].facts_source == "node"
    assert "arm64" in state.hosts["node3"].item("kubeadm").dest
    assert state.hosts["node1"].arch == "amd64"


def test_a_second_resolution_in_one_process_sees_vars_files_added_since(tmp_path):
    hosts, groups = many_hosts(3)
    inventory = write_inventory(tmp_path / "inv", hosts, groups)
    first = resolve([str(inventory)], str(kubespray_dir()))
    assert first.hosts["node1"].item("calico_node").digest is None
    (inventory.parent / "group_vars" / "all" / "pins.yml").write_text(f"calico_node_digest_checksum: {'e' * 64}\n")
    second = resolve([str(inventory)], str(kubespray_dir()))
    assert second.hosts["node1"].item("calico_node").digest == "sha256:" + "e" * 64
