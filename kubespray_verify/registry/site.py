"""How the runner itself reaches the site's registries (lint, pinned-digest evidence).

What every host's mirror settings say (`resolve.host_settings`: credentials from
`containerd_registry_auth` and the mirrors' `auth`/`header`, insecure
registries, `download_validate_certs`), gathered for the runner. In memory
only: credentials never reach a cache file, a test id or a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from kubespray_verify.http.policy import Credentials
from kubespray_verify.model import ExpectedState


@dataclass
class SiteSettings:
    credentials: dict[str, Credentials] = field(default_factory=dict)  # registry host[:port] → credentials
    insecure: set[str] = field(default_factory=set)  # registries spoken to over plain HTTP or unverified TLS
    validate_certs: bool = True
    ca_bundle: Optional[str] = None

    def verify_for(self, registry: str):
        if registry in self.insecure or not self.validate_certs:
            return False
        return self.ca_bundle or True

    @classmethod
    def from_hosts(cls, hosts: Iterable, ca_bundle: Optional[str] = None) -> "SiteSettings":
        """The union of the hosts' registry access (mirrors.settings.HostSettings)."""
        site = cls(ca_bundle=ca_bundle)
        for host in hosts:
            for registry, credentials in host.registry_credentials.items():
                site.credentials.setdefault(registry, credentials)
            site.insecure |= host.insecure
            site.validate_certs = site.validate_certs and host.validate_certs
        return site


def load(state: ExpectedState, inventory: Sequence[str], kubespray_dir: Optional[str] = None,
         extra_vars: Sequence[str] = (), limit: Optional[str] = None,
         ca_bundle: Optional[str] = None) -> SiteSettings:
    from kubespray_verify.resolve import host_settings

    hosts = host_settings.resolve(state, inventory, kubespray_dir, extra_vars, limit)
    return SiteSettings.from_hosts(hosts.values(), ca_bundle)
