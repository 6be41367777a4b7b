"""The same inventories resolved under several Ansibles, compared item by item (CI: .ci/ansible-matrix).

    python -m tests.ansible_matrix inventories DIR      write the inventories (once, with any Python)
    python -m tests.ansible_matrix resolve DIR OUT.json [--trees NAME...]
                                                        in one virtualenv: every tree x inventory, one process
    python -m tests.ansible_matrix compare DIR A.json B.json...
                                                        every output equal to the first one's, or fail

Inventories, per Kubespray tree: the lab's, as `lab up` writes it for three nodes (one per runtime: its
hosts.yml and group_vars, the mirrors and per-binary URLs of the sample offline.yml), and the tree's own
sample inventory (inventory/sample/group_vars) for three nodes, one an arm64 worker, in two settings:
as shipped, and with the sample offline.yml uncommented, etcd through kubeadm, pinned digests and
download_run_once. Resolutions bypass the cache, so each virtualenv's ansible-core answers itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.kubespray_fixtures import (
    THREE_NODES, release_trees, uncommented_offline_yml, with_k8s_cluster, write_inventory,
)

SAMPLE_HOST_VARS = {"node3": {"ansible_architecture": "aarch64"}}
OFFLINE_VARS = {"etcd_deployment_type": "kubeadm", "download_run_once": True,
                "calico_node_digest_checksum": "a" * 64, "pod_infra_digest_checksum": "sha256:" + "b" * 64}
# The one note that depends on the running ansible-core: there exactly when it is not the one the tree asks for.
VERSION_NOTE = re.compile(r"^resolved with ansible-core ([\d.]+); this Kubespray asks for ansible-core ([\d.]+): ")
# Kubespray's own version-specific code: the lab writes the per-binary URLs of the current sample offline.yml,
# whose containerd URL reads containerd_static_binary, a default of v2.30 and later (not of v2.28). On an older
# tree that item cannot resolve on the hosts that get it, and nothing else may fail.
OLDER_THAN_THE_LABS_OFFLINE_YML = ("containerd", "'containerd_static_binary' is undefined")


def write_inventories(directory: Path) -> None:
    """DIR/<tree>/<inventory>/hosts.yml for every release tree."""
    for tree in release_trees():
        base = directory / tree.name
        groups = with_k8s_cluster(THREE_NODES["groups"], tree)
        write_inventory(base / "sample", THREE_NODES["hosts"], groups, host_vars=SAMPLE_HOST_VARS, tree=tree)
        write_inventory(base / "sample-offline", THREE_NODES["hosts"], groups, host_vars=SAMPLE_HOST_VARS, tree=tree,
                        group_vars={"all": {**uncommented_offline_yml(tree), **OFFLINE_VARS}})
        write_lab_inventory(base / "lab")


def write_lab_inventory(root: Path) -> None:
    """The inventory `lab up --nodes 3` writes (before it fills in the checksums of the files it serves)."""
    from kubespray_verify.lab import inventory, layout as layouts
    from kubespray_verify.lab.layout import RUNTIMES, Layout
    from kubespray_verify.lab.nodes import Node
    from kubespray_verify.lab.pki import KeyPair, Pki

    @dataclass(frozen=True)
    class Here(Layout):  # the lab's layout, its inventory written here instead of under the lab's home
        where: Path = Path()

        @property
        def inventory_dir(self) -> Path:
            return self.where

    layout = Here("kvmatrix", next(layouts.subnet_candidates("kvmatrix")), root)
    key = str(root / "ssh" / "id_ed25519")
    nodes = [Node(f"node{i + 1}", i, layout.node_ip(i), layouts.node_runtime(i, RUNTIMES),
                  layouts.node_groups(i, 3), key) for i in range(3)]
    pki = Pki(root / "pki" / "ca.crt", KeyPair(root / "pki" / "server.crt", root / "pki" / "server.key"),
              root / "pki" / "htpasswd", "mirror-user", "mirror-password")
    inventory.write(layout, nodes, pki, Path(key))  # its hosts.yml declares k8s_cluster, as older trees need


def resolve_all(directory: Path, names: list[str]) -> dict:
    from kubespray_verify.resolve.expected import resolve
    from kubespray_verify.resolve.templating import ANSIBLE_CORE_VERSION

    trees = {tree.name: tree for tree in release_trees()}
    results: dict = {}
    started = time.monotonic()
    for name in names or sorted(trees):
        for inventory in sorted(p.name for p in (directory / name).iterdir()):
            state = resolve([str(directory / name / inventory / "hosts.yml")], str(trees[name]))
            results[f"{name}/{inventory}"] = state.to_json()
    return {"ansible_core": ANSIBLE_CORE_VERSION, "collections": _collections(),
            "seconds": round(time.monotonic() - started, 1), "results": results}


def _collections() -> bool:
    from kubespray_verify.resolve.templating import collection_installed

    return collection_installed("ansible.utils")


def differences(base: dict, other: dict) -> list[str]:
    """Every (host, item, field) where `other` differs from `base`, in words; [] when they agree.

    An item error is compared by ansible-core's reason: up to 2.18 it quotes the template first.
    """
    found: list[str] = []
    for key in ("kubespray", "download", "resolutions"):
        if base.get(key) != other.get(key):
            found.append(f"{key}: {base.get(key)!r} != {other.get(key)!r}")
    if _notes(base) != _notes(other):
        found.append(f"notes: {_notes(base)} != {_notes(other)}")
    if list(base["hosts"]) != list(other["hosts"]):
        found.append(f"hosts: {list(base['hosts'])} != {list(other['hosts'])}")
    for host, exp in base["hosts"].items():
        theirs = other["hosts"].get(host)
        if theirs is None:
            continue
        for field in sorted(set(exp) | set(theirs)):
            if field in ("items", "errors"):
                continue
            if exp.get(field) != theirs.get(field):
                found.append(f"{host}: {field}: {exp.get(field)!r} != {theirs.get(field)!r}")
        for what in ("items", "errors"):
            ours = {i["name"]: i for i in exp[what]}
            others = {i["name"]: i for i in theirs[what]}
            for name in sorted(set(ours) | set(others)):
                if name not in others or name not in ours:
                    found.append(f"{host}: {what[:-1]} {name} only in {'the first' if name in ours else 'the second'}")
                    continue
                for field in sorted(set(ours[name]) | set(others[name])):
                    if field == "error" and reason(ours[name][field]) == reason(others[name][field]):
                        continue
                    if ours[name].get(field) != others[name].get(field):
                        found.append(f"{host}: {name}.{field}: {ours[name].get(field)!r} != "
                                     f"{others[name].get(field)!r}")
    return found


def reason(error: str) -> str:
    return error.rsplit(": ", 1)[-1].rstrip(".")


def _notes(state: dict) -> list[str]:
    """The notes but the one about the running ansible-core (checked by version_note_problem)."""
    return [note for note in state.get("notes", []) if not VERSION_NOTE.match(note)]


def version_note_problem(state: dict, running: str) -> str | None:
    """The note on the running ansible-core is there exactly when the tree asks for another one."""
    from kubespray_verify.resolve.tree import locate

    asked = locate(state["kubespray"]["dir"], []).ansible_core_required
    notes = [m for m in map(VERSION_NOTE.match, state.get("notes", [])) if m]
    minor = ".".join(running.split(".")[:2])
    if asked and asked != minor:
        if not (len(notes) == 1 and notes[0].group(1) == running and notes[0].group(2) == asked):
            return f"no note that ansible-core {running} is not the {asked} this Kubespray asks for"
    elif notes:
        return f"a note about the ansible-core version although this Kubespray asks for {asked or 'none'}"
    return None


def unexplained_errors(key: str, state: dict) -> list[str]:
    """Items that do not resolve, but for the one Kubespray's own version explains (and then it must fail)."""
    errors = {(h, e["name"]): e["error"] for h, x in state["hosts"].items() for e in x["errors"]}
    tree = Path(state["kubespray"]["dir"])
    if key.endswith("/lab") and not _defines(tree, "containerd_static_binary"):
        item, message = OLDER_THAN_THE_LABS_OFFLINE_YML
        explained = {(h, item) for h in state["hosts"] if reason(errors.get((h, item), "")) == message}
        containerd_hosts = {h for h, x in state["hosts"].items() if x["container_manager"] == "containerd"}
        if {h for h, _ in explained} != containerd_hosts:
            return [f"the lab's containerd URL should fail on {sorted(containerd_hosts)} with {message}, "
                    f"failed on {sorted(h for h, _ in explained)}"]
        errors = {k: v for k, v in errors.items() if k not in explained}
    return [f"{h}: {name}: {error}" for (h, name), error in sorted(errors.items())]


