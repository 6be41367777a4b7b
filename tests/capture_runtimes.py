"""Record what real runtimes print, as fixtures for the parser and verdict tests.

    python3 tests/capture_runtimes.py            # rewrites tests/data/runtimes/
    python3 tests/capture_runtimes.py OUTDIR     # writes elsewhere

Starts a registry, containerd (with its CRI plugin), dockerd and podman
(containers-storage, vfs) under one temp dir (see `runtime_lab.py`), pushes
deterministic images, and walks every runtime through what happens on
Kubespray nodes: pull, a second (mirror) name, a removed tag, a tag moved to
new content, and an image saved to a tarball and loaded back. Then it writes
each runtime's listing, unchanged, and `capture.json` (registry address,
versions, the commands run). `FACTS` below is what the listings must show;
the tests check the parsers against it, on these files and on a live run.
Needs root.
"""

from __future__ import annotations

import json
import platform as host_platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # run as a script: the repository root, for `tests.` and the package

from tests.runtime_lab import Lab, docker_client  # noqa: E402

from kubespray_verify import oci  # noqa: E402
from kubespray_verify.refs import parse_reference  # noqa: E402
from kubespray_verify.registry import RegistryClient  # noqa: E402
from kubespray_verify.runtimes import NodeImage  # noqa: E402

FIXTURES = HERE / "data" / "runtimes"
MIRROR_NAME = "registry.k8s.io/pause:3.10"  # the second name given to <registry>/pause:3.10


def build_image(content: str, platform: str = "linux/amd64", flavour: oci.Flavour = "oci") -> oci.Image:
    """A one-layer image whose only file, `content`, holds `content`: different text, different digests."""
    os_name, arch = platform.split("/")
    return oci.build_image({"content": content.encode()}, oci.Platform(arch, os_name), flavour)


