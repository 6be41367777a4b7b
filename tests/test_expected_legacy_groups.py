"""Kubespray before the dynamic_groups role: the boilerplate only renames old groups (`k8s-cluster` ->
`k8s_cluster`, `kube-node` -> `kube_node`, ...) and never derives k8s_cluster from kube_control_plane,
kube_node and calico_rr. A host outside a declared k8s_cluster gets none of its downloads."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kubespray_verify.resolve.expected import resolve
from kubespray_verify.resolve.tree import locate
from tests.kubespray_fixtures import THREE_NODES, write_inventory
from tests.test_expected_old_schema import old_tree
from tests.test_expected_parity import comparable_from_ansible, comparable_from_suite, render_with_ansible


def _legacy_play(old: str, new: str) -> str:
    return textwrap.dedent(f"""\
        - name: {old} is {new}
          hosts: {old}
          gather_facts: false
          tasks:
            - name: group {new}
              group_by:
                key: '{new}'
        """)


# A boilerplate of that shape: one play per old group name, each a lone group_by.
LEGACY_BOILERPLATE = "---\n- name: version check\n  import_playbook: ansible_version.yml\n\n" + "\n".join(
    _legacy_play(old, new) for old, new in (
        ("kube-master", "kube_control_plane"), ("kube-node", "kube_node"), ("k8s-cluster", "k8s_cluster"),
        ("calico-rr", "calico_rr"), ("no-floating", "no_floating"),
    ))


def legacy_tree(root: Path) -> Path:
    tree = old_tree(root)
    with open(tree / "roles" / "kubespray-defaults" / "defaults" / "main.yml", "a") as defaults:
        defaults.write("bin_dir: /usr/local/bin\n")
    (tree / "playbooks").mkdir()
    (tree / "playbooks" / "boilerplate.yml").write_text(LEGACY_BOILERPLATE)
    return tree


def _compare(state, theirs):
    assert sorted(state.hosts) == sorted(theirs)
    for host, exp in state.hosts.items():
        assert not exp.errors, exp.errors
        assert comparable_from_suite(exp) == comparable_from_ansible(theirs[host]), host


def test_tree_boilerplate_decides_group_mappings(tmp_path):
    tree = legacy_tree(tmp_path / "kubespray")
    assert locate(str(tree), []).group_mappings == {
        "kube_control_plane": ("kube-master",), "kube_node": ("kube-node",), "k8s_cluster": ("k8s-cluster",),
        "calico_rr": ("calico-rr",), "no_floating": ("no-floating",),
    }


def test_k8s_cluster_is_not_derived_when_the_boilerplate_does_not(tmp_path):
    tree = legacy_tree(tmp_path / "kubespray")
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"], with_sample=False)
    state = resolve([str(inventory)], str(tree))
    # kubeadm and pod_infra are for k8s_cluster, which this inventory does not declare.
    for exp in state.hosts.values():
        assert exp.items == [], exp.items
    _compare(state, render_with_ansible(inventory, tmp_path / "rendered", role=tree / "roles" / "kubespray-defaults",
                                        tree=tree))


def test_old_group_names_map_to_k8s_cluster(tmp_path):
    tree = legacy_tree(tmp_path / "kubespray")
    groups = {"kube-master": ["node1", "node2"], "etcd": ["node1", "node2"], "kube-node": ["node3"],
              "k8s-cluster": ["node1", "node2", "node3"]}
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], groups, with_sample=False)
    state = resolve([str(inventory)], str(tree))
    assert state.download.host is None
    for exp in state.hosts.values():
        assert exp.item("kubeadm") is not None and exp.item("kubeadm_kube-proxy") is not None
    _compare(state, render_with_ansible(inventory, tmp_path / "rendered", role=tree / "roles" / "kubespray-defaults",
                                        tree=tree))
