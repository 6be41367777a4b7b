"""Deterministic container images for the runtime fixtures, pushed to a registry with `requests`.

Every blob is built from fixed bytes (tar and gzip mtime 0, sorted JSON), so
the digests are the same on every run and on every machine: the fixtures and
the tests can name them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

HTTP_TIMEOUT = 10.0


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self, **extra) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass
class Image:
    """One platform's image: a manifest, its config and one layer."""

    platform: str  # "linux/amd64"
    manifest: Blob
    config: Blob
    layer: Blob


@dataclass
class Index:
    """A multi-platform image: an index (manifest list) over platform images."""

    blob: Blob
    images: list[Image] = field(default_factory=list)

    def child(self, platform: str) -> Image:
        return next(i for i in self.images if i.platform == platform)


def _layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A gzipped tar of `files`, and the digest of the uncompressed tar (the config's diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    plain = raw.getvalue()
    zipped = io.BytesIO()
    with gzip.GzipFile(fileobj=zipped, mode="wb", mtime=0, filename="") as gz:
        gz.write(plain)
    return zipped.getvalue(), sha256(plain)


def build_image(content: str, platform: str = "linux/amd64", *, docker: bool = False) -> Image:
    """A one-layer image whose only file, `/content`, holds `content`: different text, different digests."""
    os_name, arch = platform.split("/")[:2]
    layer_data, diff_id = _layer({"content": content.encode()})
    config = {
        "architecture": arch,
        "os": os_name,
        "config": {"Cmd": ["/content"], "Labels": {"kubespray-verify.fixture": content}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "created": "1970-01-01T00:00:00Z",
    }
    config_blob = Blob(DOCKER_CONFIG if docker else OCI_CONFIG, canonical_json(config))
    layer_blob = Blob(DOCKER_LAYER if docker else OCI_LAYER, layer_data)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [layer_blob.descriptor()],
    }
    return Image(platform, Blob(media_type, canonical_json(manifest)), config_blob, layer_blob)


def build_index(content: str, platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"), *, docker: bool = False) -> Index:
    images = [build_image(f"{content} {p}", p, docker=docker) for p in platforms]
    media_type = DOCKER_LIST if docker else OCI_INDEX
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            i.manifest.descriptor(platform=dict(zip(("os", "architecture"), i.platform.split("/"))))
            for i in images
        ],
    }
    return Index(Blob(media_type, canonical_json(index)), images)


class RegistryClient:
    """Just enough of the distribution API to push images to a loopback registry over plain HTTP."""

    def __init__(self, address: str):
        self.base = f"http://{address}/v2"
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy, no CA bundle from the environment: loopback only

    def _request(self, method: str, url: str, **kw) -> requests.Response:
        resp = self.session.request(method, url, timeout=HTTP_TIMEOUT, **kw)
        resp.raise_for_status()
        return resp

    def push_blob(self, repo: str, blob: Blob) -> None:
        head = self.session.head(f"{self.base}/{repo}/blobs/{blob.digest}", timeout=HTTP_TIMEOUT)
        if head.status_code == 200:
            return
        upload = self._request("POST", f"{self.base}/{repo}/blobs/uploads/")
        location = upload.headers["Location"]
        if location.startswith("/"):
            location = self.base[: -len("/v2")] + location
        sep = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{sep}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def put_manifest(self, repo: str, ref: str, blob: Blob) -> str:
        resp = self._request(
            "PUT", f"{self.base}/{repo}/manifests/{ref}", data=blob.data, headers={"Content-Type": blob.media_type}
        )
        assert resp.headers["Docker-Content-Digest"] == blob.digest, (resp.headers, blob.digest)
        return blob.digest

    def push_image(self, repo: str, tag: str, image: Image) -> str:
        self.push_blob(repo, image.layer)
        self.push_blob(repo, image.config)
        return self.put_manifest(repo, tag, image.manifest)

    def push_index(self, repo: str, tag: str, index: Index) -> str:
        for image in index.images:
            self.push_image(repo, image.manifest.digest, image)
        return self.put_manifest(repo, tag, index.blob)
