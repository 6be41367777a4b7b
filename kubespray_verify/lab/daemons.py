"""The container runtime of a lab node: its config files, its daemon, and image operations.

One class per Kubespray `container_manager`:
- containerd: containerd 1.6 with the CRI plugin, `config_path` and
  /etc/containerd/certs.d/<registry>/hosts.toml as Kubespray writes them;
- docker: dockerd 20.10 (vfs, no bridge, no iptables);
- crio: containers-storage driven by podman, standing in for a cri-o node's
  image store (cri-o itself is not packaged here; both share the store format).

Config files are written to the node's own /etc/... directories (bind mounts),
so commands run on the node (over ssh, or by the lab) use the default paths.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from kubespray_verify.lab.pki import Pki
from kubespray_verify.runtimes.commands import RuntimeCommands, for_runtime


@dataclass(frozen=True)
class RegistryAccess:
    """What a node needs to reach the lab's registries."""

    plain: str  # "10.200.0.2:5000"
    secure: str  # "10.200.0.2:5443"
    pki: Pki


class Runtime:
    """A lab node's runtime: its configuration and daemon, and the product's image commands
    (`runtimes/commands.py`) with the runtime's CLI at its Debian path."""

    name = ""
    binary = ""
    socket: Optional[str] = None  # path inside the node once the daemon is ready

    @property
    def commands(self) -> RuntimeCommands:
        return for_runtime(self.name, binary=self.binary)

    def write_config(self, etc: Path, access: RegistryAccess) -> None:
        """Write config under `etc`, the host directory holding the node's /etc/<runtime> trees."""

    def daemon(self) -> Optional[list[str]]:
        return None

    def pull(self, ref: str, secure: Optional[RegistryAccess] = None) -> list[list[str]]:
        """Commands that pull `ref` (from the secure registry when `secure` is given)."""
        return [self.commands.pull(ref)]

    def tag(self, src: str, dst: str) -> list[str]:
        return self.commands.tag(src, dst)

    def untag(self, ref: str) -> list[str]:
        return self.commands.remove(ref)

    def load(self, platform: str = "linux/amd64") -> list[str]:
        """The command loading an image tarball given on its stdin."""
        return self.commands.import_(platform)


class Containerd(Runtime):
    name = "containerd"
    binary = "/usr/bin/ctr"
    socket = "/run/containerd/containerd.sock"

    def write_config(self, etc: Path, access: RegistryAccess) -> None:
        root = etc / "containerd"
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.toml").write_text(CONTAINERD_CONFIG)
        hosts_toml(root / "certs.d", access.plain, f"http://{access.plain}", skip_verify=True)
        auth = base64.b64encode(f"{access.pki.username}:{access.pki.password}".encode()).decode()
        _copy_ca(access.pki, root / "certs.d" / access.secure / "ca.crt")
        hosts_toml(root / "certs.d", access.secure, f"https://{access.secure}", skip_verify=False,
                   ca=f"/etc/containerd/certs.d/{access.secure}/ca.crt", authorization=f"Basic {auth}")

    def daemon(self) -> list[str]:
        return ["/usr/bin/containerd", "--config", "/etc/containerd/config.toml"]

    # Credentials for the secure registry come from its hosts.toml (as Kubespray's `auth` writes them).


class Docker(Runtime):
    name = "docker"
    binary = "/usr/bin/docker"
    socket = "/run/docker.sock"
    CLIENT_CONFIG = "/run/kubespray-verify-docker"  # node tmpfs: credentials never reach /root/.docker

    def write_config(self, etc, access):
        root = etc / "docker"
        root.mkdir(parents=True, exist_ok=True)
        (root / "daemon.json").write_text(json.dumps({
            "data-root": "/var/lib/docker",
            "exec-root": "/run/docker",
            "pidfile": "/run/docker.pid",
            "hosts": ["unix:///run/docker.sock"],
            "storage-driver": "vfs",
            "iptables": False,
            "ip-masq": False,
            "bridge": "none",
            # Kubespray's docker_insecure_registries
            "insecure-registries": [access.plain],
        }, indent=2) + "\n")
        _copy_ca(access.pki, root / "certs.d" / access.secure / "ca.crt")

    def daemon(self):
        return ["/usr/sbin/dockerd", "--config-file", "/etc/docker/daemon.json"]

    def pull(self, ref, secure=None):
        if secure is None:
            return super().pull(ref)
        client = [self.binary, "--config", self.CLIENT_CONFIG]
        return [[*client, "login", "-u", secure.pki.username, "-p", secure.pki.password, secure.secure],
                [*client, "pull", "-q", ref],
                ["/bin/rm", "-rf", self.CLIENT_CONFIG]]


class Crio(Runtime):
    name = "crio"
    binary = "/usr/bin/podman"

    def write_config(self, etc, access):
        root = etc / "containers"
        root.mkdir(parents=True, exist_ok=True)
        (root / "storage.conf").write_text(
            '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n'
            'graphroot = "/var/lib/containers/storage"\n')
        # As Kubespray's crio_registries / crio_insecure_registries render them.
        (root / "registries.conf").write_text(
            "unqualified-search-registries = []\n\n"
            f'[[registry]]\nprefix = "{access.plain}"\nlocation = "{access.plain}"\ninsecure = true\n\n'
            f'[[registry]]\nprefix = "{access.secure}"\nlocation = "{access.secure}"\ninsecure = false\n')
        (root / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}) + "\n")
        (root / "containers.conf").write_text('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
        _copy_ca(access.pki, root / "certs.d" / access.secure / "ca.crt")

    def pull(self, ref, secure=None):
        creds = ["--creds", f"{secure.pki.username}:{secure.pki.password}"] if secure else []
        return [[self.binary, "pull", "-q", *creds, ref]]


RUNTIMES: dict[str, Runtime] = {r.name: r for r in (Containerd(), Docker(), Crio())}

CONTAINERD_CONFIG = """\
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # The real runc: /usr/local/bin/runc holds the lab's stand-in for Kubespray's runc download.
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
"""


def hosts_toml(certs_d: Path, prefix: str, host: str, skip_verify: bool, ca: str | None = None,
               authorization: str | None = None) -> None:
    """hosts.toml in the layout of Kubespray's containerd role (hosts.toml.j2).

    Kubespray's template has no `ca` key (sites use skip_verify or a system CA);
    the lab adds one, so the secure registry is verified against the lab's CA.
    """
    lines = [f'server = "{host}"', "", f'[host."{host}"]', '  capabilities = ["pull","resolve"]',
             f"  skip_verify = {str(skip_verify).lower()}", "  override_path = false"]
    if ca:
        lines.append(f'  ca = "{ca}"')
    if authorization:
        lines += [f'  [host."{host}".header]', f'    authorization = "{authorization}"']
    (certs_d / prefix).mkdir(parents=True, exist_ok=True)
    (certs_d / prefix / "hosts.toml").write_text("\n".join(lines) + "\n")


def _copy_ca(pki: Pki, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(pki.ca_cert.read_bytes())
