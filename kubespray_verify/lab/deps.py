"""The Debian packages the lab runs on, installed with apt when any is missing."""

from __future__ import annotations

import os

from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.processes import run

PACKAGES = (
    "docker-registry",  # both registries
    "apache2-utils",  # htpasswd (bcrypt)
    "nginx-light",  # files_repo
    "containerd", "runc",  # containerd nodes (ctr)
    "docker.io",  # docker nodes
    "podman", "skopeo",  # containers-storage for the cri-o nodes
    "openssh-server", "openssh-client",  # sshd on every node, keys
    "busybox-static",
    "iproute2", "openssl",
)
APT_TIMEOUT = 1200.0


def missing(packages=PACKAGES) -> list[str]:
    proc = run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *packages], check=False)
    installed = {line.split()[0] for line in proc.stdout.decode().splitlines() if line.endswith(" installed")}
    return [p for p in packages if p not in installed]


def install(log=print) -> list[str]:
    """Install what is missing; return what was installed (nothing when all are present)."""
    todo = missing()
    if not todo:
        log("lab packages: all present")
        return []
    if os.geteuid() != 0:
        raise LabError(f"installing {', '.join(todo)} needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"lab packages: installing {' '.join(todo)}")
    run(["apt-get", "update", "-q"], timeout=APT_TIMEOUT, env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *todo], timeout=APT_TIMEOUT, env=env)
    still = missing()
    if still:
        raise LabError(f"apt-get did not install {', '.join(still)}")
    return todo
