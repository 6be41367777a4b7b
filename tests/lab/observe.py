"""Looking at lab nodes the way an operator would: over ssh, with the node's own runtime CLI.

The listings are read with the product's parsers (`kubespray_verify.runtimes`,
checked against real recorded output in tests/test_runtimes.py) and the
registry is asked with the product's `RegistryClient`: these tests check what
the lab made, not how it is read.
"""

from __future__ import annotations

from contextlib import contextmanager

import paramiko

from kubespray_verify.registry.client import RegistryClient
from kubespray_verify.runtimes.parsers import NodeImage, parse_ctr_images, parse_docker_inspect, parse_podman_images

SSH_TIMEOUT = 5.0
# The node's runtime (Kubespray's container_manager) -> the command listing its images, and its parser.
LISTINGS = {
    "containerd": ("ctr -n k8s.io images ls", parse_ctr_images),
    "docker": ("docker images -q --no-trunc | sort -u | xargs -r docker image inspect", parse_docker_inspect),
    "crio": ("podman images --format json", parse_podman_images),
}


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


def image_views(client, runtime: str) -> dict[str, NodeImage]:
    """Normalised image name (`registry/repository:tag`) → the image the node's runtime holds under it."""
    command, parse = LISTINGS[runtime]
    rc, out = run(client, command)
    assert rc == 0, f"{command}: exit {rc}"
    return {str(name): image for image in parse(out or "[]") for name in image.names}


def registry_digest(host: str, repository: str, tag: str, auth=None, verify=True) -> str:
    """The digest the registry gives `repository:tag` (over HTTPS when credentials are given)."""
    with RegistryClient(f"{'https' if auth else 'http'}://{host}", credentials=auth, verify=verify) as client:
        return client.head_manifest(repository, tag).digest
