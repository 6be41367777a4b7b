"""What a node's container runtime says it holds, as one observation model.

One pure parser per runtime output, each returning `NodeImage`s:

- containerd: `ctr -n k8s.io images ls` (the table, not `-q`);
- docker: `docker image inspect ID...` (a JSON array);
- CRI (cri-o or containerd): `crictl images -o json`;
- containers-storage (cri-o, podman): `podman images --format json`, and the
  store's own `overlay-images/images.json` (or `vfs-images/images.json`).

Names are normalised `Reference`s. An image the runtime holds without a name
(containerd's CRI image-ID rows, a dangling docker or podman image) is kept
with no names: it can answer "which image has this ID", never "is this name
here". No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Optional

from kubespray_verify.refs import parse_reference, Reference
from kubespray_verify.digests import normalize_digest

INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)


@dataclass(frozen=True)
class NodeImage:
    """One image as the runtime holds it.

    names:         tags the image answers to (normalised, no digest);
    repo_digests:  `name@sha256:...` the runtime records (pulled by, or loaded with);
    image_id:      the config digest, `sha256:hex` (None when the output has none);
    target_digest: what containerd's names point at: the index for a
                   multi-platform image, else the manifest;
    media_type:    the target's media type, when the runtime says it.
    """

    names: frozenset[Reference] = frozenset()
    repo_digests: frozenset[Reference] = frozenset()
    image_id: Optional[str] = None
    target_digest: Optional[str] = None
    media_type: Optional[str] = None

    @property
    def digests(self) -> frozenset[str]:
        """Every manifest or index digest the node holds for this image."""
        found = {r.digest for r in self.repo_digests}
        if self.target_digest:
            found.add(self.target_digest)
        return frozenset(found)

    @property
    def is_index(self) -> Optional[bool]:
        """Whether the target is an index; None when the runtime does not say."""
        if self.media_type in INDEX_MEDIA_TYPES:
            return True
        if self.media_type in MANIFEST_MEDIA_TYPES:
            return False
        return None

    def describe(self) -> str:
        """A short operator-readable summary: names, digests, image ID."""
        parts = [", ".join(sorted(str(n) for n in self.names)) or "(no name)"]
        if self.digests:
            parts.append("digests " + ", ".join(sorted(self.digests)))
        if self.image_id:
            parts.append(f"image ID {self.image_id}")
        return "; ".join(parts)


# -- containerd --------------------------------------------------------------

CTR_COLUMNS = ("REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS")


def parse_ctr_images(text: str) -> list[NodeImage]:
    """`ctr -n k8s.io images ls`: one NodeImage per target digest.

    Rows are grouped by what they point at: every name of one target is one
    image. `sha256:<config>` rows are the CRI plugin's image IDs, not names;
    they give the group its image ID. A `sha256:` row whose target no name
    points at any more (the image was removed or its tag moved) stays as a
    nameless image: it must never make a name look present.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    try:
        starts = [header.index(col) for col in CTR_COLUMNS]
    except ValueError:
        raise ValueError(f"not `ctr images ls` output: header is {header.strip()!r}") from None
    groups: dict[str, dict] = {}
    for line in lines[1:]:
        ref, media_type, digest = (line[a:b].strip() for a, b in zip(starts, starts[1:4]))
        try:
            digest = normalize_digest(digest)
        except ValueError as exc:
            raise ValueError(f"ctr row {line.strip()!r}: {exc}") from None
        group = groups.setdefault(digest, {"names": set(), "repo_digests": set(), "ids": set(), "type": media_type})
        if ref.startswith("sha256:"):
            group["ids"].add(normalize_digest(ref))
            continue
        parsed = _reference(ref, "ctr row")
        (group["repo_digests"] if parsed.digest else group["names"]).add(parsed)
    images = []
    for digest, group in groups.items():
        ids = group["ids"]
        images.append(
            NodeImage(
                names=frozenset(group["names"]),
                repo_digests=frozenset(group["repo_digests"]),
                # Several IDs for one target would be a runtime out of sorts: then no ID is evidence.
                image_id=next(iter(ids)) if len(ids) == 1 else None,
                target_digest=digest,
                media_type=group["type"] or None,
            )
        )
    return images


