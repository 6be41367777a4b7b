"""Looking at lab nodes the way an operator would: over ssh, with the node's own runtime CLI."""

from __future__ import annotations

import json
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field

import paramiko
import requests

SSH_TIMEOUT = 5.0
HTTP_TIMEOUT = 10.0
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


@contextmanager
def ssh(node):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(node.ip, username=node.ssh_user, key_filename=node.ssh_key, timeout=SSH_TIMEOUT,
                   banner_timeout=SSH_TIMEOUT, auth_timeout=SSH_TIMEOUT, allow_agent=False, look_for_keys=False)
    try:
        yield client
    finally:
        client.close()


def run(client, command: str) -> tuple[int, str]:
    _, stdout, _ = client.exec_command(command, timeout=60)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out


def reachable(ip: str, port: int = 22, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class NameView:
    """What a runtime shows for one image name."""

    digests: set[str] = field(default_factory=set)  # registry digests recorded for the name's repository
    image_id: str = ""  # config digest


def normalize(name: str) -> str:
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return "docker.io/" + (name if "/" in name else "library/" + name)


def image_views(client, runtime: str) -> dict[str, NameView]:
    """Image name → digests and ID, from `ctr images ls`, `docker image inspect` or `podman image inspect`."""
    if runtime == "containerd":
        _, out = run(client, "ctr -n k8s.io images ls")
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        ids = {row[2]: row[0] for row in rows if row[0].startswith("sha256:")}
        return {row[0]: NameView({row[2]}, ids.get(row[2], "")) for row in rows if not row[0].startswith("sha256:")}
    cli = "docker" if runtime == "docker" else "podman"
    _, out = run(client, f"{cli} images -q --no-trunc | sort -u | xargs -r {cli} image inspect")
    views: dict[str, NameView] = {}
    for image in json.loads(out or "[]"):
        repo_digests = [normalize(d) for d in image.get("RepoDigests") or []]
        for tag in image.get("RepoTags") or []:
            name = normalize(tag)
            repo = name.rsplit(":", 1)[0]
            digests = {d.split("@", 1)[1] for d in repo_digests if d.split("@", 1)[0] == repo}
            image_id = image["Id"] if image["Id"].startswith("sha256:") else "sha256:" + image["Id"]
            views[name] = NameView(digests, image_id)
    return views


def registry_digest(host: str, repository: str, tag: str, auth=None, verify=True) -> str:
    """The digest the registry gives `repository:tag` (HEAD with every manifest type accepted)."""
    session = requests.Session()
    session.trust_env = False
    scheme = "https" if auth else "http"
    resp = session.head(f"{scheme}://{host}/v2/{repository}/manifests/{tag}", auth=auth, verify=verify,
                        headers={"Accept": MANIFEST_ACCEPT}, timeout=HTTP_TIMEOUT)
    resp.raise_for_status()
    return resp.headers["Docker-Content-Digest"]
