"""A lab with one node per runtime is a deployed Kubespray site: ssh, files at dest, images at digest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from kubespray_verify.lab import images
from tests.lab.observe import image_views, registry_digest, run, ssh

pytestmark = pytest.mark.lab
NODES = ("node1", "node2", "node3")
REPO = Path(__file__).resolve().parents[2]


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE; the lab has its own CA
    return session


def test_nodes_get_runtimes_round_robin_and_kubespray_groups(lab):
    assert [(n.name, n.runtime, n.groups) for n in lab.nodes] == [
        ("node1", "containerd", ("kube_control_plane", "etcd")),
        ("node2", "docker", ("kube_control_plane", "etcd")),
        ("node3", "crio", ("kube_node",)),
    ]


@pytest.mark.parametrize("name", NODES)
def test_node_answers_ssh_as_itself_with_python_and_no_default_route(lab, name):
    with ssh(lab.node(name)) as client:
        _, hostname = run(client, "hostname")
        rc, _ = run(client, "/usr/bin/python3 -c 'import json'")
        _, routes = run(client, "ip route")
    assert (hostname.strip(), rc, "default" in routes) == (name, 0, False)


@pytest.mark.parametrize("name", NODES)
def test_files_are_at_dest_with_the_expected_checksum_and_mode(lab, name):
    files = [i for i in lab.expected.hosts[name].items if i.kind == "file"]
    expected = {i.dest: (i.checksum, int(i.mode, 8)) for i in files}
    with ssh(lab.node(name)) as client:
        _, sums = run(client, "sha256sum " + " ".join(expected))
        _, modes = run(client, "stat -c '%a %n' " + " ".join(expected))
    mode_of = {line.split()[1]: int(line.split()[0], 8) for line in modes.splitlines()}
    observed = {line.split()[1]: ("sha256:" + line.split()[0], mode_of[line.split()[1]]) for line in sums.splitlines()}
    assert observed == expected


@pytest.mark.parametrize("name", NODES)
def test_raw_binaries_are_copied_into_bin_dir(lab, name):
    items = {i.name: i for i in lab.expected.hosts[name].items if i.name in ("kubeadm", "kubelet", "kubectl", "runc")}
    wanted = {f"/usr/local/bin/{n}": i.checksum for n, i in items.items()}
    with ssh(lab.node(name)) as client:
        _, out = run(client, "sha256sum " + " ".join(wanted))
    assert {line.split()[1]: "sha256:" + line.split()[0] for line in out.splitlines()} == wanted


@pytest.mark.parametrize("name", NODES)
def test_images_are_in_the_runtime_at_the_registry_digest(lab, name):
    node, reg = lab.node(name), lab.registry
    refs = {i.reference for i in lab.expected.hosts[name].items if i.kind == "image"}
    expected = {}
    for ref in refs:
        repository, tag = ref[len(reg.host) + 1:].rsplit(":", 1)
        expected[ref] = registry_digest(reg.host, repository, tag)
    with ssh(node) as client:
        views = image_views(client, node.runtime)
    observed = {ref: expected[ref] if ref in views and expected[ref] in views[ref].digests
                else sorted(views[ref].digests) if ref in views else "missing" for ref in refs}
    assert observed == expected


def test_images_mix_oci_and_docker_single_and_multi_arch(lab):
    assert {record.style for record in lab.images.values()} == set(images.STYLES)


def test_no_digest_is_pinned_by_default(lab):
    assert [i.name for h in lab.expected.hosts.values() for i in h.items if i.kind == "image" and i.digest] == []


def test_secure_registry_needs_credentials_and_the_lab_ca(lab):
    reg, session = lab.registry, _session()
    anonymous = session.get(f"{reg.secure_url}/v2/", verify=str(reg.ca_file), timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{reg.secure_url}/v2/", auth=(reg.username, reg.password), verify=True, timeout=10)
    authorised = session.get(f"{reg.secure_url}/v2/", auth=(reg.username, reg.password),
                             verify=str(reg.ca_file), timeout=10)
    assert (anonymous.status_code, authorised.status_code) == (401, 200)


def test_secure_registry_holds_the_same_images(lab):
    reg = lab.registry
    plain = {key: registry_digest(reg.host, r.repository, r.tag) for key, r in lab.images.items()}
    secure = {key: registry_digest(reg.secure_host, r.repository, r.tag, auth=(reg.username, reg.password),
                                   verify=str(reg.ca_file)) for key, r in lab.images.items()}
    assert secure == plain


def test_inventory_resolved_from_scratch_points_kubespray_at_the_lab(lab, tmp_path):
    """A fresh `kubespray-verify expected` on the lab's inventory: every URL is served with its checksum."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBESPRAY_VERIFY_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "kubespray_verify", "expected", "--inventory",
                          str(lab.inventory_dir), "--kubespray-dir", lab.kubespray_dir],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=True).stdout
    resolved = json.loads(out)
    # The lab resolved with the nodes' own facts, this run with Kubespray's defaults: same items.
    items = {name: host["items"] for name, host in resolved["hosts"].items()}
    assert items == {name: host["items"] for name, host in lab.expected.to_json()["hosts"].items()}
    session = _session()
    files = {i["url"]: i["checksum"] for h in resolved["hosts"].values() for i in h["items"] if i["kind"] == "file"}
    served = {url: "sha256:" + hashlib.sha256(session.get(url, timeout=10).content).hexdigest() for url in files}
    assert served == files
    assert all(url.startswith(lab.registry.files_repo + "/") for url in files)
