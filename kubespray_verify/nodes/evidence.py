"""A node's raw probe answer → the values verdicts judge (pure).

The probe sends the runtime's own output; the parsers in `runtimes.parsers` read
it. containerd also sends the index and manifest documents of the images it
holds, which tell the platform manifests inside an index and each manifest's
config digest (the image ID) without asking the registry.
"""

from __future__ import annotations

import json
from typing import Mapping

from kubespray_verify.errors import CheckError
from kubespray_verify.runtimes.parsers import (
    NodeImage,
    parse_crictl_images,
    parse_ctr_images,
    parse_docker_inspect,
    parse_podman_images,
    parse_storage_images,
)
from kubespray_verify.verdicts.node import ObservedFile, RegistryFacts

PARSERS = {
    "ctr": parse_ctr_images,
    "docker": parse_docker_inspect,
    "crictl": parse_crictl_images,
    "podman": parse_podman_images,
    "storage": parse_storage_images,
}


def node_images(obs) -> tuple[list[NodeImage], str]:
    """The images the node's runtime holds, and a label such as "containerd (ctr)"."""
    section = obs.images or {}
    runtime = section.get("runtime") or "unknown runtime"
    source = section.get("source", "")
    label = f"{runtime} ({source})" if source else runtime
    if section.get("error"):
        raise CheckError(f"{obs.host}: cannot list images on {label}: {section['error']}")
    listing = section.get("images") or {}
    if listing.get("rc") != 0:
        detail = (listing.get("stderr") or "").strip().splitlines()
        raise CheckError(
            f"{obs.host}: cannot list images on {label}: {' '.join(listing.get('argv', []))} "
            f"exited {listing.get('rc')}: {detail[-1] if detail else 'no output'}"
        )
    parser = PARSERS.get(source)
    if parser is None:
        raise CheckError(f"{obs.host}: no reader for image lists from {label}")
    try:
        return parser(listing.get("stdout", "")), label
    except ValueError as exc:
        raise CheckError(f"{obs.host}: unreadable image list from {label}: {exc}") from None


def observed_file(obs, path: str, host: str) -> ObservedFile:
    record = obs.files.get(path)
    if record is None:
        raise CheckError(f"{host}: {path} was not observed")
    if record.get("exists") is None or record.get("error"):
        raise CheckError(f"{host}: cannot read {path}: {record.get('error', 'unknown error')}")
    if not record["exists"]:
        return ObservedFile(exists=False)
    if record.get("type") != "file":
        raise CheckError(f"{host}: {path} is a {record.get('type')}, not a file")
    return ObservedFile(exists=True, checksum=record.get("checksum"), size=record.get("size"),
                        mode=record.get("mode"), owner=record.get("owner"), memo=bool(record.get("memo")))


def registry_facts_from_documents(documents: Mapping[str, str]) -> RegistryFacts:
    """digest → index or manifest JSON text  ⇒  index children per platform, manifest config digests."""
    children: dict[str, dict[str, str]] = {}
    configs: dict[str, str] = {}
    for digest, text in documents.items():
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        if isinstance(doc.get("manifests"), list):
            platforms = {}
            for child in doc["manifests"]:
                p = child.get("platform") or {}
                if p.get("os") and p.get("architecture") and child.get("digest"):
                    key = f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant") else "")
                    platforms[key] = child["digest"]
            children[digest] = platforms
        elif isinstance(doc.get("config"), dict) and doc["config"].get("digest"):
            configs[digest] = doc["config"]["digest"]
    return RegistryFacts(children=children, configs=configs)


def registry_facts_from_blobs(obs) -> RegistryFacts:
    return registry_facts_from_documents((obs.images or {}).get("blobs") or {})
