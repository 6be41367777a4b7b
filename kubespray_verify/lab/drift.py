"""Drift: making one node differ from what Kubespray expects, the ways real sites do, and undoing it.

Each kind is done with the node's own tools (its runtime's CLI, its files,
its link), so what the suite then observes is what a real node would show.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from kubespray_verify.lab import artifacts, deploy, images, netns, pki as pki_ops
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.nodes import Node
from kubespray_verify.lab.daemons import RUNTIMES, RegistryAccess
from kubespray_verify.lab.state import DriftRecord
from kubespray_verify.model import FileItem, ImageItem
from kubespray_verify.registry.client import RegistryClient

if TYPE_CHECKING:
    from kubespray_verify.lab.api import Lab

KINDS = {
    "image-missing": "the image is not in the node's runtime",
    "image-other-digest": "the image's tag points at other content (as after a tag was moved)",
    "image-mirror-name": "the image is there only under the secure mirror's name",
    "image-extra-names": "the image also carries the mirror's name and a docker.io name",
    "image-from-tarball": "the image was loaded from a `docker save` tarball (no registry digest)",
    "file-missing": "the file is not at its dest",
    "file-corrupted": "one byte of the file at its dest is changed (same size, mode and mtime)",
    "file-wrong-mode": "the file at its dest has another mode",
    "node-unreachable": "the node's link is down",
}
DRIFT_TAG_SUFFIX = "-lab-drift"
TARBALL_DIR = "/tmp/releases/images"  # Kubespray's {{ local_release_dir }}/images


def apply(lab: "Lab", node: Node, kind: str, item_name: Optional[str]) -> DriftRecord:
    if kind not in KINDS:
        raise LabError(f"drift kind {kind!r} is unknown: use one of {', '.join(KINDS)}")
    record = DriftRecord(node.name, kind, item_name)
    if kind == "node-unreachable":
        netns.set_node_link(lab.layout, node.name, up=False)
        return record
    item = _item(lab, node, item_name, FileItem if kind.startswith("file-") else ImageItem)
    if isinstance(item, FileItem):
        _drift_file(node, kind, item)
    else:
        record.added_refs = _drift_image(lab, node, kind, item)
    return record


def undo(lab: "Lab", node: Node, record: DriftRecord) -> None:
    if record.kind == "node-unreachable":
        netns.set_node_link(lab.layout, node.name, up=True)
        return
    item = _item(lab, node, record.item, FileItem if record.kind.startswith("file-") else ImageItem)
    if isinstance(item, FileItem):
        deploy.place_file(node, item, artifacts.mirror_path(lab.layout.files_repo_dir, lab.layout.files_repo, item))
        return
    runtime = RUNTIMES[node.runtime]
    for ref in record.added_refs + [item.reference]:
        node.exec(runtime.untag(ref), check=False)
    if record.kind == "image-from-tarball":
        node.path(_tarball(item)).unlink(missing_ok=True)
    deploy.pull(node, item.reference)


def _drift_file(node: Node, kind: str, item: FileItem) -> None:
    path = node.path(item.dest)
    if not path.exists():
        raise LabError(f"{node.name}: {item.dest} ({item.name}) is already missing")
    if kind == "file-missing":
        path.unlink()
    elif kind == "file-corrupted":
        before = path.stat()
        with open(path, "r+b") as fh:
            size = fh.seek(0, 2)
            fh.seek(size // 2)
            byte = fh.read(1)
            fh.seek(size // 2)
            fh.write(bytes([byte[0] ^ 0xFF]))
        # The timestamps put back, as a careless copy or a restore from backup would leave them.
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        path.chmod(0o600 if deploy.item_mode(item) != 0o600 else 0o644)


def _drift_image(lab: "Lab", node: Node, kind: str, item: ImageItem) -> list[str]:
    runtime = RUNTIMES[node.runtime]
    registry = lab.registry
    mirror_ref = f"{registry.secure_host}/{_path(lab, item)}:{item.tag}"
    secure = RegistryAccess(registry.host, registry.secure_host, pki_ops.load(lab.layout.pki_dir))
    if kind == "image-missing":
        node.exec(runtime.untag(item.reference))
        return []
    if kind == "image-other-digest":
        drift_ref = _push_variant(lab, item)
        deploy.pull(node, drift_ref)
        node.exec(runtime.tag(drift_ref, item.reference))
        node.exec(runtime.untag(drift_ref))
        return []
    if kind == "image-mirror-name":
        deploy.pull(node, mirror_ref, secure)
        node.exec(runtime.untag(item.reference))
        return [mirror_ref]
    if kind == "image-extra-names":
        hub_ref = f"docker.io/{_path(lab, item)}:{item.tag}"
        deploy.pull(node, mirror_ref, secure)
        node.exec(runtime.tag(item.reference, hub_ref))
        return [mirror_ref, hub_ref]
    # image-from-tarball: as Kubespray's download_run_once leaves it, loaded from {{ local_release_dir }}/images.
    built = lab.images[f"{_path(lab, item)}:{item.tag}"]
    image = images.build(built.repository, built.tag, built.style)
    tarball = _tarball(item)
    node.path(TARBALL_DIR).mkdir(parents=True, exist_ok=True)
    archive = images.docker_archive(image, item.reference)
    node.path(tarball).write_bytes(archive)
    node.exec(runtime.untag(item.reference))
    node.exec(runtime.load(), input=archive)
    return []


def _push_variant(lab: "Lab", item: ImageItem) -> str:
    """Other content for the item's repository, under the tag `<tag>-lab-drift`; its reference."""
    built = lab.images[f"{_path(lab, item)}:{item.tag}"]
    variant = images.build(built.repository, built.tag, built.style, variant="drift")
    with RegistryClient(lab.registry.url) as client:
        client.push(variant.repository, item.tag + DRIFT_TAG_SUFFIX, variant.artifact)
    return f"{item.repo}:{item.tag}{DRIFT_TAG_SUFFIX}"


def _item(lab: "Lab", node: Node, name: Optional[str], kind: type):
    word = "file" if kind is FileItem else "image"
    if not name:
        raise LabError(f"this drift needs the name of a {word} item of {node.name}")
    item = lab.expected.hosts[node.name].item(name)
    if not isinstance(item, kind):
        names = [i.name for i in lab.expected.hosts[node.name].items if isinstance(i, kind)]
        raise LabError(f"{node.name} expects no {word} item {name!r} ({word} items: {', '.join(names)})")
    return item


def _path(lab: "Lab", item: ImageItem) -> str:
    return item.repo[len(lab.registry.host) + 1:]


def _tarball(item: ImageItem) -> str:
    return f"{TARBALL_DIR}/{item.reference.replace('/', '_').replace(':', '_')}.tar"

