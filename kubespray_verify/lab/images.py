"""The lab's images: one small deterministic image per Kubespray image item (pure: no I/O).

Built with `oci.build_image` / `oci.build_index`: the same reference always
gives the same bytes, hence the same digests on every run and every machine.
Four styles cover what registries serve in the field: an OCI index or a
Docker manifest list over amd64 + arm64/v8, and a single OCI or Docker
manifest (amd64 only).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Union

from kubespray_verify import oci

STYLES = ("oci-index", "docker-list", "oci", "docker")
PLATFORMS = {"amd64": oci.Platform("amd64"), "arm64": oci.Platform("arm64", variant="v8")}
MARKER = "etc/kubespray-lab/image"  # the layer's only file: names the image, so every image has its own digests


@dataclass(frozen=True)
class BuiltImage:
    repository: str  # path without registry host, e.g. "calico/node"
    tag: str
    style: str
    artifact: Union[oci.Index, oci.Image]  # what the tag points at

    @property
    def digest(self) -> str:
        return self.artifact.digest

    @property
    def multi_arch(self) -> bool:
        return isinstance(self.artifact, oci.Index)

    @property
    def platforms(self) -> dict[str, oci.Image]:
        images = self.artifact.images if isinstance(self.artifact, oci.Index) else (self.artifact,)
        return {image.platform.architecture: image for image in images}

    def platform_digest(self, arch: str = "amd64") -> str:
        return self.platforms[arch].digest

    def config_digest(self, arch: str = "amd64") -> str:
        """The image ID a runtime shows (survives save/load)."""
        return self.platforms[arch].config.digest


def build(repository: str, tag: str, style: str = "oci", variant: str = "") -> BuiltImage:
    """The image for `repository:tag`; another `variant` gives other content (another digest)."""
    if style not in STYLES:
        raise ValueError(f"unknown image style {style!r}")
    flavour = "docker" if style.startswith("docker") else "oci"
    archs = ("amd64", "arm64") if style in ("oci-index", "docker-list") else ("amd64",)
    images = [oci.build_image({MARKER: _marker(repository, tag, arch, variant)}, PLATFORMS[arch], flavour)
              for arch in archs]
    artifact = oci.build_index(images, flavour) if len(images) > 1 else images[0]
    return BuiltImage(repository, tag, style, artifact)


def docker_archive(image: BuiltImage, reference: str, arch: str = "amd64") -> bytes:
    """A `docker save` tarball of one platform, tagged `reference` (for docker load, ctr import, podman load)."""
    platform = image.platforms[arch]
    (layer,) = platform.layers
    config_name = platform.config.digest.split(":")[1] + ".json"
    layer_name = layer.digest.split(":")[1] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]
    return oci.deterministic_tar({config_name: platform.config.data, layer_name: gzip.decompress(layer.data),
                                  "manifest.json": oci.canonical_json(manifest)})


def _marker(repository: str, tag: str, arch: str, variant: str) -> bytes:
    return (f"image: {repository}:{tag}\narch: {arch}\n" + (f"variant: {variant}\n" if variant else "")).encode()
