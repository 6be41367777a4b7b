"""Expected against observed: PASS, FAIL or ERROR, with a message an operator can act on.

PASS is given only on evidence. FAIL means the node is wrong (missing,
another digest, another checksum). ERROR means the suite could not tell,
and says why: it is never a pass.

Images are matched by their normalised name and tag first, and only then is
that image's digest judged: a digest alone can sit on a stale, nameless entry
(containerd's CRI keeps `sha256:<id>` rows after the name is gone). A pinned
digest is established when

1. the image holds it (repo digest, or containerd's target);
2. the image holds an index whose manifest for the node's platform is the
   pinned digest, or the pinned index's manifest for that platform;
3. the image's ID equals the config digest of the pinned image for the
   node's platform: the evidence left when a tarball load dropped or
   re-made the manifest. The ID covers the config, which names every
   layer's content digest.

Registry facts (indexes' platform manifests, manifests' configs) come from
the registry client; without them, 2 and 3 cannot be established. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from kubespray_verify import digests
from kubespray_verify.redact import redact_url
from kubespray_verify.model import FileItem, ImageItem
from kubespray_verify.refs import parse_reference, Reference
from kubespray_verify.digests import normalize_digest
from kubespray_verify.runtimes.parsers import NodeImage
from kubespray_verify.verdicts.status import Status, Verdict


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry says about digests.

    children: index digest -> {platform ("linux/amd64", "linux/arm/v7") -> manifest digest}
    configs:  manifest digest -> config digest
    """

    children: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    configs: Mapping[str, str] = field(default_factory=dict)


def image_verdict(
    item: ImageItem,
    images: Iterable[NodeImage],
    *,
    runtime: str,
    platform: str,
    facts: Optional[RegistryFacts] = None,
) -> Verdict:
    """Judge one expected image against what the node's runtime holds.

    `platform` is the node's, e.g. "linux/arm64" for Kubespray's image_arch arm64.
    """
    images = list(images)
    try:
        want = parse_reference(item.reference)
    except ValueError as exc:
        return Verdict(Status.ERROR, f"{item.name}: cannot check the image on {runtime}: {exc}",
                       {"reference": item.reference, "runtime": runtime, "platform": platform})
    label = f"{item.name} {want} on {runtime}"
    found = [i for i in images if want in i.names]
    if not found:
        hints = _elsewhere(want, images, _digest_or_none(item.digest))
        facts = _image_facts(want, runtime, platform, _digest_or_none(item.digest) or item.digest, None)
        if hints:
            facts["elsewhere"] = hints
        return Verdict(Status.FAIL, f"{label}: missing" + (f" ({'; '.join(hints)})" if hints else ""), facts)
    if len(found) > 1:
        listed = " | ".join(i.describe() for i in found)
        facts = _image_facts(want, runtime, platform, item.digest, None)
        facts["found"] = {"image": str(want), "images": [i.describe() for i in found]}
        return Verdict(Status.ERROR, f"{label}: the name is on {len(found)} images: {listed}", facts)
    image = found[0]
    if item.digest is None:
        return Verdict(Status.PASS, f"{label}: present, no digest pinned ({image.describe()})",
                       _image_facts(want, runtime, platform, None, image))
    try:
        pinned = normalize_digest(item.digest)
    except ValueError as exc:
        return Verdict(Status.ERROR, f"{label}: the pinned digest is unusable: {exc}",
                       _image_facts(want, runtime, platform, item.digest, image))
    return _judge_digest(label, image, pinned, platform, facts or RegistryFacts(),
                         lambda **more: _image_facts(want, runtime, platform, pinned, image, **more))


def judge_image(item: ImageItem, images: Iterable[NodeImage], *, runtime: str, platform: str,
                local: Optional[RegistryFacts] = None, remote=None) -> Verdict:
    """image_verdict with the node's own documents (`local`), and with the registry's where they do not
    describe the pinned digest (an image loaded from a tarball has another manifest, docker keeps no
    index). `remote(item)` → (RegistryFacts or None, why not); without it, the node's documents only."""
    images = list(images)
    local = local or RegistryFacts()
    verdict = image_verdict(item, images, runtime=runtime, platform=platform, facts=local)
    if verdict.status == Status.PASS or remote is None or not item.digest or item.digest in local.children \
            or item.digest in local.configs:
        return verdict
    facts, why_not = remote(item)
    if facts is None:
        if verdict.status == Status.ERROR:
            return Verdict(verdict.status, f"{verdict.message}; {why_not}", verdict.facts, verdict.warnings)
        return verdict
    merged = RegistryFacts(children={**local.children, **facts.children}, configs={**local.configs, **facts.configs})
    return image_verdict(item, images, runtime=runtime, platform=platform, facts=merged)


