"""`lab up --pin-digests`: three images pinned the ways operators write pins, all naming the lab's images."""

from __future__ import annotations

import os

import pytest
import yaml

from tests.lab.observe import image_views, ssh
from tests.lab.start import start_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def pinned_lab():
    started = start_lab(f"kv{os.getpid()}p", nodes=1, runtimes=("containerd",), pin_digests=True)
    yield started
    started.down()


def test_pins_are_written_as_bare_hex_and_as_sha256_prefixed(pinned_lab):
    pins = yaml.safe_load((pinned_lab.inventory_dir / "group_vars/all/lab_digests.yml").read_text())
    assert sorted(v.startswith("sha256:") for v in pins.values()) == [False, True, True]


def _pin_kind(digest: str, record) -> str:
    if digest not in (record.digest, record.platform_digest):
        return f"unknown {digest}"
    if record.style not in ("oci-index", "docker-list"):
        return "single"
    return "index" if digest == record.digest else "platform"


def test_pins_name_an_index_a_platform_manifest_and_a_single_manifest(pinned_lab):
    records = {f"{pinned_lab.registry.host}/{key}": r for key, r in pinned_lab.images.items()}
    pins = [i for i in pinned_lab.expected.hosts["node1"].items if i.kind == "image" and i.digest]
    assert sorted(_pin_kind(i.digest, records[i.reference]) for i in pins) == ["index", "platform", "single"]


def test_the_node_holds_the_pinned_images_at_the_registry_digest(pinned_lab):
    node = pinned_lab.node("node1")
    records = {f"{pinned_lab.registry.host}/{key}": r for key, r in pinned_lab.images.items()}
    pinned = {i.reference for i in pinned_lab.expected.hosts["node1"].items if i.kind == "image" and i.digest}
    with ssh(node) as client:
        views = image_views(client, node.runtime)
    assert {ref: views[ref].digests for ref in pinned} == {ref: {records[ref].digest} for ref in pinned}
