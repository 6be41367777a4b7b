"""The suite's expected state equals what ansible-playbook renders from the same inputs.

Each scenario writes an inventory, resolves it with the suite, renders it with
`ansible-playbook` (tests/parity_playbook.yml, Kubespray's own selection rule)
and compares every host and item.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubespray_verify.digests import normalize_checksum, optional_digest
from kubespray_verify.resolve.expected import resolve
from kubespray_verify.resolve.tree import find_defaults_role
from tests.kubespray_fixtures import (
    THREE_NODES, kubespray_dir, release_trees, uncommented_offline_yml, with_k8s_cluster, write_inventory,
)

HERE = Path(__file__).parent


def grouping_plays(tree: Path) -> list | None:
    """The Kubespray tree's own plays that set groups before anything else runs, verbatim; None if it has none."""
    role_tasks = tree / "roles" / "dynamic_groups" / "tasks" / "main.yml"
    if role_tasks.is_file():
        tasks = [t for t in yaml.safe_load(role_tasks.read_text()) if "group_mappings" in (t.get("vars") or {})]
        return [{"name": "dynamic_groups", "hosts": "all", "gather_facts": False, "tasks": tasks}]
    boilerplate = tree / "playbooks" / "boilerplate.yml"
    if boilerplate.is_file():
        return [play for play in yaml.safe_load(boilerplate.read_text())
                if play.get("tasks") and all("group_by" in t for t in play["tasks"])]
    return None


def render_with_ansible(inventory: Path, out: Path, extra_vars: list[str] = (), role: Path | None = None,
                        tree: Path | None = None, timeout: float = 600) -> dict:
    """ansible-playbook's rendering; with `tree`, the groups are set by that tree's own grouping plays."""
    out.mkdir(parents=True, exist_ok=True)
    playbook_file = HERE / "parity_playbook.yml"
    plays = grouping_plays(tree) if tree is not None else None
    if plays is not None:
        playbook_file = out / "parity_with_tree_groups.yml"
        playbook_file.write_text(yaml.safe_dump(
            plays + [{"name": "Render downloads", "import_playbook": str(HERE / "parity_render.yml")}],
            sort_keys=False))
    env = dict(os.environ)
    env.update({
        "KV_OUT": str(out),
        "KV_DEFAULTS_ROLE": str(role or find_defaults_role(tree or kubespray_dir())),
        "ANSIBLE_ACTION_PLUGINS": str(HERE / "parity_plugins"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        # Older releases' defaults role runs tasks (`setup` for fallback_ips): on this machine, with this Python.
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        # Kubespray's download rule ends in `... | length`, a number; ansible-core 2.19 wants booleans unless told.
        "ANSIBLE_ALLOW_BROKEN_CONDITIONALS": "True",
    })
    sibling = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    playbook = sibling if os.path.exists(sibling) else shutil.which("ansible-playbook")
    assert playbook, "ansible-playbook is not installed"
    cmd = [playbook, "-i", str(inventory), str(playbook_file)]
    for ev in extra_vars:
        cmd += ["-e", ev]
    proc = subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def comparable_from_ansible(rendered: dict) -> dict:
    items = {}
    for raw in rendered["items"]:
        checksum = raw.get("checksum") if raw.get("checksum") not in (None, "", "None") else raw.get("sha256")
        if raw.get("container"):
            items[raw["name"]] = ("image", raw["repo"], str(raw["tag"]), optional_digest(checksum),
                                  tuple(raw["groups"]))
        else:
            mode = raw.get("mode")
            mode = format(mode, "04o") if isinstance(mode, int) else (None if mode in (None, "None") else str(mode))
            items[raw["name"]] = ("file", raw["url"], raw["dest"],
                                  normalize_checksum(checksum, "sha256" if "sha256" in raw else None),
                                  bool(raw.get("unarchive")), str(raw.get("owner")), mode, tuple(raw["groups"]))
    return {"arch": rendered["arch"], "items": items}


def comparable_from_suite(host) -> dict:
    items = {}
    for i in host.items:
        if i.kind == "image":
            items[i.name] = ("image", i.repo, i.tag, i.digest, i.groups)
        else:
            items[i.name] = ("file", i.url, i.dest, i.checksum, i.unarchive, i.owner, i.mode, i.groups)
    return {"arch": host.arch, "items": items}


SCENARIOS = {
    # Mixed runtimes per host, an arm64 worker, pinned digests (bare and prefixed), etcd as a host service.
    "runtimes-arm64-digests": dict(
        host_vars={
            "node1": {"container_manager": "containerd"},
            "node2": {"container_manager": "docker"},
            "node3": {"container_manager": "crio", "ansible_architecture": "aarch64"},
        },
        group_vars={"all": {
            "etcd_deployment_type": "host",
            "calico_node_digest_checksum": "A" * 64,
            "calico_cni_digest_checksum": "sha256:" + "b" * 64,
            "pod_infra_digest_checksum": "sha256:" + "C" * 64,
        }},
    ),
    # The sample offline.yml uncommented ("<offline.yml>"); etcd through kubeadm; pull once on the first control plane.
    "offline-kubeadm-etcd-run-once": dict(
        group_vars={"all": {"<offline.yml>": True, "etcd_deployment_type": "kubeadm",
                            "download_run_once": True, "etcd_digest_checksum": "d" * 64}},
        host_vars={"node3": {"ansible_architecture": "aarch64"}},
    ),
    # Pull once on the runner; docker everywhere; etcd in docker.
    "run-once-localhost-docker": dict(
        group_vars={"all": {"download_run_once": True, "download_localhost": True,
                            "container_manager": "docker", "etcd_deployment_type": "docker"}},
    ),
}


def check_parity(tmp_path: Path, tree: Path, scenario: str):
    spec = SCENARIOS[scenario]
    group_vars = {group: dict(values) for group, values in spec.get("group_vars", {}).items()}
    if group_vars.get("all", {}).pop("<offline.yml>", False):
        group_vars["all"] = {**uncommented_offline_yml(tree), **group_vars["all"]}
    inventory = write_inventory(tmp_path / "inventory", THREE_NODES["hosts"],
                                with_k8s_cluster(THREE_NODES["groups"], tree),
                                group_vars=group_vars, host_vars=spec.get("host_vars"), tree=tree)
    ours = resolve([str(inventory)], str(tree))
    theirs = render_with_ansible(inventory, tmp_path / "rendered", tree=tree)

    assert sorted(ours.hosts) == sorted(theirs)
    for host, exp in ours.hosts.items():
        assert not exp.errors, exp.errors
        assert comparable_from_suite(exp) == comparable_from_ansible(theirs[host]), host
        delegate = theirs[host]["delegate"]
        assert ours.download.host == delegate
    # Each scenario resolves something real: files and images on every host.
    for exp in ours.hosts.values():
        assert {i.kind for i in exp.items} == {"file", "image"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_expected_state_equals_ansible_playbook(tmp_path, scenario):
    check_parity(tmp_path, kubespray_dir(), scenario)


# Each release's whole tree (its role's tasks, its own grouping plays, its sample inventory), as operators
# check it out.
RELEASES = {tree.name: tree for tree in release_trees()}


def test_the_release_trees_are_there():
    assert len(RELEASES) >= 6, f"expected the release trees beside shared/kubespray/master, found {sorted(RELEASES)}"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("release", sorted(RELEASES))
def test_expected_state_equals_ansible_playbook_on_release_tree(tmp_path, release, scenario):
    check_parity(tmp_path, RELEASES[release], scenario)