def _image_facts(want: Reference, runtime: str, platform: str, digest: Optional[str], image: Optional[NodeImage],
                 *, image_id: Optional[str] = None, by: Optional[str] = None) -> dict:
    """What the reports carry: the image asked for and the one found, side by side."""
    expected: dict = {"image": str(want)}
    if digest:
        expected["digest"] = digest
    if image_id:
        expected["image_id"] = image_id
    if image is None:
        found: dict = {"image": "missing"}
    else:
        found = {"image": str(want), "digest": ", ".join(sorted(image.digests)) or "none",
                 "image_id": image.image_id, "names": sorted(str(n) for n in image.names)}
    facts = {"reference": str(want), "runtime": runtime, "platform": platform, "expected": expected,
             "found": found}
    if by:
        facts["by"] = by
    return facts


def _judge_digest(label: str, image: NodeImage, pinned: str, platform: str, facts: RegistryFacts,
                  said) -> Verdict:
    held = image.digests
    found = f"found {image.describe()}"
    if pinned in held:
        return Verdict(Status.PASS, f"{label}: holds the pinned digest {pinned}", said(by="repo digest"))
    for digest in sorted(held):
        if facts.children.get(digest, {}).get(platform) == pinned:
            return Verdict(
                Status.PASS, f"{label}: holds index {digest}, whose {platform} manifest is the pinned {pinned}",
                said(by=f"{platform} manifest of the index held"),
            )
    manifest = pinned
    if pinned in facts.children:
        manifest = facts.children[pinned].get(platform)
        if manifest is None:
            platforms = ", ".join(sorted(facts.children[pinned])) or "none"
            return Verdict(
                Status.FAIL, f"{label}: the pinned index {pinned} has no {platform} manifest (it has: {platforms}); {found}",
                said(),
            )
        if manifest in held:
            return Verdict(
                Status.PASS, f"{label}: holds {manifest}, the {platform} manifest of the pinned index {pinned}",
                said(by=f"{platform} manifest of the pinned index"),
            )
    config = facts.configs.get(manifest)
    if config and image.image_id:
        if image.image_id == config:
            how = "holds no registry digest" if not held else f"holds other manifest digests ({', '.join(sorted(held))})"
            return Verdict(
                Status.PASS,
                f"{label}: {how}, but its image ID {config} is the config digest of the pinned {pinned}"
                + (f" ({platform} manifest {manifest})" if manifest != pinned else ""),
                said(image_id=config, by="image ID is the pinned image's config digest"),
            )
        return Verdict(
            Status.FAIL,
            f"{label}: expected {pinned} (image ID {config} for {platform}), {found}",
            said(image_id=config),
        )
    if not held:
        why = "no image ID either" if not image.image_id else f"no config digest of {pinned} for {platform} from the registry"
        return Verdict(
            Status.ERROR,
            f"{label}: unverifiable: no repo digest (loaded from a tarball?) and {why}; {found}",
            said(),
        )
    unknown = [d for d in sorted(held) if d not in facts.children and image.is_index is not False]
    if unknown:
        return Verdict(
            Status.ERROR,
            f"{label}: unverifiable: expected {pinned}; the node holds {', '.join(unknown)}, which may be an index "
            f"whose {platform} manifest is the pinned one, and the registry facts do not list its manifests",
            said(),
        )
    return Verdict(Status.FAIL, f"{label}: expected {pinned}, {found}", said())


def _elsewhere(want: Reference, images: list[NodeImage], pinned: Optional[str]) -> list[str]:
    """Where a missing image may be instead: another registry, another tag, its digest under another name."""
    named = [(n, i) for i in images for n in i.names]
    hints = []
    moved = sorted({str(n) for n, _ in named if n.path == want.path and n.tag == want.tag and n != want})
    if moved:
        hints.append("present only as " + ", ".join(moved))
    tags = sorted({n.tag for n, _ in named if n.name == want.name and n.tag != want.tag})
    if tags:
        hints.append(f"{want.name} has other tags: " + ", ".join(tags))
    if pinned:
        holders = sorted({str(n) for n, i in named if pinned in i.digests and n != want})
        if holders:
            hints.append(f"the pinned digest {pinned} is held by " + ", ".join(holders))
    return hints


def _digest_or_none(value: Optional[str]) -> Optional[str]:
    try:
        return normalize_digest(value) if value else None
    except ValueError:
        return None


# -- files -------------------------------------------------------------------


