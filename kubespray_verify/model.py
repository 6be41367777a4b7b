"""Plain data: what a node is expected to hold.

Nothing here does I/O. The resolver (`resolve.expected`) builds these values; the
checks, the lab and the reports read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Optional, Union

FactsSource = Literal["inventory", "node", "default"]


# Facts assumed for a host whose inventory gives none, until its node answers (Kubespray's usual target).
DEFAULT_FACTS = {"architecture": "x86_64", "system": "Linux"}


@dataclass(frozen=True)
class FileItem:
    """A file Kubespray downloads to `dest` on a node (a `downloads:` item with `file: true`)."""

    name: str
    url: str
    dest: str
    checksum: Optional[str]  # "algo:hex", lowercase; None when the item pins none
    unarchive: bool
    owner: str
    mode: Optional[str]
    groups: tuple[str, ...]
    delegate: bool = False  # present on this host only as the download_delegate

    kind: Literal["file"] = "file"

    def to_json(self) -> dict:
        data = asdict(self)
        data["groups"] = list(self.groups)
        return _ordered(data, ("name", "kind", "url", "dest", "checksum", "unarchive", "owner", "mode", "groups", "delegate"))


@dataclass(frozen=True)
class ImageItem:
    """A container image Kubespray pulls on a node (`container: true`, or a kubeadm image)."""

    name: str
    repo: str
    tag: str
    digest: Optional[str]  # "sha256:hex", lowercase; None when not pinned
    groups: tuple[str, ...]
    delegate: bool = False

    kind: Literal["image"] = "image"

    @property
    def reference(self) -> str:
        return f"{self.repo}:{self.tag}"

    def to_json(self) -> dict:
        data = asdict(self)
        data["groups"] = list(self.groups)
        return _ordered(data, ("name", "kind", "repo", "tag", "digest", "groups", "delegate"))


Item = Union[FileItem, ImageItem]


@dataclass(frozen=True)
class ItemError:
    """An item that could not be resolved for a host (undefined variable, missing checksum...)."""

    name: str
    error: str

    def to_json(self) -> dict:
        return {"name": self.name, "error": self.error}


@dataclass
class HostExpectation:
    host: str
    arch: str  # Kubespray's image_arch: amd64, arm64...
    facts_source: FactsSource
    items: list[Item] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    container_manager: Optional[str] = None  # containerd, docker, crio
    bin_dir: Optional[str] = None
    containerd_cfg_dir: Optional[str] = None  # containerd reads <this>/certs.d/<registry>/hosts.toml
    mirror_vars: tuple[str, ...] = ()  # Kubespray's offline repo variables set for this host (names only)

    def item(self, name: str) -> Optional[Item]:
        return next((i for i in self.items if i.name == name), None)

    def items_held(self) -> list[Item]:
        """The items this node must hold itself: all but those it fetches only for other nodes, as the
        download_delegate under download_run_once (`delegate`). Kubespray downloads those onto it during
        the deploy and pushes them on; before the deploy it need not have them."""
        return [i for i in self.items if not i.delegate]

    def to_json(self) -> dict:
        return {
            "arch": self.arch,
            "facts_source": self.facts_source,
            "container_manager": self.container_manager,
            "bin_dir": self.bin_dir,
            "containerd_cfg_dir": self.containerd_cfg_dir,
            "mirror_vars": list(self.mirror_vars),
            "items": [i.to_json() for i in self.items],
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass
class DownloadDelegate:
    """Kubespray's "pull once, push many": who downloads for everyone."""

    run_once: bool
    host: Optional[str]  # an inventory host, "localhost", or None when run_once is off
    # The rest of Kubespray's download settings, read once for the run as its download role reads them.
    localhost: bool = False  # download_localhost
    force_cache: bool = False  # download_force_cache
    cache_dir: str = "/tmp/kubespray_cache"  # download_cache_dir, on the runner
    retries: int = 4  # download_retries
    validate_certs: bool = True  # download_validate_certs
    delegate_host: Optional[str] = None  # download_delegate, also when run_once is off (force_cache uses it)

    def to_json(self) -> dict:
        return {"run_once": self.run_once, "host": self.host, "localhost": self.localhost,
                "force_cache": self.force_cache, "cache_dir": self.cache_dir, "retries": self.retries,
                "validate_certs": self.validate_certs, "delegate_host": self.delegate_host}


@dataclass
class ExpectedState:
    kubespray_dir: str
    kubespray_version: str
    hosts: dict[str, HostExpectation]
    download: DownloadDelegate = field(default_factory=lambda: DownloadDelegate(False, None))
    notes: list[str] = field(default_factory=list)
    resolutions: int = 0  # how many host resolutions were templated (hosts sharing a profile share one)
    # Kubespray pulls pinned images by digest only while its items spell the digest `sha256:` (up to v2.27);
    # from v2.28 items say `checksum:` and the container task, still reading `sha256`, ignores it.
    pulls_by_digest: Optional[bool] = None
    # Set by resolution when a variable it read looks outside the inventory (e.g. "variable x uses
    # lookup('env')"): such a state is not cached. Not part of the JSON (the notes say it).
    outside_input: Optional[str] = None

    def to_json(self) -> dict:
        return {
            "kubespray": {"dir": self.kubespray_dir, "version": self.kubespray_version,
                          "pulls_by_digest": self.pulls_by_digest},
            "download": self.download.to_json(),
            "notes": list(self.notes),
            "resolutions": self.resolutions,
            "hosts": {name: h.to_json() for name, h in self.hosts.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> "ExpectedState":
        hosts = {}
        for name, h in data["hosts"].items():
            items: list[Item] = []
            for raw in h["items"]:
                raw = dict(raw)
                raw["groups"] = tuple(raw["groups"])
                kind = raw.pop("kind")
                items.append(FileItem(**raw) if kind == "file" else ImageItem(**raw))
            hosts[name] = HostExpectation(
                host=name,
                arch=h["arch"],
                facts_source=h["facts_source"],
                items=items,
                errors=[ItemError(**e) for e in h["errors"]],
                container_manager=h.get("container_manager"),
                bin_dir=h.get("bin_dir"),
                containerd_cfg_dir=h.get("containerd_cfg_dir"),
                mirror_vars=tuple(h.get("mirror_vars", ())),
            )
        return cls(
            kubespray_dir=data["kubespray"]["dir"],
            kubespray_version=data["kubespray"]["version"],
            pulls_by_digest=data["kubespray"].get("pulls_by_digest"),
            hosts=hosts,
            download=DownloadDelegate(**data.get("download", {"run_once": False, "host": None})),
            notes=list(data.get("notes", [])),
            resolutions=int(data.get("resolutions", 0)),
        )


def _ordered(data: dict, keys: tuple[str, ...]) -> dict:
    return {k: data[k] for k in keys}
