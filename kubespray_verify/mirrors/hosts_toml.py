"""containerd's registry hosts (`/etc/containerd/certs.d/<registry>/hosts.toml`), pure.

What containerd does with the file, and so what this module answers:

- `[host."URL"]` entries are tried in the order they stand in the file, then
  the `server` (top-level keys); without `server`, the registry itself
  (`https://<registry>`, Docker Hub's API host for `docker.io`);
- without a file for the registry, `_default/hosts.toml` applies, and
  without that, the registry itself;
- only hosts with the `resolve` capability may turn a tag into a digest;
  `pull` hosts serve content by digest; the server may do both unless its own
  `capabilities` say otherwise;
- the API root is the host URL plus `/v2`, unless `override_path = true`;
- a host other than the registry is asked with `?ns=<registry>`;
- `skip_verify`, `ca` and `header` apply per host.

Header values (Kubespray writes registry credentials there) are never kept:
only where they stand in the node's file (`HeaderRef`), so the node can read
them back itself and nothing secret leaves the node or reaches a report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:
        tomllib = None  # type: ignore[assignment]

DEFAULT_DIR = "_default"
DOCKER_HUB_API = "registry-1.docker.io"
ALL_CAPABILITIES = ("pull", "resolve", "push")

# Registries on the internet: a `server` here is a way out of an air-gapped site.
PUBLIC_REGISTRIES = frozenset({
    "docker.io", "index.docker.io", DOCKER_HUB_API, "registry.k8s.io", "k8s.gcr.io", "gcr.io", "quay.io",
    "ghcr.io", "mcr.microsoft.com", "public.ecr.aws", "registry.gitlab.com", "nvcr.io", "docker.elastic.co",
})
PUBLIC_SUFFIXES = (".gcr.io", ".pkg.dev", ".quay.io", ".docker.io")


class HostsTomlError(ValueError):
    """A hosts.toml containerd cannot use; the message names the file."""


@dataclass(frozen=True)
class HeaderRef:
    """A header value as it stands in the node's file: line number and sha256, never the value."""

    name: str
    line: int  # 1-based; 0 when the value could not be found on one line
    sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "line": self.line, "sha256": self.sha256}


@dataclass(frozen=True)
class Endpoint:
    """One place containerd may ask: a mirror (`[host]`) or the server."""

    url: str  # as configured, e.g. "http://10.0.0.2:5000"
    role: str  # "mirror" or "server"
    capabilities: tuple[str, ...] = ALL_CAPABILITIES
    skip_verify: bool = False
    ca: tuple[str, ...] = ()  # paths on the node
    headers: tuple[HeaderRef, ...] = ()
    override_path: bool = False
    implicit: bool = False  # the server containerd assumes when the file names none

    @property
    def api(self) -> str:
        """The API root requests are made under."""
        url = self.url.rstrip("/")
        return url if self.override_path else url + "/v2"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def resolves(self) -> bool:
        return "resolve" in self.capabilities

    def describe(self) -> str:
        what = "server" if self.role == "server" else "mirror"
        return f"{what} {self.url}" + (" (containerd's default)" if self.implicit else "")


@dataclass(frozen=True)
class RegistryHosts:
    """How containerd reaches one registry: its endpoints in the order it tries them."""

    registry: str
    path: Optional[str]  # the node's file, or None when no file applies
    endpoints: tuple[Endpoint, ...]

    @property
    def mirrors(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.role == "mirror")

    @property
    def server(self) -> Endpoint:
        return self.endpoints[-1]

    def source(self) -> str:
        if self.path:
            return self.path
        if self.server.implicit:
            return f"no hosts.toml for {self.registry}: containerd's default"
        return f"no hosts.toml for {self.registry} yet: the one Kubespray writes from containerd_registries_mirrors"


def default_server(registry: str) -> Endpoint:
    host = DOCKER_HUB_API if registry in ("docker.io", "index.docker.io") else registry
    return Endpoint(f"https://{host}", "server", implicit=True)


def parse(text: str, path: str, registry: str) -> RegistryHosts:
    """A hosts.toml's endpoints for `registry`. Raises HostsTomlError naming `path`."""
    if tomllib is None:
        raise HostsTomlError(f"{path}: reading hosts.toml needs Python 3.11 (tomllib) or the tomli package")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HostsTomlError(f"{path}: not valid TOML: {exc}") from None
    lines = text.splitlines()
    hosts = data.get("host", {})
    if not isinstance(hosts, Mapping):
        raise HostsTomlError(f"{path}: `host` must be a table of [host.\"URL\"] entries")
    endpoints = [_endpoint(url, body, "mirror", path, lines) for url, body in hosts.items()]
    server = data.get("server")
    if server is None:
        top = {k: v for k, v in data.items() if k not in ("host", "server")}
        implicit = default_server(registry)
        endpoints.append(_endpoint(implicit.url, top, "server", path, lines, implicit=True))
    else:
        if not isinstance(server, str) or not server.strip():
            raise HostsTomlError(f"{path}: `server` must be a URL string")
        top = {k: v for k, v in data.items() if k not in ("host", "server")}
        endpoints.append(_endpoint(server, top, "server", path, lines))
    return RegistryHosts(registry, path, tuple(endpoints))


