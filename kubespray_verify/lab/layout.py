"""Names, addresses and paths of one lab, derived from its prefix (pure: no I/O).

Everything a lab creates carries its prefix, so a lab can be found and removed
by prefix alone (after a crash, without its state file) and two labs with
different prefixes never touch each other's namespaces, links or files.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from kubespray_verify.lab.errors import LabError

LAB_ROOT = Path("/var/lib/kubespray-verify")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
MAX_NODES = 200
RUNTIMES = ("containerd", "docker", "crio")

# The lab's subnets are /24s inside 10.200.0.0/16 .. 10.249.255.0/24: private
# addresses, only ever assigned inside namespaces the lab creates (plus one
# veth end in the root namespace so the runner reaches the lab).
_SUBNET_BASE = (200, 50)  # first second-octet, how many second-octets

HUB_HOST = 2  # registries and files_repo
RUNNER_HOST = 254  # the root namespace's end of the lab link
FIRST_NODE_HOST = 11

PLAIN_REGISTRY_PORT = 5000
SECURE_REGISTRY_PORT = 5443
FILES_REPO_PORT = 8080


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix or ""):
        raise LabError(
            f"lab prefix {prefix!r} is invalid: use 1-10 lowercase letters and digits, starting with a letter"
        )
    return prefix


def subnet_candidates(prefix: str):
    """The /24s this prefix may use, best first: a hash of the prefix, then the next ones."""
    count = _SUBNET_BASE[1] * 256
    start = int.from_bytes(hashlib.sha256(prefix.encode()).digest()[:4], "big") % count
    for step in range(count):
        index = (start + step) % count
        yield ipaddress.IPv4Network(f"10.{_SUBNET_BASE[0] + index // 256}.{index % 256}.0/24")


@dataclass(frozen=True)
class Layout:
    """Where everything of the lab `prefix` lives."""

    prefix: str
    subnet: ipaddress.IPv4Network

    # -- network -------------------------------------------------------
    def host_ip(self, host: int) -> str:
        return str(self.subnet.network_address + host)

    @property
    def hub_ip(self) -> str:
        return self.host_ip(HUB_HOST)

    @property
    def runner_ip(self) -> str:
        return self.host_ip(RUNNER_HOST)

    def node_ip(self, index: int) -> str:
        return self.host_ip(FIRST_NODE_HOST + index)

    @property
    def hub_netns(self) -> str:
        return f"{self.prefix}-hub"

    def node_netns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    @property
    def runner_link(self) -> str:
        """The root namespace's veth (at most 15 characters: prefix is at most 10)."""
        return f"{self.prefix}-rt"

    # -- files ---------------------------------------------------------
    @property
    def home(self) -> Path:
        return lab_home(self.prefix)

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def inventory_dir(self) -> Path:
        return self.home / "inventory"

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def ssh_dir(self) -> Path:
        return self.home / "ssh"

    @property
    def files_repo_dir(self) -> Path:
        return self.home / "files_repo"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def node_dir(self, node: str) -> Path:
        return self.home / "nodes" / node

    # -- mirrors -------------------------------------------------------
    @property
    def registry_host(self) -> str:
        return f"{self.hub_ip}:{PLAIN_REGISTRY_PORT}"

    @property
    def secure_registry_host(self) -> str:
        return f"{self.hub_ip}:{SECURE_REGISTRY_PORT}"

    @property
    def files_repo(self) -> str:
        return f"http://{self.hub_ip}:{FILES_REPO_PORT}"


def lab_home(prefix: str) -> Path:
    return LAB_ROOT / f"lab-{prefix}"


def node_names(count: int) -> list[str]:
    if not 1 <= count <= MAX_NODES:
        raise LabError(f"--nodes {count} is out of range: a lab has 1 to {MAX_NODES} nodes")
    return [f"node{i + 1}" for i in range(count)]


def node_groups(index: int, count: int) -> tuple[str, ...]:
    """Kubespray groups of the index-th node: the first two are control plane + etcd, the rest workers.

    With one or two nodes there would be no worker, so the control plane nodes
    are workers too (Kubespray needs a non-empty kube_node).
    """
    control_planes = min(2, count)
    groups: tuple[str, ...] = ()
    if index < control_planes:
        groups += ("kube_control_plane", "etcd")
    if index >= control_planes or count <= 2:
        groups += ("kube_node",)
    return groups


def parse_runtimes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = [r.strip() for r in (text.split(",") if isinstance(text, str) else text) if r.strip()]
    if not names:
        raise LabError("--runtimes is empty: name at least one of " + ", ".join(RUNTIMES))
    for name in names:
        if name not in RUNTIMES:
            raise LabError(f"runtime {name!r} is unknown: use {', '.join(RUNTIMES)}")
    return tuple(names)


def node_runtime(index: int, runtimes: tuple[str, ...]) -> str:
    """Runtimes are dealt round-robin: node1 gets the first, node2 the second..."""
    return runtimes[index % len(runtimes)]
