"""The lab's state file: what `lab up` made, so that `status`, `drift` and `down` find it again.

It is written after every step of `lab up` (a crashed run leaves what it had
made so far on record); `lab down` also finds what a lab made by its prefix,
so a missing or stale state file never leaves anything behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import Layout, lab_home
from kubespray_verify.lab.nodes import Node
from kubespray_verify.lab.processes import ProcessRecord
from kubespray_verify.model import ExpectedState


@dataclass
class ImageRecord:
    """An image the lab built and pushed to both registries."""

    repository: str  # path in the registries, e.g. "calico/node"
    tag: str
    style: str  # images.STYLES
    digest: str  # what the tag points at (index or manifest)
    platform_digest: str  # the amd64 manifest
    config_digest: str  # the amd64 image ID

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class DriftRecord:
    node: str
    kind: str
    item: Optional[str]
    added_refs: list[str] = field(default_factory=list)  # names the drift gave images, removed by heal

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class LabState:
    prefix: str
    subnet: str
    kubespray_dir: str
    phase: str = "starting"  # starting | up
    nodes: list[Node] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    expected: Optional[ExpectedState] = None
    files: dict[str, str] = field(default_factory=dict)  # url -> sha256 hex
    images: dict[str, ImageRecord] = field(default_factory=dict)  # "repository:tag" -> record
    drifts: list[DriftRecord] = field(default_factory=list)
    realistic_sizes: bool = False
    pin_digests: bool = False
    runner_docker: Optional[Node] = None  # the docker daemon standing for the runner's own (download_localhost)

    def to_json(self) -> dict:
        return {
            "prefix": self.prefix, "subnet": self.subnet, "kubespray_dir": self.kubespray_dir, "phase": self.phase,
            "realistic_sizes": self.realistic_sizes, "pin_digests": self.pin_digests,
            "nodes": [n.to_json() for n in self.nodes],
            "processes": [p.to_json() for p in self.processes],
            "expected": self.expected.to_json() if self.expected else None,
            "files": self.files,
            "images": {k: v.to_json() for k, v in self.images.items()},
            "drifts": [d.to_json() for d in self.drifts],
            "runner_docker": self.runner_docker.to_json() if self.runner_docker else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "LabState":
        return cls(
            prefix=data["prefix"], subnet=data["subnet"], kubespray_dir=data["kubespray_dir"], phase=data["phase"],
            realistic_sizes=data.get("realistic_sizes", False), pin_digests=data.get("pin_digests", False),
            nodes=[Node.from_json(n) for n in data["nodes"]],
            processes=[ProcessRecord.from_json(p) for p in data["processes"]],
            expected=ExpectedState.from_json(data["expected"]) if data.get("expected") else None,
            files=dict(data.get("files", {})),
            images={k: ImageRecord(**v) for k, v in data.get("images", {}).items()},
            drifts=[DriftRecord(**d) for d in data.get("drifts", [])],
            runner_docker=Node.from_json(data["runner_docker"]) if data.get("runner_docker") else None,
        )

    def save(self, layout: Layout) -> None:
        tmp = layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, layout.state_file)


def load(prefix: str) -> Optional[LabState]:
    """The state of lab `prefix`, or None when there is no state file."""
    path = lab_home(prefix) / "state.json"
    try:
        return LabState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"lab state {path} is unreadable ({exc}); `kubespray-verify lab down --prefix {prefix}` "
                       "still removes the lab") from exc