def for_registry(files: Mapping[str, tuple[str, str]], registry: str) -> RegistryHosts:
    """The endpoints containerd uses for `registry`, given the node's hosts.toml files.

    `files` maps a certs.d directory name (`10.0.0.2:5000`, `docker.io`, `_default`)
    to (path, text). Raises HostsTomlError for a file containerd cannot read.
    """
    for name in (registry, DEFAULT_DIR):
        if name in files:
            path, text = files[name]
            return parse(text, path, registry)
    return RegistryHosts(registry, None, (default_server(registry),))


def from_inventory(entries, registry: str) -> Optional[RegistryHosts]:
    """What Kubespray writes to `<registry>/hosts.toml` from `containerd_registries_mirrors`, before it has.

    The entry whose `prefix` is the registry: its `mirrors` as hosts in order, then its `server`
    (default `https://<prefix>`). Header and auth values stay on the runner: the node is asked
    without them. None when the inventory has no entry for the registry.
    """
    for entry in entries or ():
        if not isinstance(entry, Mapping) or str(entry.get("prefix", "")) != registry:
            continue
        where = f"containerd_registries_mirrors[prefix={registry}]"
        endpoints = []
        for mirror in entry.get("mirrors") or []:
            if not isinstance(mirror, Mapping) or not mirror.get("host"):
                raise HostsTomlError(f"{where}: each of its mirrors needs a host")
            body = {k: mirror[k] for k in ("capabilities", "skip_verify", "override_path", "ca") if k in mirror}
            body.setdefault("capabilities", ["pull", "resolve"])
            if isinstance(body["capabilities"], str):
                body["capabilities"] = [body["capabilities"]]
            endpoints.append(_endpoint(str(mirror["host"]), body, "mirror", where, []))
        server = str(entry.get("server") or f"https://{registry}")
        endpoints.append(_endpoint(server, {}, "server", where, []))
        return RegistryHosts(registry, None, tuple(endpoints))
    return None


def tag_resolution(hosts: RegistryHosts) -> tuple[list[Endpoint], list[tuple[Endpoint, str]]]:
    """The endpoints containerd asks to turn a tag into a digest, in order, and those it passes over (why)."""
    tried, skipped = [], []
    for endpoint in hosts.endpoints:
        if endpoint.resolves:
            tried.append(endpoint)
        else:
            caps = ",".join(endpoint.capabilities) or "none"
            skipped.append((endpoint, f"capabilities [{caps}] lack resolve: it cannot turn a tag into a digest"))
    return tried, skipped


def is_public(host: str) -> bool:
    name = host.lower().rsplit("@", 1)[-1]
    name = name.split(":")[0] if name.count(":") == 1 else name
    return name in PUBLIC_REGISTRIES or name.endswith(PUBLIC_SUFFIXES)


def public_fallback(hosts: RegistryHosts) -> Optional[Endpoint]:
    """The server, when it is a public registry behind mirrors: an air-gapped site's way out."""
    if hosts.mirrors and is_public(hosts.server.host):
        return hosts.server
    return None


def namespace_param(endpoint: Endpoint, registry: str) -> Optional[str]:
    """containerd's `?ns=<registry>` on requests to a host other than the registry itself."""
    own = {registry, DOCKER_HUB_API} if registry in ("docker.io", "index.docker.io") else {registry}
    return None if endpoint.host in own else registry


# -- reading one entry ---------------------------------------------------------


def _endpoint(url: str, body: Any, role: str, path: str, lines: list[str], implicit: bool = False) -> Endpoint:
    where = f"{path}: " + (f'[host."{url}"]' if role == "mirror" else "server")
    if not isinstance(body, Mapping):
        raise HostsTomlError(f"{where} must be a table")
    if "://" not in url:
        url = "https://" + url  # containerd's default scheme
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HostsTomlError(f"{where}: {url!r} is not an http(s) URL")
    caps = body.get("capabilities", list(ALL_CAPABILITIES))
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise HostsTomlError(f"{where}: capabilities must be a list of strings")
    unknown = [c for c in caps if c not in ALL_CAPABILITIES]
    if unknown:
        raise HostsTomlError(f"{where}: unknown capabilities {', '.join(unknown)} (use pull, resolve, push)")
    skip = body.get("skip_verify", False)
    if not isinstance(skip, bool):
        raise HostsTomlError(f"{where}: skip_verify must be true or false")
    ca = body.get("ca", [])
    ca = [ca] if isinstance(ca, str) else ca
    if not isinstance(ca, list) or not all(isinstance(c, str) for c in ca):
        raise HostsTomlError(f"{where}: ca must be a path or a list of paths")
    override = body.get("override_path", False)
    if not isinstance(override, bool):
        raise HostsTomlError(f"{where}: override_path must be true or false")
    return Endpoint(url.rstrip("/"), role, tuple(caps), skip, tuple(ca),
                    tuple(_headers(body.get("header", {}), where, lines)), override, implicit)


def _headers(table: Any, where: str, lines: list[str]) -> list[HeaderRef]:
    if not isinstance(table, Mapping):
        raise HostsTomlError(f"{where}: header must be a table of name = value")
    refs = []
    for name, value in table.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise HostsTomlError(f"{where}: header {name} must be a string or a list of strings")
        for v in values:
            refs.append(HeaderRef(name, _line_of(v, lines), hashlib.sha256(v.encode()).hexdigest()))
    return refs


def _line_of(value: str, lines: list[str]) -> int:
    """Where `value` stands, quoted, in the file (1-based); 0 when it is not written on one line as is."""
    for quoted in (f'"{value}"', f"'{value}'"):
        for number, line in enumerate(lines, 1):
            if quoted in line:
                return number
    return 0
