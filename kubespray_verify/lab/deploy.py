"""Putting a node in the "deployed" state: each file at its `dest`, each image in its runtime.

Files are copied from the files_repo tree, with the item's mode and owner;
raw binaries (kubeadm, kubelet, kubectl, calicoctl, runc...) are also copied
into bin_dir, as Kubespray does. Images are pulled through the lab registry by the node's own
runtime (`ctr -n k8s.io images pull --hosts-dir`, `docker pull`, `podman pull`).
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from kubespray_verify.lab.nodes import Node
from kubespray_verify.lab.daemons import RUNTIMES, RegistryAccess
from kubespray_verify.model import FileItem, HostExpectation, ImageItem

BIN_DIR = "/usr/local/bin"
# Binaries Kubespray's roles copy from `dest` into bin_dir unchanged (item -> file name).
# Archives are unpacked there too (crictl, nerdctl, etcd, containerd...): the lab
# leaves them packed, as their stand-ins would shadow the node's real ctr and friends.
COPIED_TO_BIN_DIR = {
    "kubeadm": "kubeadm", "kubelet": "kubelet", "kubectl": "kubectl", "calicoctl": "calicoctl",
    "runc": "runc", "crun": "crun", "skopeo": "skopeo", "yq": "yq",
    "gvisor_runsc": "runsc", "gvisor_containerd_shim": "containerd-shim-runsc-v1",
}


def deploy(node: Node, expectation: HostExpectation, sources: dict[str, Path]) -> None:
    for item in expectation.items:
        if isinstance(item, FileItem):
            place_file(node, item, sources[item.url])
    for ref in image_refs(expectation):
        pull(node, ref)


def image_refs(expectation: HostExpectation) -> list[str]:
    return list(dict.fromkeys(i.reference for i in expectation.items if isinstance(i, ImageItem)))


def place_file(node: Node, item: FileItem, source: Path) -> None:
    dest = node.path(item.dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, dest, item_mode(item), item.owner)
    if item.name in COPIED_TO_BIN_DIR:
        _copy(source, node.path(f"{BIN_DIR}/{COPIED_TO_BIN_DIR[item.name]}"), 0o755, "root")


def item_mode(item: FileItem) -> int:
    return int(item.mode, 8) if item.mode else 0o644


def pull(node: Node, ref: str, secure: RegistryAccess | None = None) -> None:
    for command in RUNTIMES[node.runtime].pull(ref, secure):
        node.exec(command)


def _copy(source: Path, dest: Path, mode: int, owner: str) -> None:
    tmp = dest.with_name(f".{dest.name}.lab-tmp")
    shutil.copyfile(source, tmp)
    tmp.chmod(mode)
    try:
        entry = pwd.getpwnam(owner)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    except KeyError:
        pass  # an owner the machine does not have (Kubespray's kube_owner): stays root
    os.replace(tmp, dest)
