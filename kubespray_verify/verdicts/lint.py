"""Lint verdicts: findings about the whole inventory, each naming the nodes it concerns (pure).

A lint is one check for the cluster, not one per node: a setting written once in group_vars is one
finding, whatever the number of hosts it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubespray_verify.model import ExpectedState, ImageItem
from kubespray_verify.verdicts.status import Status, Verdict


@dataclass(frozen=True)
class PinnedImage:
    """One image digest pin (repo, tag, digest) and the hosts whose expected state carries it."""

    item: ImageItem
    nodes: tuple[str, ...]
    label: str  # digest_pin:calico_node, unique in the run

    @property
    def id(self) -> str:
        return f"{self.item.name}::{self.item.reference}"


def pinned_images(state: ExpectedState) -> list[PinnedImage]:
    """Every distinct pin in the expected state, in inventory order, with the hosts that carry it."""
    found: dict[tuple, tuple[ImageItem, list[str]]] = {}
    for host, exp in state.hosts.items():
        for item in exp.items:
            if isinstance(item, ImageItem) and item.digest:
                found.setdefault((item.repo, item.tag, item.digest), (item, []))[1].append(host)
    names = [item.name for item, _ in found.values()]
    pins = []
    for item, hosts in found.values():
        label = f"digest_pin:{item.name}"
        if names.count(item.name) > 1:  # the same item pinned differently for some hosts
            label += f"@{item.digest.split(':')[-1][:12]}"
        pins.append(PinnedImage(item, tuple(hosts), label))
    return pins


def pins_enforced(state: ExpectedState) -> Verdict:
    """Kubespray from v2.28 pulls by tag: its items spell the digest `checksum:`, its container task reads
    `sha256`. Digest pins are then enforced by this suite only."""
    pins = pinned_images(state)
    nodes = [h for h in state.hosts if any(h in p.nodes for p in pins)]
    facts = {"kubespray": {"version": state.kubespray_version, "dir": state.kubespray_dir,
                           "pulls_by_digest": state.pulls_by_digest},
             "nodes": nodes, "pins": {p.label: f"{p.item.reference}@{p.item.digest}" for p in pins}}
    if not pins:
        return Verdict(Status.PASS, "no image digest is pinned", facts)
    if state.pulls_by_digest is False:
        listed = ", ".join(f"{p.item.name} ({p.item.reference}@{p.item.digest})" for p in pins)
        return Verdict(Status.FAIL, (
            f"Kubespray {state.kubespray_version} at {state.kubespray_dir} pulls by tag: its items spell the "
            f"digest `checksum:` and its container task reads `sha256`, so the pins on {', '.join(nodes)} are "
            f"enforced only by this suite: {listed}"), facts)
    how = "pulls pinned images by digest" if state.pulls_by_digest else "may pull pinned images by digest"
    return Verdict(Status.PASS, f"Kubespray {state.kubespray_version} {how} ({len(pins)} pins on "
                                f"{', '.join(nodes)})", facts)


def pin_matches_tag(pin: PinnedImage, matches: bool, said: str, served_digest: str | None) -> Verdict:
    """The registry's answer for the pin's tag (`said`, what it serves) judged: the tag must be the pin."""
    item = pin.item
    facts = {"reference": item.reference, "nodes": list(pin.nodes), "expected": {"digest": item.digest},
             "found": {"digest": served_digest}}
    if matches:
        return Verdict(Status.PASS, f"{item.name} pins {item.digest}: {said}", facts)
    return Verdict(Status.FAIL, f"{item.name} pins {item.digest}, but {said}: the pin and the tag disagree "
                                f"(pinned on {', '.join(pin.nodes)})", facts)


def pin_unanswered(pin: PinnedImage, why: str) -> Verdict:
    item = pin.item
    return Verdict(Status.ERROR, f"{item.name}: cannot ask the registry about {item.reference}: {why}",
                   {"reference": item.reference, "nodes": list(pin.nodes), "expected": {"digest": item.digest}})
