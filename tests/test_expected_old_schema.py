"""Kubespray up to v2.27: role `kubespray-defaults`, a single defaults/main.yml, items keyed `sha256:` with
bare hex, `ansible_architecture` facts, kube_version with its `v`, kubeadm images from kube_image_repo."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kubespray_verify.resolve.expected import resolve
from kubespray_verify.resolve.templating import ANSIBLE_CORE
from tests.kubespray_fixtures import THREE_NODES, write_inventory
from tests.test_expected_parity import comparable_from_ansible, comparable_from_suite, render_with_ansible

KUBEADM_AMD64 = "a" * 64
KUBEADM_ARM64 = "B" * 64  # upper case in the tree: normalised to lower case

OLD_DEFAULTS = textwrap.dedent(f"""\
    local_release_dir: /tmp/releases
    kube_version: v1.28.6
    kube_owner: kube
    kube_image_repo: registry.k8s.io
    etcd_deployment_type: kubeadm
    etcd_version: v3.5.10
    etcd_image_repo: "{{{{ kube_image_repo }}}}/etcd"
    etcd_image_tag: "{{{{ etcd_version }}}}-0"
    container_manager: containerd
    download_run_once: false
    download_localhost: false
    download_container: true
    skip_downloads: false
    download_delegate: "{{% if download_localhost %}}localhost{{% else %}}{{{{ groups['kube_control_plane'][0] }}}}{{% endif %}}"
    host_architecture: >-
      {{%- if ansible_architecture in _host_architecture_groups -%}}
      {{{{ _host_architecture_groups[ansible_architecture] }}}}
      {{%- else -%}}
      {{{{ ansible_architecture }}}}
      {{%- endif -%}}
    _host_architecture_groups:
      x86_64: amd64
      aarch64: arm64
    image_arch: "{{{{ host_architecture | default('amd64') }}}}"
    kubeadm_checksums:
      arm64:
        v1.28.6: {KUBEADM_ARM64}
      amd64:
        v1.28.6: {KUBEADM_AMD64}
    kubeadm_binary_checksum: "{{{{ kubeadm_checksums[image_arch][kube_version] }}}}"
    pod_infra_version: "3.9"
    pod_infra_image_repo: "{{{{ kube_image_repo }}}}/pause"
    pod_infra_image_tag: "{{{{ pod_infra_version }}}}"
    pod_infra_digest_checksum: "sha256:{'C' * 64}"
    downloads:
      kubeadm:
        enabled: true
        file: true
        version: "{{{{ kube_version }}}}"
        dest: "{{{{ local_release_dir }}}}/kubeadm-{{{{ kube_version }}}}-{{{{ image_arch }}}}"
        sha256: "{{{{ kubeadm_binary_checksum }}}}"
        url: "https://dl.k8s.io/release/{{{{ kube_version }}}}/bin/linux/{{{{ image_arch }}}}/kubeadm"
        unarchive: false
        owner: "root"
        mode: "0755"
        groups:
          - k8s_cluster
      pod_infra:
        enabled: true
        container: true
        repo: "{{{{ pod_infra_image_repo }}}}"
        tag: "{{{{ pod_infra_image_tag }}}}"
        sha256: "{{{{ pod_infra_digest_checksum | default(None) }}}}"
        groups:
          - k8s_cluster
    download_defaults:
      container: false
      file: false
      repo: None
      tag: None
      enabled: false
      dest: None
      version: None
      url: None
      unarchive: false
      owner: "{{{{ kube_owner }}}}"
      mode: None
    """)


def old_tree(root: Path) -> Path:
    role = root / "roles" / "kubespray-defaults" / "defaults"
    role.mkdir(parents=True)
    (role / "main.yml").write_text(OLD_DEFAULTS)
    (root / "requirements.txt").write_text("ansible==8.5.0\n")
    return root


def test_old_schema_and_role_name(tmp_path, monkeypatch):
    tree = old_tree(tmp_path / "kubespray")
    inventory = write_inventory(tree / "inventory" / "mycluster", THREE_NODES["hosts"], THREE_NODES["groups"],
                                host_vars={"node3": {"ansible_architecture": "aarch64"}}, with_sample=False)
    # Found by walking up from the inventory: no option, no environment.
    monkeypatch.delenv("KUBESPRAY_DIR", raising=False)
    state = resolve([str(inventory)])
    assert state.kubespray_dir == str(tree.resolve())

    node1, node3 = state.hosts["node1"], state.hosts["node3"]
    assert node1.item("kubeadm").checksum == f"sha256:{KUBEADM_AMD64}"
    assert node3.item("kubeadm").checksum == f"sha256:{KUBEADM_ARM64.lower()}"
    assert node3.item("kubeadm").dest == "/tmp/releases/kubeadm-v1.28.6-arm64"
    assert node1.item("pod_infra").digest == "sha256:" + "c" * 64
    assert node1.item("kubeadm_kube-apiserver").reference == "registry.k8s.io/kube-apiserver:v1.28.6"
    assert node3.item("kubeadm_etcd").reference == "registry.k8s.io/etcd:v3.5.10-0"
    # requirements.txt pins ansible 8.5 (ansible-core 2.15): any other ansible-core says so.
    asks_for_215 = any("this Kubespray asks for ansible-core 2.15" in note for note in state.notes)
    assert asks_for_215 == (ANSIBLE_CORE != (2, 15))

    theirs = render_with_ansible(inventory, tmp_path / "rendered", role=tree / "roles" / "kubespray-defaults")
    for host, exp in state.hosts.items():
        assert comparable_from_suite(exp) == comparable_from_ansible(theirs[host]), host
