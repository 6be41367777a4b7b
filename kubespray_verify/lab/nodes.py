"""Lab nodes: a network namespace and a mount namespace each, with sshd and a container runtime.

A node is started as

    nsenter --net=/run/netns/<prefix>-node1 -- unshare --mount --uts --propagation private -- sh -c INIT

(`ip netns exec` would remount /sys and hide cgroups from dockerd). INIT sets
the hostname, puts tmpfs over /run and /tmp, bind-mounts the node's own
directories over /usr/local/bin, /tmp/releases, /root, /etc/hostname and the
runtimes' /etc and /var/lib trees, then `exec sleep infinity`: that process
holds the namespaces, and the node's daemons join them with `nsenter --target`.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import Layout
from kubespray_verify.lab.processes import COMMAND_TIMEOUT, ProcessRecord, run, listening, start, wait_until
from kubespray_verify.lab.daemons import RUNTIMES, RegistryAccess

SSH_PORT = 22
# Directories (and one file) each node has to itself, bound over the host's.
NODE_BINDS = ("/usr/local/bin", "/root", "/etc/hostname", "/etc/containerd", "/var/lib/containerd",
              "/etc/docker", "/var/lib/docker", "/etc/containers", "/var/lib/containers")
RELEASES = "/tmp/releases"  # Kubespray's local_release_dir default, on the node's own /tmp
NODE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
            "LANG": "C.UTF-8"}


@dataclass
class Node:
    name: str
    index: int
    ip: str
    runtime: str  # Kubespray's container_manager: containerd | docker | crio
    groups: tuple[str, ...]
    ssh_key: str  # private key of the lab's root login on every node
    ssh_user: str = "root"
    init: Optional[ProcessRecord] = None  # the process holding the node's namespaces

    def to_json(self) -> dict:
        return {"name": self.name, "index": self.index, "ip": self.ip, "runtime": self.runtime,
                "groups": list(self.groups), "ssh_key": self.ssh_key, "ssh_user": self.ssh_user,
                "init": self.init.to_json() if self.init else None}

    @classmethod
    def from_json(cls, data: dict) -> "Node":
        data = dict(data, groups=tuple(data["groups"]))
        data["init"] = ProcessRecord.from_json(data["init"]) if data.get("init") else None
        return cls(**data)

    def path(self, path: str) -> Path:
        """`path` as the node sees it (through its mount namespace)."""
        if self.init is None:
            raise LabError(f"node {self.name} is not running")
        return Path(f"/proc/{self.init.pid}/root") / path.lstrip("/")

    def exec(self, argv: Sequence[str], check: bool = True, timeout: float = COMMAND_TIMEOUT,
             input: bytes | None = None) -> subprocess.CompletedProcess:
        """Run a command on the node (its namespaces, a clean root environment)."""
        if self.init is None:
            raise LabError(f"node {self.name} is not running")
        try:
            return run(["nsenter", "-t", str(self.init.pid), "-n", "-m", "-u", "--", *argv],
                       check=check, timeout=timeout, input=input, env=NODE_ENV)
        except LabError as exc:
            raise type(exc)(f"node {self.name}: {exc}") from exc


def prepare(layout: Layout, node: Node, access: RegistryAccess, authorized_keys: Path) -> None:
    """Write the node's own directories and configs (nothing runs yet)."""
    fs = fs_dir(layout, node)
    for target in NODE_BINDS + (RELEASES,):
        if target != "/etc/hostname":
            (fs / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (fs / "etc" / "hostname").write_text(node.name + "\n")
    RUNTIMES[node.runtime].write_config(fs / "etc", access)
    host_key = layout.node_dir(node.name) / "ssh_host_ed25519_key"
    if not host_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{node.name}", "-f", host_key])
    (layout.node_dir(node.name) / "sshd_config").write_text(f"""\
ListenAddress {node.ip}:{SSH_PORT}
HostKey {host_key}
PidFile /run/sshd.pid
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
""")


def start_init(layout: Layout, node: Node) -> None:
    fs = fs_dir(layout, node)
    ready = layout.node_dir(node.name) / "ready"
    ready.unlink(missing_ok=True)
    steps = [
        "set -e",
        f"hostname {node.name}",
        "mount -t tmpfs -o mode=0755 lab-run /run",
        "mkdir -p /run/sshd /run/lock",
        "mount -t tmpfs -o mode=1777 lab-tmp /tmp",
        f"mkdir -p {RELEASES}",
        f"mount --bind {shlex.quote(str(fs / RELEASES.lstrip('/')))} {RELEASES}",
    ]
    for target in NODE_BINDS:
        if target != "/etc/hostname":
            steps.append(f"mkdir -p {target}")
        steps.append(f"mount --bind {shlex.quote(str(fs / target.lstrip('/')))} {target}")
    steps += [f": > {shlex.quote(str(ready))}", "exec sleep infinity"]
    argv = ["nsenter", f"--net=/run/netns/{layout.node_netns(node.name)}", "--",
            "unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", "\n".join(steps)]
    node.init, _ = start(f"{node.name}/init", argv, _log(layout, node, "init"), env=NODE_ENV)


def wait_init(layout: Layout, node: Node) -> None:
    ready = layout.node_dir(node.name) / "ready"
    wait_until(f"node {node.name} namespaces", ready.exists, dead=node.init, log=_log(layout, node, "init"))


def start_daemons(layout: Layout, node: Node) -> list[ProcessRecord]:
    records = []
    daemon = RUNTIMES[node.runtime].daemon()
    if daemon:
        records.append(_start_in(layout, node, node.runtime, daemon))
    sshd_config = layout.node_dir(node.name) / "sshd_config"
    records.append(_start_in(layout, node, "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)]))
    return records


def wait_daemons(layout: Layout, node: Node, records: list[ProcessRecord]) -> None:
    by_role = {r.role.split("/")[1]: r for r in records}
    socket_path = RUNTIMES[node.runtime].socket
    if socket_path:
        wait_until(f"{node.runtime} on {node.name}", node.path(socket_path).exists,
                   dead=by_role[node.runtime], log=_log(layout, node, node.runtime))
    wait_until(f"sshd on {node.name} ({node.ip}:{SSH_PORT})", lambda: listening(node.ip, SSH_PORT),
               dead=by_role["sshd"], log=_log(layout, node, "sshd"))


def fs_dir(layout: Layout, node: Node) -> Path:
    """The host directory whose subtree backs the node's own directories."""
    return layout.node_dir(node.name) / "fs"


def _start_in(layout: Layout, node: Node, name: str, argv: list[str]) -> ProcessRecord:
    record, _ = start(f"{node.name}/{name}", ["nsenter", "-t", str(node.init.pid), "-n", "-m", "-u", "--", *argv],
                      _log(layout, node, name), env=NODE_ENV)
    return record


def _log(layout: Layout, node: Node, name: str) -> Path:
    return layout.logs_dir / f"{node.name}-{name}.log"

