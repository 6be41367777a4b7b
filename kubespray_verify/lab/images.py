"""Small deterministic container images, built in memory (pure: no I/O).

The same reference always gives the same bytes, hence the same digests on
every run and every machine: tar entries with mtime 0 and root ownership,
gzip with mtime 0, JSON with sorted keys and no spaces.

Four styles cover what registries serve in the field: an OCI index or a
Docker manifest list over amd64 + arm64, and a single OCI or Docker manifest
(amd64 only).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)

STYLES = ("oci-index", "docker-list", "oci", "docker")
PLATFORMS = {"amd64": {"architecture": "amd64", "os": "linux"},
             "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"}}


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, **extra) -> dict:
        return {"mediaType": self.media_type, "size": len(self.data), "digest": self.digest, **extra}


@dataclass(frozen=True)
class PlatformImage:
    arch: str
    manifest: Blob
    config: Blob
    layer: Blob
    layer_tar: bytes = field(repr=False)  # uncompressed, as `docker save` stores it


@dataclass(frozen=True)
class BuiltImage:
    repository: str  # path without registry host, e.g. "calico/node"
    tag: str
    style: str
    top: Blob  # what the tag points at: an index/list, or the single manifest
    platforms: dict[str, PlatformImage]

    @property
    def digest(self) -> str:
        return self.top.digest

    @property
    def multi_arch(self) -> bool:
        return self.style in ("oci-index", "docker-list")

    def platform_digest(self, arch: str = "amd64") -> str:
        return self.platforms[arch].manifest.digest

    def config_digest(self, arch: str = "amd64") -> str:
        """The image ID a runtime shows (survives save/load)."""
        return self.platforms[arch].config.digest

    def blobs(self) -> list[Blob]:
        """Configs and layers, each once."""
        seen: dict[str, Blob] = {}
        for p in self.platforms.values():
            seen.setdefault(p.layer.digest, p.layer)
            seen.setdefault(p.config.digest, p.config)
        return list(seen.values())

    def manifests(self) -> list[Blob]:
        """Manifests in push order: children before the index that lists them."""
        children = [p.manifest for p in self.platforms.values()]
        return children + [self.top] if self.multi_arch else [self.top]


def build(repository: str, tag: str, style: str = "oci", variant: str = "") -> BuiltImage:
    """The image for `repository:tag`; another `variant` gives other content (another digest)."""
    if style not in STYLES:
        raise ValueError(f"unknown image style {style!r}")
    docker = style.startswith("docker")
    archs = ("amd64", "arm64") if style in ("oci-index", "docker-list") else ("amd64",)
    platforms = {arch: _platform_image(repository, tag, arch, variant, docker) for arch in archs}
    if len(archs) > 1:
        top = Blob(DOCKER_LIST if docker else OCI_INDEX, _json({
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST if docker else OCI_INDEX,
            "manifests": [p.manifest.descriptor(platform=PLATFORMS[a]) for a, p in platforms.items()],
        }))
    else:
        top = platforms["amd64"].manifest
    return BuiltImage(repository, tag, style, top, platforms)


def docker_archive(image: BuiltImage, reference: str, arch: str = "amd64") -> bytes:
    """A `docker save` tarball of one platform, tagged `reference` (for docker load, ctr import, podman load)."""
    p = image.platforms[arch]
    config_name = p.config.digest.split(":")[1] + ".json"
    layer_name = p.layer.digest.split(":")[1] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]
    return _tar([(config_name, p.config.data), (layer_name, p.layer_tar), ("manifest.json", _json(manifest))])


def _platform_image(repository: str, tag: str, arch: str, variant: str, docker: bool) -> PlatformImage:
    marker = f"image: {repository}:{tag}\narch: {arch}\n" + (f"variant: {variant}\n" if variant else "")
    layer_tar = _tar([("etc/kubespray-lab/image", marker.encode())])
    layer = Blob(DOCKER_LAYER if docker else OCI_LAYER, gzip.compress(layer_tar, compresslevel=9, mtime=0))
    platform = PLATFORMS[arch]
    config = Blob(DOCKER_CONFIG if docker else OCI_CONFIG, _json({
        "architecture": platform["architecture"],
        "os": platform["os"],
        **({"variant": platform["variant"]} if "variant" in platform else {}),
        "created": "1970-01-01T00:00:00Z",
        "config": {"Labels": {"io.kubespray-verify.lab.image": f"{repository}:{tag}"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kubespray-verify lab"}],
    }))
    media = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = Blob(media, _json({
        "schemaVersion": 2,
        "mediaType": media,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }))
    return PlatformImage(arch, manifest, config, layer, layer_tar)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirs = sorted({"/".join(name.split("/")[:i]) for name, _ in members for i in range(1, name.count("/") + 1)})
        for d in dirs:
            tar.addfile(_info(d + "/", tarfile.DIRTYPE, 0o755, 0))
        for name, data in members:
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buf.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
