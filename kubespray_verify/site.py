"""Site-wide settings the checks need from the inventory: registry credentials, insecure registries, TLS.

Read with ansible-core from the same inventory (Kubespray's own variable
names), on the runner, in memory only: credentials never reach a cache file,
a test id or a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from kubespray_verify import ansible_env  # noqa: F401
from kubespray_verify import ansible_inputs
from kubespray_verify.errors import InventoryError
from kubespray_verify.http import Credentials

from ansible.errors import AnsibleError  # noqa: E402
from ansible.template import Templar  # noqa: E402


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


def load(inventory: Sequence[str], extra_vars: Sequence[str] = (), limit: Optional[str] = None,
         ca_bundle: Optional[str] = None) -> SiteSettings:
    inputs = ansible_inputs.load(inventory, extra_vars, limit)
    host = inputs.hosts[0]
    raw = inputs.variables.get_vars(host=host, include_hostvars=False)
    templar = Templar(loader=inputs.loader, variables=raw)

    def var(name, default=None):
        if name not in raw:
            return default
        try:
            return templar.template(raw[name])
        except AnsibleError as exc:
            raise InventoryError(f"host {host.name}: variable {name}: {' '.join(str(exc).split())}") from None

    settings = SiteSettings(ca_bundle=ca_bundle)
    for entry in var("containerd_registry_auth", []) or []:
        if isinstance(entry, Mapping) and entry.get("registry") and entry.get("username"):
            settings.credentials[str(entry["registry"])] = Credentials(str(entry["username"]),
                                                                      str(entry.get("password", "")))
    for registry in var("docker_insecure_registries", []) or []:
        settings.insecure.add(str(registry))
    for mirror in var("containerd_registries_mirrors", []) or []:
        for endpoint in (mirror or {}).get("mirrors", []) or []:
            host_url = str(endpoint.get("host", ""))
            if host_url.startswith("http://") or endpoint.get("skip_verify"):
                settings.insecure.add(host_url.split("://", 1)[-1].rstrip("/"))
    validate = var("download_validate_certs", True)
    settings.validate_certs = not (str(validate).lower() in ("false", "no", "0", "off"))
    return settings
