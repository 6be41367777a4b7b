"""From the cluster's observation to what `--fix` plans from: each node's state and the (host, item)s that fail.

The verdicts are the checks' own (`verdicts/node.py`, with the registry's
documents where the node's cannot settle a pinned digest), so `--fix` plans
exactly what the checks would report failed. A verdict that is an error (the
node unreachable, a digest unverifiable) is not a failure to fix: it is kept
with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from kubespray_verify.errors import CheckError
from kubespray_verify.fix.plan import Failure, NodeState
from kubespray_verify.model import FileItem, ImageItem
from kubespray_verify.nodes.evidence import node_images, observed_file, registry_facts_from_blobs
from kubespray_verify.runtimes.commands import certs_dir_of
from kubespray_verify.verdicts.node import judge_image, file_verdict, normalize_checksum
from kubespray_verify.verdicts.status import Status

KINDS = ("images", "files")


@dataclass
class Gathered:
    nodes: dict[str, NodeState] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)  # (host, item) → why it cannot be judged
    passed: int = 0


def gather(cluster, kinds=KINDS, selected: Callable[[str, str, str], bool] = lambda kind, host, item: True,
           remote: Optional[Callable] = None) -> Gathered:
    """`selected(kind, host, item name)`: whether that check is part of the run; `remote(item)` → the
    registry's facts for a pinned image and why not (registry.evidence.RegistryEvidence.facts)."""
    found = Gathered()
    for host, exp in cluster.state.hosts.items():
        obs = cluster.nodes.get(host)
        error = obs.error if obs is not None else "not observed"
        images, runtime, local, image_error = (), "", None, error
        if error is None and "images" in kinds:
            try:
                listed, runtime = node_images(obs)
                images, local = tuple(listed), registry_facts_from_blobs(obs)
            except CheckError as exc:
                image_error = str(exc)
        found.nodes[host] = NodeState(host, exp.container_manager, exp.arch, images,
                                      certs_dir=certs_dir_of(exp.containerd_cfg_dir), error=error)
        for item in exp.items_held():  # what the checks check on this host
            kind = "images" if isinstance(item, ImageItem) else "files"
            if kind not in kinds or not selected(kind, host, item.name):
                continue
            if error is not None or (kind == "images" and image_error):
                found.errors[(host, item.name)] = error or image_error
                continue
            if isinstance(item, ImageItem):
                verdict = judge_image(item, images, runtime=runtime, platform=f"linux/{exp.arch}", local=local,
                                      remote=remote)
                if verdict.status == Status.FAIL:
                    found.failures.append(Failure(host, item))
            else:
                try:
                    observed = observed_file(obs, item.dest, host)
                except CheckError as exc:
                    found.errors[(host, item.name)] = str(exc)
                    continue
                verdict = file_verdict(item, observed)
                if verdict.status == Status.FAIL:
                    found.failures.append(Failure(host, item, exists=observed.exists,
                                                  content_ok=observed.exists and _same_content(item, observed),
                                                  wrong=_wrong_attributes(item, observed)))
            if verdict.status == Status.ERROR:
                found.errors[(host, item.name)] = verdict.message
            elif verdict.status == Status.PASS:
                found.passed += 1
    return found


def _wrong_attributes(item: FileItem, observed) -> tuple[str, ...]:
    """Which of mode and owner differ from the item's (an unreadable one counts as differing)."""
    wrong = []
    if item.mode:
        try:
            if observed.mode is None or int(str(observed.mode), 8) != int(str(item.mode), 8):
                wrong.append("mode")
        except ValueError:
            wrong.append("mode")
    if item.owner and observed.owner != item.owner:
        wrong.append("owner")
    return tuple(wrong)


def _same_content(item: FileItem, observed) -> bool:
    if not item.checksum:
        return True
    try:
        return observed.checksum is not None and \
            normalize_checksum(observed.checksum) == normalize_checksum(item.checksum)
    except ValueError:
        return False