def _defines(tree: Path, variable: str) -> bool:
    role = next(p for p in (tree / "roles" / "kubespray_defaults", tree / "roles" / "kubespray-defaults")
                if (p / "defaults").is_dir())
    pattern = re.compile(rf"^{variable}:", re.M)
    return any(pattern.search(f.read_text()) for f in role.rglob("*.yml"))


def compare(runs: list[tuple[str, dict]]) -> int:
    """Each run's every resolution: no item fails but those Kubespray's version explains, the version note
    right, and (but for the first run) equal to the first run's resolution of the same tree and inventory."""
    (base_name, base) = runs[0]
    passed = failed = 0
    for name, run in runs:
        print(f"{name}: ansible-core {run['ansible_core']}{' with collections' if run['collections'] else ''}, "
              f"{len(run['results'])} resolutions in {run['seconds']} s")
        for key, state in sorted(run["results"].items()):
            problems = unexplained_errors(key, state)
            if not all(x["items"] for x in state["hosts"].values()):
                problems.append("a host with no item")
            if note := version_note_problem(state, run["ansible_core"]):
                problems.append(note)
            if name != base_name:
                if key in base["results"]:
                    problems += differences(base["results"][key], state)
                else:
                    problems.append(f"not resolved by {base_name}")
            if problems:
                failed += 1
                print(f"FAILED {name} {key}:")
                for line in problems[:20]:
                    print(f"    {line}")
            else:
                passed += 1
    print(f"ansible matrix: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ansible_matrix")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("inventories").add_argument("directory", type=Path)
    p = sub.add_parser("resolve")
    p.add_argument("directory", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--trees", nargs="*", default=[])
    p = sub.add_parser("compare")
    p.add_argument("directory", type=Path)
    p.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "inventories":
        write_inventories(args.directory)
        return 0
    if args.command == "resolve":
        args.out.write_text(json.dumps(resolve_all(args.directory, args.trees), indent=1, sort_keys=True))
        return 0
    return compare([(path.stem, json.loads(path.read_text())) for path in args.runs])


if __name__ == "__main__":
    sys.exit(main())
