"""The files the lab's files_repo serves: deterministic stand-ins for Kubespray's downloads.

Each file item's URL (under `files_repo`) gets a file whose bytes depend only
on its path under files_repo (not on the lab's address, so the checksums are
the same for every lab and every run): a small shell script standing in for a binary, a gzipped tarball
holding one for archives, a YAML document for manifests. With realistic sizes
the stand-in is padded to about the size of the real download with bytes from
a generator seeded by that path, which makes hashing
and copying cost what they cost on a real site.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path
from posixpath import normpath

from kubespray_verify.lab.errors import LabError
from kubespray_verify.model import FileItem

MB = 1 << 20
# About the size of each real amd64 download (Kubespray master's versions).
REALISTIC_SIZES = {
    "kubelet": 78 * MB, "kubeadm": 70 * MB, "kubectl": 57 * MB, "etcd": 23 * MB, "cni": 52 * MB,
    "crictl": 19 * MB, "calicoctl": 66 * MB, "runc": 11 * MB, "containerd": 37 * MB, "nerdctl": 10 * MB,
    "cri_dockerd": 16 * MB, "crio": 75 * MB, "skopeo": 30 * MB, "helm": 17 * MB, "ciliumcli": 55 * MB,
    "crun": 3 * MB, "calico_crds": 1 * MB,
}
DEFAULT_REALISTIC_SIZE = 5 * MB
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Artifact:
    url: str
    path: Path  # in the files_repo tree
    sha256: str  # hex

    @property
    def checksum(self) -> str:
        return "sha256:" + self.sha256


def mirror_path(files_repo_dir: Path, files_repo: str, item: FileItem) -> Path:
    """Where `item.url` lives in the files_repo tree; the URL must be under `files_repo`."""
    base = files_repo.rstrip("/") + "/"
    if not item.url.startswith(base):
        raise LabError(f"download item {item.name}: url {item.url} is not under files_repo {files_repo}; "
                       f"the lab serves files from files_repo only (set {item.name}'s *_download_url)")
    rel = normpath(item.url[len(base):])
    if rel.startswith("..") or rel.startswith("/"):
        raise LabError(f"download item {item.name}: url {item.url} leaves the files_repo tree")
    return files_repo_dir / rel


def write(files_repo_dir: Path, files_repo: str, item: FileItem, realistic: bool) -> Artifact:
    path = mirror_path(files_repo_dir, files_repo, item)
    data = content(item.name, str(path.relative_to(files_repo_dir)), realistic)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    return Artifact(item.url, path, hashlib.sha256(data).hexdigest())


def content(name: str, path: str, realistic: bool) -> bytes:
    """The stand-in bytes for the download `name` at `path` under files_repo (a pure function)."""
    base = path.rsplit("/", 1)[-1]
    padding = _padding(path, REALISTIC_SIZES.get(name, DEFAULT_REALISTIC_SIZE)) if realistic else b""
    if base.endswith(MANIFEST_SUFFIXES):
        return f"# kubespray-verify lab stand-in for {path}\n".encode() + _comment_lines(padding)
    script = (f"#!/bin/sh\n# kubespray-verify lab stand-in for {name} ({path})\n"
              f"echo '{name}: kubespray-verify lab stand-in'\nexit 0\n").encode() + padding
    if base.endswith(ARCHIVE_SUFFIXES):
        return _tar_gz(name, script)
    return script


def _padding(path: str, size: int) -> bytes:
    return random.Random(hashlib.sha256(path.encode()).digest()).randbytes(size)


def _comment_lines(padding: bytes) -> bytes:
    """Padding for a text manifest: hex in comment lines, so it stays valid YAML."""
    text = padding[: len(padding) // 2].hex()
    return "".join(f"# {text[i:i + 78]}\n" for i in range(0, len(text), 78)).encode()


def _tar_gz(name: str, member: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(member), 0o755, 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(member))
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)