@dataclass(frozen=True)
class ObservedFile:
    """A file as found on the node at an item's `dest`.

    checksum is "algo:hex", computed with the algorithm of the expected checksum.
    """

    exists: bool
    checksum: Optional[str] = None
    size: Optional[int] = None
    mode: Optional[str] = None  # octal, "0755"
    owner: Optional[str] = None
    memo: bool = False  # checksum read by an earlier run; the file is unchanged since (same identity)


def normalize_checksum(value: str) -> str:
    """`algo:HEX` or bare HEX (sha256, Kubespray's old schema) -> `algo:hex`; ValueError when malformed."""
    normalized = digests.normalize_checksum(value, default_algo="sha256")
    if normalized is None:
        raise ValueError(f"checksum {value!r} is empty")
    return normalized


def _octal(value: str) -> int:
    text = str(value).strip().lower().removeprefix("0o")
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ValueError(f"mode {value!r} is not an octal mode")
    return int(text, 8)


def file_verdict(item: FileItem, observed: ObservedFile) -> Verdict:
    """Judge one downloaded file: present at `dest`, checksum, mode and owner."""
    where = f"{item.name} {item.dest} (from {redact_url(item.url)})"
    facts = _file_facts(item, observed)
    if not observed.exists:
        return Verdict(Status.FAIL, f"{where}: missing", facts)
    wrong: list[str] = []
    unknown: list[str] = []
    if item.checksum:
        try:
            expected = normalize_checksum(item.checksum)
            found = normalize_checksum(observed.checksum) if observed.checksum else None
        except ValueError as exc:
            unknown.append(str(exc))
        else:
            size = f" ({observed.size} bytes)" if observed.size is not None else ""
            if found is None:
                unknown.append(f"checksum expected {expected}, not computed on the node")
            elif found.split(":")[0] != expected.split(":")[0]:
                unknown.append(f"checksum expected {expected}, but the node computed {found}")
            elif found != expected:
                when = (" (read by an earlier run; the file is unchanged since: same inode, size, mtime and"
                        " ctime; --rehash reads it again)") if observed.memo else ""
                wrong.append(f"checksum expected {expected}, found {found}{size}{when}")
    if item.mode:
        try:
            want_mode = _octal(item.mode)
            got_mode = _octal(observed.mode) if observed.mode is not None else None
        except ValueError as exc:
            unknown.append(str(exc))
        else:
            if got_mode is None:
                unknown.append(f"mode expected {want_mode:04o}, not read on the node")
            elif got_mode != want_mode:
                wrong.append(f"mode expected {want_mode:04o}, found {got_mode:04o}")
    if item.owner:
        if observed.owner is None:
            unknown.append(f"owner expected {item.owner}, not read on the node")
        elif observed.owner != item.owner:
            wrong.append(f"owner expected {item.owner}, found {observed.owner}")
    if wrong:
        return Verdict(Status.FAIL, f"{where}: " + "; ".join(wrong + unknown), facts)
    if unknown:
        return Verdict(Status.ERROR, f"{where}: unverifiable: " + "; ".join(unknown), facts)
    checked = [f"checksum {normalize_checksum(item.checksum)}" if item.checksum else "no checksum pinned"]
    if item.checksum and observed.memo:
        checked[0] += " (read by an earlier run, file unchanged since)"
    checked += [f"mode {_octal(item.mode):04o}"] if item.mode else []
    checked += [f"owner {item.owner}"] if item.owner else []
    return Verdict(Status.PASS, f"{where}: " + ", ".join(checked), facts)


def _file_facts(item: FileItem, observed: ObservedFile) -> dict:
    """What the reports carry: each pinned property expected and found, side by side (no credential)."""
    expected: dict = {"present": True}
    found: dict = {"present": observed.exists}
    if item.checksum:
        expected["checksum"] = _shown(item.checksum, normalize_checksum)
    if item.mode:
        expected["mode"] = _shown(item.mode, lambda m: f"{_octal(m):04o}")
    if item.owner:
        expected["owner"] = item.owner
    if observed.exists:
        if item.checksum:
            found["checksum"] = _shown(observed.checksum, normalize_checksum)
        if item.mode:
            found["mode"] = _shown(observed.mode, lambda m: f"{_octal(m):04o}")
        if item.owner:
            found["owner"] = observed.owner
        found["size"] = observed.size
    facts = {"dest": item.dest, "url": redact_url(item.url), "expected": expected, "found": found}
    if observed.memo:
        facts["read_by_earlier_run"] = True
    return facts


def _shown(value: Optional[str], normal) -> Optional[str]:
    """`value` in its normal spelling, or as given when it has none (the verdict says why)."""
    if value is None:
        return None
    try:
        return normal(value)
    except ValueError:
        return str(value)
