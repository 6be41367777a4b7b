"""OCI and Docker image formats, pure: media types, digests, platform selection, image building.

Nothing here does I/O. `registry.py` moves these bytes; the lab and the tests
build deterministic images with `build_image` / `build_index` (same input, same
digests on every run and every machine).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Literal, Mapping, Optional

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
IMAGE_MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
# What a client must Accept for a registry to answer with the stored manifest
# and its real digest (without it: 404 for OCI, a converted manifest for Docker).
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + IMAGE_MANIFEST_TYPES)

Flavour = Literal["oci", "docker"]
_TYPES: dict[str, dict[str, str]] = {
    "oci": {"index": OCI_INDEX, "manifest": OCI_MANIFEST, "config": OCI_CONFIG, "layer": OCI_LAYER_GZIP},
    "docker": {"index": DOCKER_MANIFEST_LIST, "manifest": DOCKER_MANIFEST, "config": DOCKER_CONFIG, "layer": DOCKER_LAYER_GZIP},
}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces: the same object always gives the same bytes (and digest)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def is_digest(reference: str) -> bool:
    algo, sep, hexpart = reference.partition(":")
    return bool(sep) and algo in ("sha256", "sha384", "sha512") and bool(hexpart) and all(c in "0123456789abcdef" for c in hexpart)


@dataclass(frozen=True)
class Platform:
    architecture: str
    os: str = "linux"
    variant: Optional[str] = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_json(self) -> dict:
        data = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            data["variant"] = self.variant
        return data


@dataclass(frozen=True)
class Blob:
    """Bytes with their media type: a layer, a config, a manifest or an index."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, platform: Optional[Platform] = None) -> dict:
        desc = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if platform is not None:
            desc["platform"] = platform.to_json()
        return desc


@dataclass(frozen=True)
class Image:
    """One platform's image: its manifest, config and layers."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    platform: Platform

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def blobs(self) -> tuple[Blob, ...]:
        return self.layers + (self.config,)


@dataclass(frozen=True)
class Index:
    """A multi-platform image: an OCI index or a Docker manifest list, and its images."""

    manifest: Blob
    images: tuple[Image, ...]

    @property
    def digest(self) -> str:
        return self.manifest.digest


def deterministic_tar(files: Mapping[str, bytes]) -> bytes:
    """A tar of regular files, sorted, owned by root, mtime 0: stable bytes for stable digests."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def build_image(files: Mapping[str, bytes], platform: Platform = Platform("amd64"), flavour: Flavour = "oci") -> Image:
    """An image of one gzip layer holding `files`, for `platform`, as an OCI or Docker schema2 manifest."""
    types = _TYPES[flavour]
    tar = deterministic_tar(files)
    layer = Blob(types["layer"], gzip.compress(tar, mtime=0))
    config = Blob(
        types["config"],
        canonical_json(
            {
                **platform.to_json(),
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
                # One history entry per layer, as builders write; registries need it to
                # convert a manifest for old clients.
                "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kubespray-verify build_image"}],
            }
        ),
    )
    manifest = Blob(
        types["manifest"],
        canonical_json(
            {"schemaVersion": 2, "mediaType": types["manifest"], "config": config.descriptor(), "layers": [layer.descriptor()]}
        ),
    )
    return Image(manifest=manifest, config=config, layers=(layer,), platform=platform)


def build_index(images: tuple[Image, ...] | list[Image], flavour: Flavour = "oci") -> Index:
    media_type = _TYPES[flavour]["index"]
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [img.manifest.descriptor(img.platform) for img in images],
    }
    return Index(manifest=Blob(media_type, canonical_json(body)), images=tuple(images))


def select_platform(index: Mapping, platform: Platform) -> Optional[dict]:
    """The descriptor of `platform` in an index JSON, or None.

    Matches os and architecture exactly; a wanted variant must match, and with
    no wanted variant a child without one is preferred over one with (arm64 is
    published both bare and as v8). Children of unknown platform are ignored.
    """
    candidates = []
    for desc in index.get("manifests") or []:
        p = desc.get("platform") or {}
        if p.get("os") != platform.os or p.get("architecture") != platform.architecture:
            continue
        variant = p.get("variant")
        if platform.variant is not None and variant != platform.variant:
            continue
        candidates.append((variant is not None, desc))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]


def index_platforms(index: Mapping) -> dict[str, str]:
    """`"os/arch[/variant]"` → child digest, for display and for pinning checks."""
    out = {}
    for desc in index.get("manifests") or []:
        p = desc.get("platform") or {}
        if p.get("architecture") and p.get("os"):
            out[str(Platform(p["architecture"], p["os"], p.get("variant")))] = desc["digest"]
    return out


def media_type_of(body: bytes, declared: Optional[str]) -> Optional[str]:
    """The manifest's media type: the `mediaType` field if the JSON has one, else what the server declared."""
    try:
        data = json.loads(body)
    except ValueError:
        return declared
    if isinstance(data, dict) and isinstance(data.get("mediaType"), str):
        return data["mediaType"]
    return declared


def distribution_error_codes(body: bytes) -> tuple[str, ...]:
    """The `errors[].code` values of a registry's JSON error body (MANIFEST_UNKNOWN, NAME_UNKNOWN...)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ()
    if not isinstance(data, dict):
        return ()
    errors = data.get("errors")
    if not isinstance(errors, list):
        return ()
    return tuple(e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str))