def build_index(content: str, platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")) -> oci.Index:
    return oci.build_index([build_image(f"{content} {p}", p) for p in platforms])


def child(index: oci.Index, platform: str) -> oci.Image:
    """The index's image for `platform` ("linux/amd64")."""
    return next(i for i in index.images if str(i.platform) == platform)


# repository:tag on the lab registry -> what is pushed there first
IMAGES: dict[str, oci.Image | oci.Index] = {
    "demo/single-oci:1.0": build_image("single-oci"),
    "demo/single-docker:1.0": build_image("single-docker", flavour="docker"),
    "demo/multi:1.0": build_index("multi"),
    "pause:3.1": build_image("pause 3.1"),
    "pause:3.10": build_image("pause 3.10"),
    "demo/retag:1.0": build_image("retag v1"),
}
RETAGGED = build_image("retag v2")  # pushed over demo/retag:1.0 after the first pulls

LISTINGS = {
    "containerd": "containerd/ctr-images-ls.txt",
    "docker": "docker/image-inspect.json",
    "podman": "podman/images.json",
    "storage": "containers-storage/vfs-images.json",
}


def node_platform() -> str:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(host_platform.machine(), host_platform.machine())
    return f"linux/{arch}"


@dataclass(frozen=True)
class Fact:
    """What one runtime's listing must show about one image.

    name None means a nameless image (a stale CRI ID row, a dangling image)
    identified by its image ID. digests None means "not asserted exactly";
    not_digest is a digest the image must not show (a tarball load made a
    new manifest).
    """

    runtime: str
    name: Optional[str]
    present: bool = True
    digests: Optional[frozenset[str]] = None
    image_id: Optional[str] = None
    not_digest: Optional[str] = None
    also_named: Optional[str] = None
    is_index: Optional[bool] = None

    @property
    def id(self) -> str:
        return f"{self.runtime}::{self.name or 'nameless:' + (self.image_id or '')[7:19]}"

    def check(self, images: list[NodeImage]) -> None:
        """Assert that the parsed listing shows this fact."""
        if self.name is None:
            found = [i for i in images if not i.names and i.image_id == self.image_id]
        else:
            ref = parse_reference(self.name)
            found = [i for i in images if ref in i.names]
            if not self.present:
                assert found == [], f"{self.name} should be absent, found {found}"
                return
        assert len(found) == 1, f"expected one image for {self.id}, found {found}"
        image = found[0]
        if self.also_named:
            assert parse_reference(self.also_named) in image.names, image.names
        if self.digests is not None:
            assert image.digests == self.digests
        if self.not_digest:
            assert self.not_digest not in image.digests
        if self.image_id:
            assert image.image_id == self.image_id
        if self.is_index is not None:
            assert image.is_index is self.is_index


def facts(registry: str, platform: str) -> list[Fact]:
    """The facts of the scenario in `run_scenario`, for a registry address and node platform."""
    r = registry
    out: list[Fact] = []
    single_oci = IMAGES["demo/single-oci:1.0"]
    multi = IMAGES["demo/multi:1.0"]
    multi_node = child(multi, platform)
    pause31, pause310 = IMAGES["pause:3.1"], IMAGES["pause:3.10"]
    v1, v2 = IMAGES["demo/retag:1.0"], RETAGGED
    sd = IMAGES["demo/single-docker:1.0"]
    for rt in ("containerd", "docker", "podman", "storage"):
        both = rt in ("podman", "storage")  # containers-storage keeps index and platform manifest
        typed = rt == "containerd"  # only ctr says whether the target is an index
        out += [
            Fact(
                rt,
                f"{r}/demo/single-oci:1.0",
                digests=frozenset({single_oci.manifest.digest}),
                image_id=single_oci.config.digest,
                is_index=False if typed else None,
            ),
            Fact(
                rt,
                f"{r}/demo/multi:1.0",
                digests=frozenset({multi.digest} | ({multi_node.manifest.digest} if both else set())),
                image_id=multi_node.config.digest,
                is_index=True if typed else None,
            ),
            Fact(rt, f"{r}/pause:3.10", digests=frozenset({pause310.manifest.digest}), image_id=pause310.config.digest, also_named=MIRROR_NAME),
            Fact(rt, f"{r}/pause:3.1", present=False),
            Fact(rt, f"{r}/demo/retag:1.0", digests=frozenset({v2.manifest.digest}), image_id=v2.config.digest),
            # Loaded from a tarball: docker keeps no repo digest; containerd and
            # containers-storage write a new manifest of their own.
            Fact(
                rt,
                f"{r}/demo/single-docker:1.0",
                digests=frozenset() if rt == "docker" else None,
                not_digest=sd.manifest.digest,
                image_id=sd.config.digest,
            ),
        ]
    # What stays behind without a name.
    out += [
        Fact("containerd", None, digests=frozenset({pause31.manifest.digest}), image_id=pause31.config.digest),
        Fact("containerd", None, digests=frozenset({v1.manifest.digest}), image_id=v1.config.digest),
        Fact("docker", None, digests=frozenset({v1.manifest.digest}), image_id=v1.config.digest),
        Fact("podman", None, digests=frozenset(), image_id=v1.config.digest),
        Fact("storage", None, digests=frozenset(), image_id=v1.config.digest),
    ]
    return out


def run_scenario(lab: Lab) -> None:
    r = lab.registry
    client = RegistryClient(f"http://{r}")
    for name, pushed in IMAGES.items():
        client.push(*name.rsplit(":", 1), pushed)
    for name in IMAGES:
        lab.ctr_pull(f"{r}/{name}")
        lab.docker("pull", "-q", f"{r}/{name}")
        lab.podman("pull", "-q", f"{r}/{name}")
    # The tag moves to new content; the nodes pull it again.
    client.push("demo/retag", "1.0", RETAGGED)
    lab.ctr_pull(f"{r}/demo/retag:1.0")
    lab.docker("pull", "-q", f"{r}/demo/retag:1.0")
    lab.podman("pull", "-q", f"{r}/demo/retag:1.0")
    # A second name for one image, and a removed tag.
    lab.ctr("images", "tag", f"{r}/pause:3.10", MIRROR_NAME)
    lab.docker("tag", f"{r}/pause:3.10", MIRROR_NAME)
    lab.podman("tag", f"{r}/pause:3.10", MIRROR_NAME)
    lab.ctr("images", "rm", f"{r}/pause:3.1")
    lab.docker("rmi", f"{r}/pause:3.1")
    lab.podman("rmi", f"{r}/pause:3.1")
    # Tarballs: ctr export/import keeps name and digest...
    tar = lab.root / "multi.tar"
    lab.ctr("images", "export", str(tar), f"{r}/demo/multi:1.0")
    lab.ctr("images", "rm", f"{r}/demo/multi:1.0")
    lab.ctr("images", "import", str(tar))
    # ...docker save/load keeps the image ID only; ctr and podman re-make the manifest.
    saved = lab.root / "single-docker.tar"
    lab.docker("save", "-o", str(saved), f"{r}/demo/single-docker:1.0")
    lab.docker("rmi", f"{r}/demo/single-docker:1.0")
    lab.docker("load", "-q", "-i", str(saved))
    lab.ctr("images", "rm", f"{r}/demo/single-docker:1.0")
    lab.ctr("images", "import", str(saved))
    podman_saved = lab.root / "single-docker-podman.tar"
    lab.podman("save", "-q", "-o", str(podman_saved), f"{r}/demo/single-docker:1.0")
    lab.podman("rmi", f"{r}/demo/single-docker:1.0")
    lab.podman("load", "-q", "-i", str(podman_saved))


def record(lab: Lab) -> dict[str, str]:
    """Each runtime's listing, exactly as printed (or as stored, for images.json)."""
    ids = sorted(set(lab.docker("image", "ls", "-aq", "--no-trunc").split()))
    return {
        "containerd": lab.ctr("images", "ls"),
        "docker": lab.docker("image", "inspect", *ids),
        "podman": lab.podman("images", "-a", "--format", "json"),
        "storage": (lab.storage_root / "vfs-images" / "images.json").read_text(),
    }


def versions(lab: Lab) -> dict[str, str]:
    return {
        "containerd": lab._run(["containerd", "--version"], timeout=30).strip(),
        "dockerd": lab._run(["dockerd", "--version"], timeout=30).strip(),
        "docker": lab.docker("version", "--format", "client {{.Client.Version}}, server {{.Server.Version}}").strip(),
        "podman": lab.podman("--version").strip(),
        "registry": lab._run(["docker-registry", "--version"], timeout=30).strip(),
    }


def capture(outdir: Path) -> dict:
    """Run the scenario on fresh daemons and write the listings and capture.json to `outdir`."""
    with Lab() as lab:
        run_scenario(lab)
        listings = record(lab)
        meta = {
            "registry": lab.registry,
            "platform": node_platform(),
            "mirror_name": MIRROR_NAME,
            "docker_client": docker_client(),
            "versions": versions(lab),
            "commands": list(lab.commands),
            "listings": LISTINGS,
        }
    for key, rel in LISTINGS.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(listings[key])
    (outdir / "capture.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str]) -> int:
    outdir = Path(argv[1]) if len(argv) > 1 else FIXTURES
    for key, rel in LISTINGS.items():
        if (outdir / rel).parent.exists() and outdir == FIXTURES:
            shutil.rmtree((outdir / rel).parent)
    meta = capture(outdir)
    print(f"captured from registry {meta['registry']} into {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