# -- docker ------------------------------------------------------------------


def parse_docker_inspect(text: str) -> list[NodeImage]:
    """`docker image inspect ID...`: RepoTags, RepoDigests, Id. Repeated IDs are one image."""
    by_id: dict[str, NodeImage] = {}
    for entry in _json_list(text, "docker image inspect"):
        image = NodeImage(
            names=_references(entry.get("RepoTags"), "RepoTags"),
            repo_digests=_references(entry.get("RepoDigests"), "RepoDigests"),
            image_id=_digest(entry.get("Id"), "Id"),
        )
        by_id[image.image_id] = _merge(by_id.get(image.image_id), image)
    return list(by_id.values())


# -- CRI ---------------------------------------------------------------------


def parse_crictl_images(text: str) -> list[NodeImage]:
    """`crictl images -o json`: {"images": [{id, repoTags, repoDigests, ...}]}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"crictl images output is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError("crictl images output has no 'images' list")
    return [
        NodeImage(
            names=_references(entry.get("repoTags"), "repoTags"),
            repo_digests=_references(entry.get("repoDigests"), "repoDigests"),
            image_id=_digest(entry.get("id"), "id"),
        )
        for entry in data["images"]
    ]


# -- containers-storage --------------------------------------------------------


def parse_podman_images(text: str) -> list[NodeImage]:
    """`podman images --format json`: Names, RepoDigests, Id. Repeated IDs are one image."""
    by_id: dict[str, NodeImage] = {}
    for entry in _json_list(text, "podman images"):
        listed = _references(entry.get("Names") or entry.get("RepoTags"), "Names")
        image = NodeImage(
            names=frozenset(r for r in listed if not r.digest),
            repo_digests=_references(entry.get("RepoDigests"), "RepoDigests") | {r for r in listed if r.digest},
            image_id=_digest(entry.get("Id"), "Id"),
        )
        by_id[image.image_id] = _merge(by_id.get(image.image_id), image)
    return list(by_id.values())


def parse_storage_images(text: str) -> list[NodeImage]:
    """containers-storage `images.json`: the store cri-o and podman share.

    Repo digests are made as podman makes them: every repository the image is
    named in, with every manifest digest the store keeps for it (an index
    pulled for one platform keeps both the index and the platform manifest).
    """
    images = []
    for entry in _json_list(text, "images.json"):
        refs = [_reference(n, "images.json names") for n in entry.get("names") or []]
        manifests = {normalize_digest(k[len("manifest-"):]) for k in entry.get("big-data-names") or [] if k.startswith("manifest-")}
        if entry.get("digest"):
            manifests.add(_digest(entry["digest"], "digest"))
        repos = {(r.registry, r.repository) for r in refs}
        images.append(
            NodeImage(
                names=frozenset(r for r in refs if r.digest is None),
                repo_digests=frozenset(Reference(reg, repo, None, d) for reg, repo in repos for d in manifests),
                image_id=_digest(entry.get("id"), "id"),
            )
        )
    return images


# -- helpers -----------------------------------------------------------------


def _json_list(text: str, what: str) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} output is not JSON: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError(f"{what} output is not a JSON list of objects")
    return data


def _reference(text: str, where: str) -> Reference:
    try:
        return parse_reference(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _references(values: Optional[Iterable[str]], where: str) -> frozenset[Reference]:
    # docker prints "<none>:<none>" / "<none>@<none>" for untagged images in some versions.
    return frozenset(_reference(v, where) for v in values or () if v and not v.startswith("<none>"))


def _digest(value: Optional[str], where: str) -> Optional[str]:
    if not value:
        return None
    try:
        return normalize_digest(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _merge(old: Optional[NodeImage], new: NodeImage) -> NodeImage:
    if old is None:
        return new
    return NodeImage(old.names | new.names, old.repo_digests | new.repo_digests, old.image_id)
