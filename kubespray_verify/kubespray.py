"""Kubespray's own rules, in one place (pure): what its roles and defaults decide, in its words.

- the offline repo variables (`yum_repo`, `docker_*_repo_base_url`...) and which hosts each serves;
- the OS facts those repos need, as Ansible's setup module derives them from os-release;
- containerd's registry hosts directory (`config_path`);
- the binaries Kubespray copies from `local_release_dir` into `bin_dir`;
- kubeadm's own images, which are not in `downloads:`.

Imports only plain values (`model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from kubespray_verify.model import FileItem, HostExpectation

REDHAT, DEBIAN, UBUNTU, FEDORA = "RedHat", "Debian", "Ubuntu", "Fedora"


@dataclass(frozen=True)
class RepoVar:
    kind: str  # yum | apt | pypi | helm | key
    systems: tuple[str, ...] = ()  # distributions or OS families it serves; () = every host
    managers: tuple[str, ...] = ()  # container_manager values that use it; () = every host


_DOCKER_HOSTS = ("docker",)
_CONTAINERD_REPO_HOSTS = ("docker", "containerd")  # containerd.io comes from these repos with docker

REPO_VARS: dict[str, RepoVar] = {
    "yum_repo": RepoVar("yum", (REDHAT,)),
    "debian_repo": RepoVar("apt", (DEBIAN,)),
    "ubuntu_repo": RepoVar("apt", (UBUNTU,)),
    "docker_rh_repo_base_url": RepoVar("yum", (REDHAT,), _DOCKER_HOSTS),
    "docker_rh_repo_gpgkey": RepoVar("key", (REDHAT,), _DOCKER_HOSTS),
    "docker_fedora_repo_base_url": RepoVar("yum", (FEDORA,), _DOCKER_HOSTS),
    "docker_fedora_repo_gpgkey": RepoVar("key", (FEDORA,), _DOCKER_HOSTS),
    "docker_debian_repo_base_url": RepoVar("apt", (DEBIAN,), _DOCKER_HOSTS),
    "docker_debian_repo_gpgkey": RepoVar("key", (DEBIAN,), _DOCKER_HOSTS),
    "docker_ubuntu_repo_base_url": RepoVar("apt", (UBUNTU,), _DOCKER_HOSTS),
    "docker_ubuntu_repo_gpgkey": RepoVar("key", (UBUNTU,), _DOCKER_HOSTS),
    "containerd_fedora_repo_base_url": RepoVar("yum", (FEDORA,), _CONTAINERD_REPO_HOSTS),
    "containerd_fedora_repo_gpgkey": RepoVar("key", (FEDORA,), _CONTAINERD_REPO_HOSTS),
    "containerd_debian_repo_base_url": RepoVar("apt", (DEBIAN,), _CONTAINERD_REPO_HOSTS),
    "containerd_debian_repo_gpgkey": RepoVar("key", (DEBIAN,), _CONTAINERD_REPO_HOSTS),
    "containerd_ubuntu_repo_base_url": RepoVar("apt", (UBUNTU,), _CONTAINERD_REPO_HOSTS),
    "containerd_ubuntu_repo_gpgkey": RepoVar("key", (UBUNTU,), _CONTAINERD_REPO_HOSTS),
    "crio_rhel_repo_base_url": RepoVar("yum", (REDHAT,), ("crio",)),
    "pyrepo_index": RepoVar("pypi"),
    "helm_stable_repo_url": RepoVar("helm"),
}
ROOT_VARS = ("yum_repo", "debian_repo", "ubuntu_repo")


@dataclass(frozen=True)
class OsFacts:
    """What the repo paths need from a host: Ansible's names for them. Empty strings are unknown."""

    distribution: str = ""  # ansible_distribution: Debian, Ubuntu, RedHat, Rocky, Fedora...
    os_family: str = ""  # ansible_os_family: Debian, RedHat, Suse...
    release: str = ""  # ansible_distribution_release: bookworm, jammy...
    major_version: str = ""  # ansible_distribution_major_version: 12, 9...
    architecture: str = ""  # ansible_architecture: x86_64, aarch64
    source: str = "unknown"  # inventory | node | unknown

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping) -> "OsFacts":
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


_DISTRIBUTIONS = {
    "debian": DEBIAN, "ubuntu": UBUNTU, "rhel": REDHAT, "centos": "CentOS", "rocky": "Rocky",
    "almalinux": "AlmaLinux", "fedora": FEDORA, "ol": "OracleLinux", "amzn": "Amazon",
    "opensuse-leap": "openSUSE Leap", "opensuse-tumbleweed": "openSUSE Tumbleweed", "sles": "SLES",
    "flatcar": "Flatcar", "kylin": "Kylin", "openEuler": "openEuler", "uos": "Uos",
}
_FAMILIES = {"debian": DEBIAN, "ubuntu": DEBIAN, "rhel": REDHAT, "centos": REDHAT, "fedora": REDHAT,
             "rocky": REDHAT, "almalinux": REDHAT, "ol": REDHAT, "amzn": REDHAT, "suse": "Suse",
             "opensuse": "Suse", "sles": "Suse", "flatcar": "Flatcar"}


def parse_os_release(text: str) -> dict[str, str]:
    """`/etc/os-release` (KEY=value, values optionally quoted) → dict."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def facts_from_os_release(text: str, architecture: str = "") -> OsFacts:
    """Ansible's distribution facts, as its setup module derives them from os-release."""
    data = parse_os_release(text)
    ident = data.get("ID", "").lower()
    like = data.get("ID_LIKE", "").lower().split()
    family = next((_FAMILIES[i] for i in [ident, *like] if i in _FAMILIES), "")
    release = data.get("VERSION_CODENAME") or data.get("UBUNTU_CODENAME") or ""
    major = data.get("VERSION_ID", "").split(".")[0]
    return OsFacts(_DISTRIBUTIONS.get(ident, data.get("NAME", "")), family, release, major, architecture, "node")


DEFAULT_CERTS_DIR = "/etc/containerd/certs.d"  # containerd's config_path as Kubespray sets it

# Files Kubespray copies unchanged from local_release_dir into bin_dir (download item → binary name).
INSTALLED_BINARIES = {
    "kubelet": "kubelet",
    "kubeadm": "kubeadm",
    "kubectl": "kubectl",
    "calicoctl": "calicoctl",
    "runc": "runc",
    "crun": "crun",
    "skopeo": "skopeo",
    "yq": "yq",
    "gvisor_runsc": "runsc",
    "gvisor_containerd_shim": "containerd-shim-runsc-v1",
}


def installed_path(host: HostExpectation, item: FileItem) -> Optional[str]:
    """Where Kubespray installs a raw binary item, or None for archives and manifests."""
    name = INSTALLED_BINARIES.get(item.name)
    if name is None or item.unarchive or not host.bin_dir:
        return None
    return f"{host.bin_dir.rstrip('/')}/{name}"


KUBEADM_IMAGES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
