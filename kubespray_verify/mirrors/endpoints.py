"""Where an image is asked for, in the order it is asked: the runner's view and each runtime's (pure).

- runner: the image's registry itself, over HTTPS verified against the
  `--registry-ca` bundle (or the system trust store); a registry the
  inventory calls insecure (`docker_insecure_registries`, a containerd
  mirror over `http://` or with `skip_verify`) is tried over unverified
  HTTPS, then plain HTTP, as docker does;
- containerd: the node's hosts.toml (see `hosts_toml`): its hosts in order,
  then its server; only `resolve` hosts are asked for a tag;
- docker: `docker_registry_mirrors` first for docker.io, then the registry;
  `docker_insecure_registries` (names or CIDRs) as above; CA files from
  `/etc/docker/certs.d/<registry>/`;
- cri-o: `crio_registries` (mirrors, then location) and
  `crio_insecure_registries`; CA files from `/etc/containers/certs.d/<registry>/`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

from kubespray_verify.http.policy import Credentials, ProxySettings
from kubespray_verify.mirrors import hosts_toml
from kubespray_verify.mirrors.hosts_toml import HeaderRef, RegistryHosts

Verify = Union[bool, str]
INSECURE_TLS = "insecure-tls"  # the role of the unverified HTTPS try before plain HTTP


@dataclass(frozen=True)
class Endpoint:
    api: str  # API root, e.g. "http://10.0.0.2:5000/v2"
    role: str  # registry | mirror | server
    label: str  # how the verdict names it
    verify: Verify = True  # runner: True, False or a CA bundle; node: see ca_files / skip_verify
    skip_verify: bool = False
    ca_files: tuple[str, ...] = ()  # node paths, used when they exist
    headers: tuple[tuple[str, HeaderRef], ...] = ()  # (node file, header) pairs, read back on the node
    ns: Optional[str] = None
    credentials: Optional[Credentials] = field(default=None, compare=True)  # runner only

    def node_json(self) -> dict:
        return {
            "api": self.api, "role": self.role, "ns": self.ns,
            "verify": {"mode": "none" if self.skip_verify else "system", "ca": list(self.ca_files)},
            "headers": [dict(ref.to_json(), path=path) for path, ref in self.headers],
        }


@dataclass(frozen=True)
class Route:
    """How one vantage point reaches one registry."""

    registry: str
    source: str  # what decided the order: a hosts.toml path, an inventory variable, a default
    endpoints: tuple[Endpoint, ...] = ()
    passed_over: tuple[tuple[str, str], ...] = ()  # (endpoint label, why it is not asked for a tag)
    public_fallback: Optional[str] = None  # the server, when it is a public registry behind mirrors
    error: Optional[str] = None  # the config cannot be used (a hosts.toml containerd cannot read)
    proxies: ProxySettings = field(default_factory=ProxySettings)


def is_insecure(registry: str, listed) -> bool:
    """`registry` is in `listed`, by name or (docker) by CIDR of its address."""
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    for entry in listed:
        entry = str(entry).strip().split("://", 1)[-1].rstrip("/")
        if entry in (registry, host):
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def api_host(registry: str) -> str:
    return hosts_toml.DOCKER_HUB_API if registry in ("docker.io", "index.docker.io") else registry


def _direct(registry: str, insecure: bool, role: str = "registry", verify: Verify = True,
            ca_files: tuple[str, ...] = (), credentials: Optional[Credentials] = None) -> list[Endpoint]:
    host = api_host(registry)
    if insecure:
        # As docker and cri-o do: HTTPS without verification first, then plain HTTP. A plain-HTTP
        # registry fails the first at the TLS handshake, which is not worth a word when the second answers.
        return [Endpoint(f"https://{host}/v2", INSECURE_TLS, f"https://{host} (unverified TLS)", False, True,
                         credentials=credentials),
                Endpoint(f"http://{host}/v2", role, f"http://{host}", False, True, credentials=credentials)]
    return [Endpoint(f"https://{host}/v2", role, f"https://{host}", verify, False, ca_files, credentials=credentials)]


def runner_route(registry: str, insecure: set[str], credentials: Optional[Credentials], ca_bundle: Optional[str],
                 proxies: ProxySettings) -> Route:
    unsafe = is_insecure(registry, insecure)
    source = "insecure in the inventory" if unsafe else f"HTTPS, trusting {'CA ' + ca_bundle if ca_bundle else 'the system trust store'}"
    return Route(registry, source, tuple(_direct(registry, unsafe, verify=ca_bundle or True, credentials=credentials)),
                 proxies=proxies)


def containerd_route(registry: str, files: Mapping[str, tuple[str, str]], proxies: ProxySettings,
                     inventory_mirrors=()) -> Route:
    """`files`: the node's certs.d directory name → (path, text). Where the node has no file for the
    registry yet (before Kubespray's first run), the one Kubespray will write from `inventory_mirrors`
    (`containerd_registries_mirrors`)."""
    try:
        hosts = hosts_toml.for_registry(files, registry)
        if hosts.path is None:
            hosts = hosts_toml.from_inventory(inventory_mirrors, registry) or hosts
    except hosts_toml.HostsTomlError as exc:
        return Route(registry, "hosts.toml", error=f"containerd cannot use {exc}", proxies=proxies)
    tried, skipped = hosts_toml.tag_resolution(hosts)
    endpoints = tuple(_from_hosts(e, hosts, registry) for e in tried)
    fallback = hosts_toml.public_fallback(hosts)
    return Route(registry, hosts.source(), endpoints, tuple((e.describe(), why) for e, why in skipped),
                 fallback.describe() if fallback else None, proxies=proxies)


def _from_hosts(endpoint: hosts_toml.Endpoint, hosts: RegistryHosts, registry: str) -> Endpoint:
    return Endpoint(
        endpoint.api, endpoint.role, endpoint.describe(), not endpoint.skip_verify, endpoint.skip_verify,
        endpoint.ca, tuple((hosts.path, ref) for ref in endpoint.headers if hosts.path),
        hosts_toml.namespace_param(endpoint, registry),
    )


def docker_route(registry: str, insecure: tuple[str, ...], mirrors: tuple[str, ...], proxies: ProxySettings) -> Route:
    endpoints: list[Endpoint] = []
    if registry in ("docker.io", "index.docker.io"):
        for url in mirrors:
            url = url.rstrip("/")
            endpoints.append(Endpoint(url + "/v2", "mirror", f"mirror {url} (docker_registry_mirrors)",
                                      ca_files=(f"/etc/docker/certs.d/{url.split('://', 1)[-1]}/ca.crt",)))
    unsafe = is_insecure(registry, insecure)
    endpoints += _direct(registry, unsafe, ca_files=(f"/etc/docker/certs.d/{registry}/ca.crt",))
    source = "docker_insecure_registries" if unsafe else "docker's default (HTTPS)"
    return Route(registry, source, tuple(endpoints), proxies=proxies)


def crio_route(registry: str, registries: tuple[Mapping, ...], insecure: tuple[str, ...],
               proxies: ProxySettings) -> Route:
    entry = next((r for r in registries if str(r.get("prefix") or r.get("location") or "") == registry), None)
    endpoints: list[Endpoint] = []
    source = "cri-o's default (HTTPS)"
    location = registry
    unsafe = is_insecure(registry, insecure)
    if entry is not None:
        source = "crio_registries"
        location = str(entry.get("location") or registry)
        unsafe = unsafe or bool(entry.get("insecure"))
        for mirror in entry.get("mirrors") or []:
            where = str(mirror.get("location", "")).strip()
            if not where:
                continue
            for e in _direct(where, bool(mirror.get("insecure")), role="mirror",
                             ca_files=(f"/etc/containers/certs.d/{where}/ca.crt",)):
                endpoints.append(Endpoint(e.api, e.role, f"mirror {e.label} (crio_registries)", e.verify,
                                          e.skip_verify, e.ca_files))
    elif unsafe:
        source = "crio_insecure_registries"
    endpoints += _direct(location, unsafe, ca_files=(f"/etc/containers/certs.d/{location}/ca.crt",))
    return Route(registry, source, tuple(endpoints), proxies=proxies)
