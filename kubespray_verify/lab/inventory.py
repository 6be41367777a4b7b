"""The lab's Ansible inventory, in Kubespray's layout, pointing Kubespray's own variables at the lab.

    inventory/hosts.yml                   nodes, groups, container_manager per host
    inventory/group_vars/all/offline.yml  registry_host, files_repo, *_image_repo, *_download_url
    inventory/group_vars/all/lab.yml      connection variables and the lab's Kubespray settings
    inventory/group_vars/all/containerd.yml, docker.yml, cri-o.yml   registry mirrors per runtime
    inventory/group_vars/all/lab_checksums.yml   *_binary_checksum / *_archive_checksum of the lab's files
    inventory/group_vars/all/lab_digests.yml     *_digest_checksum pins of some of the lab's images
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kubespray_verify.lab.layout import Layout
from kubespray_verify.lab.nodes import Node
from kubespray_verify.lab.pki import Pki

GROUP_VARS = Path("group_vars") / "all"

# The per-binary overrides of Kubespray's sample inventory/sample/group_vars/all/offline.yml.
DOWNLOAD_URLS = {
    "kubeadm_download_url": "{{ files_repo }}/dl.k8s.io/release/v{{ kube_version }}/bin/linux/{{ image_arch }}/kubeadm",
    "kubectl_download_url": "{{ files_repo }}/dl.k8s.io/release/v{{ kube_version }}/bin/linux/{{ image_arch }}/kubectl",
    "kubelet_download_url": "{{ files_repo }}/dl.k8s.io/release/v{{ kube_version }}/bin/linux/{{ image_arch }}/kubelet",
    "cni_download_url": "{{ files_repo }}/github.com/containernetworking/plugins/releases/download/v{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-v{{ cni_version }}.tgz",
    "crictl_download_url": "{{ files_repo }}/github.com/kubernetes-sigs/cri-tools/releases/download/v{{ crictl_version }}/crictl-v{{ crictl_version }}-{{ ansible_system | lower }}-{{ image_arch }}.tar.gz",
    "etcd_download_url": "{{ files_repo }}/github.com/etcd-io/etcd/releases/download/v{{ etcd_version }}/etcd-v{{ etcd_version }}-linux-{{ image_arch }}.tar.gz",
    "calicoctl_download_url": "{{ files_repo }}/github.com/projectcalico/calico/releases/download/v{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}",
    "calico_crds_download_url": "{{ files_repo }}/github.com/projectcalico/calico/raw/v{{ calico_version }}/manifests/crds.yaml",
    "ciliumcli_download_url": "{{ files_repo }}/github.com/cilium/cilium-cli/releases/download/v{{ cilium_cli_version }}/cilium-linux-{{ image_arch }}.tar.gz",
    "helm_download_url": "{{ files_repo }}/get.helm.sh/helm-v{{ helm_version }}-linux-{{ image_arch }}.tar.gz",
    "crun_download_url": "{{ files_repo }}/github.com/containers/crun/releases/download/{{ crun_version }}/crun-{{ crun_version }}-linux-{{ image_arch }}",
    "kata_containers_download_url": "{{ files_repo }}/github.com/kata-containers/kata-containers/releases/download/{{ kata_containers_version }}/kata-static-{{ kata_containers_version }}-{{ image_arch }}.tar.xz",
    "cri_dockerd_download_url": "{{ files_repo }}/github.com/Mirantis/cri-dockerd/releases/download/v{{ cri_dockerd_version }}/cri-dockerd-{{ cri_dockerd_version }}.{{ image_arch }}.tgz",
    "runc_download_url": "{{ files_repo }}/github.com/opencontainers/runc/releases/download/v{{ runc_version }}/runc.{{ image_arch }}",
    "crio_download_url": "{{ files_repo }}/storage.googleapis.com/cri-o/artifacts/cri-o.{{ image_arch }}.v{{ crio_version }}.tar.gz",
    "skopeo_download_url": "{{ files_repo }}/github.com/lework/skopeo-binary/releases/download/v{{ skopeo_version }}/skopeo-linux-{{ image_arch }}",
    "containerd_download_url": "{{ files_repo }}/github.com/containerd/containerd/releases/download/v{{ containerd_version }}/containerd-{{ 'static-' if containerd_static_binary }}{{ containerd_version }}-linux-{{ image_arch }}.tar.gz",
    "nerdctl_download_url": "{{ files_repo }}/github.com/containerd/nerdctl/releases/download/v{{ nerdctl_version }}/nerdctl-{{ nerdctl_version }}-{{ ansible_system | lower }}-{{ image_arch }}.tar.gz",
    "gvisor_runsc_download_url": "{{ files_repo }}/storage.googleapis.com/gvisor/releases/release/{{ gvisor_version }}/{{ ansible_architecture }}/runsc",
    "gvisor_containerd_shim_runsc_download_url": "{{ files_repo }}/storage.googleapis.com/gvisor/releases/release/{{ gvisor_version }}/{{ ansible_architecture }}/containerd-shim-runsc-v1",
}
IMAGE_REPOS = ("kube_image_repo", "gcr_image_repo", "github_image_repo", "docker_image_repo", "quay_image_repo")


def write(layout: Layout, nodes: list[Node], pki: Pki, ssh_key: Path) -> Path:
    """Write hosts.yml and group_vars (all but the lab's checksums and digests)."""
    root = layout.inventory_dir
    (root / GROUP_VARS).mkdir(parents=True, exist_ok=True)
    _dump(root / "hosts.yml", hosts_yml(nodes), f"The lab {layout.prefix}: one host per node namespace.")
    offline = {"registry_host": layout.registry_host, "files_repo": layout.files_repo}
    offline.update({repo: "{{ registry_host }}" for repo in IMAGE_REPOS})
    offline.update(DOWNLOAD_URLS)
    _dump(root / GROUP_VARS / "offline.yml", offline,
          "Kubespray's offline settings (sample offline.yml), pointed at the lab's mirrors.")
    _dump(root / GROUP_VARS / "lab.yml", {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(ssh_key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3",
        "etcd_deployment_type": "host",
        "kube_network_plugin": "calico",
        "calico_datastore": "etcd",
    }, CALICO_NOTE)
    _dump(root / GROUP_VARS / "containerd.yml", {"containerd_registries_mirrors": [
        {"prefix": layout.registry_host, "server": f"http://{layout.registry_host}",
         "mirrors": [{"host": f"http://{layout.registry_host}", "capabilities": ["pull", "resolve"],
                      "skip_verify": True}]},
        {"prefix": layout.secure_registry_host, "server": f"https://{layout.secure_registry_host}",
         "mirrors": [{"host": f"https://{layout.secure_registry_host}", "capabilities": ["pull", "resolve"],
                      "skip_verify": False, "auth": {"username": pki.username, "password": pki.password}}]},
    ]}, "Rendered by Kubespray to /etc/containerd/certs.d/<prefix>/hosts.toml (the lab's nodes carry them).")
    _dump(root / GROUP_VARS / "docker.yml", {"docker_insecure_registries": [layout.registry_host]}, None)
    _dump(root / GROUP_VARS / "cri-o.yml", {"crio_registries": [
        {"prefix": layout.registry_host, "location": layout.registry_host, "insecure": True},
        {"prefix": layout.secure_registry_host, "location": layout.secure_registry_host, "insecure": False},
    ]}, None)
    # Written empty now, filled once the lab's files and images exist: Ansible's group_vars plugin
    # remembers, per process, which files a directory holds, so a file added between two
    # resolutions in one process would go unseen (its content is read afresh each time).
    write_pins(layout, {}, {})
    return root


def write_pins(layout: Layout, checksums: dict[str, str], digests: dict[str, str]) -> None:
    _dump(layout.inventory_dir / GROUP_VARS / "lab_checksums.yml", dict(sorted(checksums.items())),
          "sha256 of the files the lab serves, in the per-item variables Kubespray's download items read\n"
          "(role defaults, so an inventory overrides them; the *_checksums tables are role vars from v2.28).")
    _dump(layout.inventory_dir / GROUP_VARS / "lab_digests.yml", dict(sorted(digests.items())),
          "Digest pins of some of the lab's images (lab up --pin-digests), as operators write them:\n"
          "bare hex or sha256:hex, the index digest of multi-arch images or the amd64 manifest digest.")


def hosts_yml(nodes: list[Node]) -> dict:
    groups: dict[str, dict] = {"kube_control_plane": {}, "etcd": {}, "kube_node": {}}
    for node in nodes:
        for group in node.groups:
            groups[group][node.name] = None
    return {"all": {
        "hosts": {n.name: {"ansible_host": n.ip, "ip": n.ip, "access_ip": n.ip, "container_manager": n.runtime}
                  for n in nodes},
        "children": {
            **{g: {"hosts": members} for g, members in groups.items()},
            "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
        },
    }}


CALICO_NOTE = """\
Connection variables and the lab's Kubespray settings.

calico_datastore: etcd (Kubespray's default is kdd). With kdd the calico_crds
item applies to the control plane, and its checksum comes straight from
calico_crds_checksums, a role var from Kubespray v2.28 that no inventory can
override: the lab's crds.yaml could never match it. With etcd every file item
the nodes need reads an overridable *_checksum variable (see lab_checksums.yml)."""


def _dump(path: Path, data: dict, comment: str | None) -> None:
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines()) if comment else ""
    path.write_text("---\n" + header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=200))
