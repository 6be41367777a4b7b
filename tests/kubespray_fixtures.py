"""Inventories for tests, written the way operators write them (sample group_vars + hosts.yml)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

SHARED_KUBESPRAY = Path(__file__).resolve().parents[2] / "shared" / "kubespray" / "master"


def kubespray_dir() -> Path:
    """The Kubespray tree the tests resolve against: $KUBESPRAY_DIR (CI sets it), else shared/kubespray/master."""
    given = os.environ.get("KUBESPRAY_DIR")
    path = Path(given) if given else SHARED_KUBESPRAY
    if not (path / "roles").is_dir():
        pytest.fail(f"no Kubespray tree at {path}: set KUBESPRAY_DIR")
    return path


def release_trees() -> list[Path]:
    """The whole Kubespray trees of each release beside the trimmed master ($KUBESPRAY_RELEASES, else
    shared/kubespray/): every directory there with its roles and its requirements.txt."""
    given = os.environ.get("KUBESPRAY_RELEASES")
    base = Path(given) if given else SHARED_KUBESPRAY.parent
    trees = sorted(p for p in base.iterdir() if (p / "roles").is_dir() and (p / "requirements.txt").is_file()) \
        if base.is_dir() else []
    return trees


def write_inventory(root: Path, hosts: dict, groups: dict, group_vars: dict | None = None,
                    host_vars: dict | None = None, with_sample: bool = True, tree: Path | None = None) -> Path:
    """hosts: {name: vars}; groups: {group: [hosts]}; group_vars: {group: {var: value}}.

    With `with_sample`, the group_vars of the sample inventory of `tree` (default: kubespray_dir()) come first.
    """
    root.mkdir(parents=True, exist_ok=True)
    if with_sample:
        shutil.copytree((tree or kubespray_dir()) / "inventory" / "sample" / "group_vars", root / "group_vars",
                        dirs_exist_ok=True)
    inventory = {"all": {"hosts": {h: dict(v) for h, v in hosts.items()},
                         "children": {g: {"hosts": {h: None for h in members}} for g, members in groups.items()}}}
    (root / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    for group, values in (group_vars or {}).items():
        d = root / "group_vars" / group
        d.mkdir(parents=True, exist_ok=True)
        (d / "zz-test.yml").write_text(yaml.safe_dump(values, sort_keys=False))
    for host, values in (host_vars or {}).items():
        d = root / "host_vars"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{host}.yml").write_text(yaml.safe_dump(values, sort_keys=False))
    return root / "hosts.yml"


def with_k8s_cluster(groups: dict, tree: Path | None = None) -> dict:
    """`groups`, plus k8s_cluster declared when the Kubespray tree under test does not derive it.

    Kubespray's boilerplate derives k8s_cluster from kube_control_plane, kube_node and calico_rr only
    from the dynamic_groups role on; before, the sample inventory declares it.
    """
    from kubespray_verify.resolve.tree import locate

    mappings = locate(str(tree or kubespray_dir()), []).group_mappings
    if mappings is None or "kube_node" in mappings.get("k8s_cluster", ()):
        return groups
    members = {"kube_control_plane", "kube_node", "calico_rr"}
    hosts = sorted({h for g, hs in groups.items() if g in members for h in hs})
    return {**groups, "k8s_cluster": hosts}


THREE_NODES = {
    "hosts": {"node1": {"ansible_host": "127.0.0.11"}, "node2": {"ansible_host": "127.0.0.12"},
              "node3": {"ansible_host": "127.0.0.13"}},
    "groups": {"kube_control_plane": ["node1", "node2"], "etcd": ["node1", "node2"], "kube_node": ["node3"]},
}


def uncommented_offline_yml(tree: Path | None = None) -> dict:
    """The sample offline.yml (of `tree`, default kubespray_dir()) with its settings uncommented, pointing at a
    site's mirrors."""
    text = ((tree or kubespray_dir()) / "inventory" / "sample" / "group_vars" / "all" / "offline.yml").read_text()
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("# ") and ":" in stripped and not stripped.startswith("# [") \
                and not stripped.startswith("## ") and "YOURREPOKEY" not in stripped:
            candidate = stripped[2:]
            key = candidate.split(":", 1)[0]
            if key and " " not in key:
                lines.append(candidate)
    values = yaml.safe_load("\n".join(lines)) or {}
    values.update({
        "registry_host": "10.200.0.2:5000",
        "files_repo": "http://10.200.0.2:8080",
        "yum_repo": "http://10.200.0.2:8080/yum",
        "debian_repo": "http://10.200.0.2:8080/debian",
        "ubuntu_repo": "http://10.200.0.2:8080/ubuntu",
    })
    return values
