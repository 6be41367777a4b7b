"""The commands a node's container runtime runs to pull, tag, export, import and remove an image.

Pure: each function returns an argv list; nothing here runs it. One set per
Kubespray `container_manager`:

- containerd: `ctr -n k8s.io` (the namespace the CRI plugin and kubelet use),
  pulling with `--hosts-dir <containerd_cfg_dir>/certs.d`, so the node's own
  registry mirrors, CAs and credentials (hosts.toml, as Kubespray writes them)
  serve the pull;
- docker: the `docker` CLI (dockerd's own mirror and insecure-registry settings);
- crio: the node's containers-storage through `podman`, which shares cri-o's
  store and its registries.conf.

An export writes a tar stream to stdout and an import reads one from stdin,
so an image can travel from one node to another through the runner without
being written anywhere in between. containerd exports an OCI layout that also
carries docker's manifest.json, which `docker load` and `podman load` read;
`docker save` and `podman save` write docker archives, which `ctr import`
reads. What each pairing keeps of the registry's digest:

    containerd -> containerd   the index (or manifest) digest itself
    containerd -> crio         the index and the platform manifest digests
    other pairings             the image ID (the config digest), which the
                               suite's digest check accepts for a pinned image
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from kubespray_verify.kubespray import DEFAULT_CERTS_DIR  # Kubespray's containerd_cfg_dir + /certs.d

CONTAINERD_NAMESPACE = "k8s.io"


@dataclass(frozen=True)
class RuntimeCommands:
    """The image commands of one runtime. `binary` is the CLI (a bare name is found on the node's PATH)."""

    runtime: str  # Kubespray's container_manager: containerd | docker | crio
    binary: str
    certs_dir: str = DEFAULT_CERTS_DIR  # containerd only: where hosts.toml files are read

    @property
    def _ctr(self) -> list[str]:
        return [self.binary, "-n", CONTAINERD_NAMESPACE, "images"]

    def pull(self, ref: str) -> list[str]:
        if self.runtime == "containerd":
            return [*self._ctr, "pull", "--hosts-dir", self.certs_dir, ref]
        return [self.binary, "pull", "-q", ref]

    def tag(self, source: str, target: str) -> list[str]:
        """Give the image named `source` the name `target` too (moving `target` off other content)."""
        if self.runtime == "containerd":
            return [*self._ctr, "tag", "--force", source, target]
        return [self.binary, "tag", source, target]

    def remove(self, ref: str) -> list[str]:
        """Remove the name `ref` (content still named otherwise stays)."""
        if self.runtime == "containerd":
            return [*self._ctr, "rm", ref]
        return [self.binary, "rmi", ref]

    def export(self, ref: str, platform: Optional[str] = None) -> list[str]:
        """Write the image named `ref` as a tar stream on stdout.

        containerd exports the image's own index (or manifest) with the content of `platform`
        ("linux/amd64"), the only platform a pull fetched; docker and podman write a docker archive.
        """
        if self.runtime == "containerd":
            chosen = ["--platform", platform] if platform else []
            return [*self._ctr, "export", *chosen, "-", ref]
        if self.runtime == "crio":
            return [self.binary, "save", "--format", "docker-archive", ref]
        return [self.binary, "save", ref]

    def import_(self, platform: Optional[str] = None) -> list[str]:
        """Read an image tar stream (an export of any runtime) from stdin into the store."""
        if self.runtime == "containerd":
            chosen = ["--platform", platform] if platform else []
            return [*self._ctr, "import", *chosen, "-"]
        if self.runtime == "crio":
            return [self.binary, "load", "-q"]
        return [self.binary, "load", "-q"]

    def pull_steps(self, repo: str, tag: str, digest: Optional[str]) -> list[list[str]]:
        """Pull `repo:tag`, by digest where one is pinned, and leave it named `repo:tag`.

        A pull by digest names the image `repo@digest`; it is then tagged `repo:tag` (moving that
        name off any other content). containerd keeps names as separate records: the `repo@digest`
        one is removed again, so the node holds the image under Kubespray's name only.
        """
        name = f"{repo}:{tag}"
        if not digest:
            return [self.pull(name)]
        pinned = f"{repo}@{digest}"
        steps = [self.pull(pinned), self.tag(pinned, name)]
        if self.runtime == "containerd":
            steps.append(self.remove(pinned))
        return steps


BINARIES = {"containerd": "ctr", "docker": "docker", "crio": "podman"}


def for_runtime(runtime: Optional[str], binary: Optional[str] = None,
                certs_dir: Optional[str] = None) -> RuntimeCommands:
    """The commands of Kubespray's `container_manager` `runtime`; ValueError for one without image commands."""
    if runtime not in BINARIES:
        raise ValueError(f"container_manager {runtime!r} has no image commands here "
                         f"(known: {', '.join(BINARIES)})")
    return RuntimeCommands(runtime, binary or BINARIES[runtime], certs_dir or DEFAULT_CERTS_DIR)


def certs_dir_of(containerd_cfg_dir: Optional[str]) -> str:
    """containerd's hosts directory for Kubespray's `containerd_cfg_dir` (default /etc/containerd)."""
    return f"{(containerd_cfg_dir or '/etc/containerd').rstrip('/')}/certs.d"
