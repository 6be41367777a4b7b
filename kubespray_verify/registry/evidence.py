"""What the registry says about a pinned digest, asked only when the node's own evidence is not enough.

A docker node that loaded an image from a tarball holds no repo digest,
only its image ID; a docker node that pulled a multi-arch image holds the
index digest but not the platform manifest. The registry's index and
manifest documents settle both: the platform manifests inside the pinned
index, and the config digest (image ID) of each manifest.
"""

from __future__ import annotations

import threading
from typing import Optional

from kubespray_verify import errors
from kubespray_verify.nodes.evidence import registry_facts_from_documents
from kubespray_verify.model import ImageItem
from kubespray_verify.refs import parse_reference
from kubespray_verify.registry.client import RegistryClient
from kubespray_verify.registry.site import SiteSettings
from kubespray_verify.registry.tags import WHOLE, describe, pin_in_tag, resolve_tag
from kubespray_verify.verdicts.node import RegistryFacts


class RegistryEvidence:
    """Cached per (repository, digest) for the run; one client per registry."""

    def __init__(self, settings: SiteSettings):
        self._settings = settings
        self._clients: dict[str, RegistryClient] = {}
        self._documents: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def facts(self, item: ImageItem) -> tuple[Optional[RegistryFacts], Optional[str]]:
        """Registry facts for the pinned digest, or None and why they could not be had."""
        if not item.digest:
            return None, None
        ref = parse_reference(item.reference)
        key = (f"{ref.registry}/{ref.repository}", item.digest)
        with self._lock:
            if key not in self._documents:
                try:
                    self._documents[key] = self._fetch(ref.registry, ref.repository, item.digest)
                except errors.EndpointError as exc:
                    return None, f"the registry could not be asked: {exc}"
            return registry_facts_from_documents(self._documents[key]), None

    def pin_matches_tag(self, item: ImageItem) -> tuple[bool, str, str]:
        """Whether the registry's `repo:tag` is the pinned digest (or an index holding it); what it serves, in
        words and as the tag's digest."""
        ref = parse_reference(item.reference)
        served = resolve_tag(self._client(ref.registry), ref.repository, ref.tag)
        where = pin_in_tag(item.digest, served)
        tag = f"{ref.repository}:{ref.tag}"
        if where == WHOLE:
            return True, f"registry {ref.registry} serves {served['digest']} for {tag}", served["digest"]
        if where is not None:
            return True, (f"{item.digest} is the {where} manifest of {tag}'s index {served['digest']} "
                          f"in registry {ref.registry}"), served["digest"]
        return False, f"registry {ref.registry} serves {describe(served)} for {tag}", served["digest"]

    def _fetch(self, registry: str, repository: str, digest: str) -> dict[str, str]:
        client = self._client(registry)
        top = client.get_manifest(repository, digest)
        documents = {top.info.digest: top.body.decode()}
        for child in (top.json.get("manifests") or []) if top.info.is_index else []:
            if child.get("digest"):
                documents[child["digest"]] = client.get_manifest(repository, child["digest"]).body.decode()
        return documents

    def _client(self, registry: str) -> RegistryClient:
        if registry not in self._clients:
            creds = self._settings.credentials.get(registry)
            scheme = "http" if registry in self._settings.insecure else "https"
            client = RegistryClient(f"{scheme}://{registry}", credentials=creds,
                                    verify=self._settings.verify_for(registry))
            if scheme == "https":
                try:
                    client.ping()
                except errors.TLSHandshakeFailed:
                    # A registry answering plain HTTP on that port: what runtimes do for insecure registries.
                    client.close()
                    client = RegistryClient(f"http://{registry}", credentials=creds)
            self._clients[registry] = client
        return self._clients[registry]
