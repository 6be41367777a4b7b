"""A pinned digest against what the registry serves for the image's tag.

The config lint (is the pin the tag's?) and the mirror checks (does what each
vantage point is served fit each host's pin?) ask the registry the same
question: `resolve_tag` asks it (HEAD of `repo:tag` with the Accept list, and
the index document when it is one, to list its platform manifests), and
`pin_in_tag` says where the answer holds the pin: the tag's own digest, one
platform's manifest inside the tag's index, or nowhere. The answer is plain
data (the node probe builds the same from its own requests); only
`resolve_tag` talks to a registry, through the client it is given.
"""

from __future__ import annotations

from typing import Mapping, Optional

from kubespray_verify import oci

WHOLE = "the tag itself"  # `pin_in_tag`: the pin is the tag's own digest

KINDS = {oci.OCI_INDEX: "OCI index", oci.DOCKER_MANIFEST_LIST: "Docker manifest list",
         oci.OCI_MANIFEST: "OCI manifest", oci.DOCKER_MANIFEST: "Docker manifest"}


def resolve_tag(client, repository: str, tag: str) -> dict:
    """What `client` (a `registry.RegistryClient`) is served for `repository:tag`.

    Digest, media type and size from HEAD; an index's platforms (`"linux/amd64"` → digest) from its document.
    """
    head = client.head_manifest(repository, tag)
    served = {"digest": head.digest, "media_type": head.media_type, "size": head.size}
    if head.is_index:
        served["platforms"] = oci.index_platforms(client.get_manifest(repository, head.digest).json)
    return served


def pin_in_tag(pinned: str, served: Mapping, platform: Optional[str] = None) -> Optional[str]:
    """Where the tag's answer holds `pinned`: WHOLE, the platform whose manifest it is in the index, or None.

    An index may list one manifest under several platforms: `platform`, when given and one of them, is the answer.
    """
    if pinned == served.get("digest"):
        return WHOLE
    if served.get("media_type") not in oci.INDEX_TYPES:
        return None
    platforms = served.get("platforms") or {}
    if platform is not None and platforms.get(platform) == pinned:
        return platform
    return next((p for p, d in platforms.items() if d == pinned), None)


def describe(served: Mapping) -> str:
    """`sha256:… (OCI index: linux/amd64, linux/arm64)`."""
    kind = KINDS.get(served.get("media_type"), served.get("media_type") or "manifest")
    platforms = served.get("platforms") or {}
    return f"{served.get('digest')} ({kind}{': ' + ', '.join(sorted(platforms)) if platforms else ''})"
