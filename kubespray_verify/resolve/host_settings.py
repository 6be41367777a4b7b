"""Each host's mirror settings, read from the inventory with ansible-core, in memory only.

Proxies (`http_proxy`, `https_proxy`, `no_proxy`), `download_validate_certs`,
the offline repo variables, `pyrepo_cert`, the registries' insecure lists and
mirrors, and credentials (`containerd_registry_auth`, the `auth`/`header` of
`containerd_registries_mirrors`, a download item's `username`/`password`),
templated exactly as Kubespray's play would (role defaults, group_vars,
host_vars, extra vars, facts). Hosts that share a profile are templated once.

Credentials live only in the returned objects: never in a cache file, a test
id, a message or a report.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from kubespray_verify.resolve import ansible_env  # noqa: F401  (must precede ansible imports)
from kubespray_verify.resolve import inputs as ansible_inputs
from kubespray_verify.errors import InventoryError, reports_unexpected
from kubespray_verify.resolve.expected import HOST_IDENTITY_VARS, Resolver, explain, truthy
from kubespray_verify.http.policy import Credentials, ProxySettings
from kubespray_verify.resolve.tree import locate
from kubespray_verify.kubespray import DEFAULT_CERTS_DIR, REPO_VARS, OsFacts, facts_from_os_release
from kubespray_verify.model import ExpectedState, FileItem

from ansible.errors import AnsibleError  # noqa: E402

SCALARS = ("http_proxy", "https_proxy", "no_proxy", "additional_no_proxy", "download_validate_certs",
           "pyrepo_cert", "containerd_cfg_dir", *REPO_VARS)
LISTS = ("docker_insecure_registries", "docker_registry_mirrors", "crio_insecure_registries", "crio_registries",
         "containerd_registry_auth", "containerd_registries_mirrors")
OS_FACT_VARS = {"distribution": "ansible_distribution", "os_family": "ansible_os_family",
                "release": "ansible_distribution_release", "major_version": "ansible_distribution_major_version"}


@dataclass
class HostSettings:
    host: str
    facts: OsFacts
    container_manager: Optional[str] = None
    proxies: ProxySettings = field(default_factory=ProxySettings)
    validate_certs: bool = True
    repos: dict[str, str] = field(default_factory=dict)  # repo var → URL (credentials possibly inside)
    errors: dict[str, str] = field(default_factory=dict)  # variable → why it does not template
    pyrepo_cert: Optional[str] = None
    certs_dir: str = DEFAULT_CERTS_DIR  # containerd's config_path
    docker_insecure: tuple[str, ...] = ()
    docker_mirrors: tuple[str, ...] = ()
    crio_insecure: tuple[str, ...] = ()
    crio_registries: tuple[Mapping, ...] = ()
    containerd_mirrors: tuple[Mapping, ...] = ()  # containerd_registries_mirrors (auth inside: runner only)
    registry_credentials: dict[str, Credentials] = field(default_factory=dict)  # host[:port] → credentials
    insecure: set[str] = field(default_factory=set)  # registries reached over plain HTTP or unverified TLS
    file_credentials: dict[str, Credentials] = field(default_factory=dict)  # download item → its username/password

    def __repr__(self) -> str:
        return f"HostSettings({self.host!r}, <settings hidden>)"


@reports_unexpected("reading the hosts' mirror settings")
def resolve(
    state: ExpectedState,
    inventory: Sequence[str],
    kubespray_dir: Optional[str] = None,
    extra_vars: Sequence[str] = (),
    limit: Optional[str] = None,
    node_os: Optional[Mapping[str, str]] = None,  # host → the node's /etc/os-release text
) -> dict[str, HostSettings]:
    """Every host of `state`, templated with its facts (the architecture `state` was resolved with)."""
    node_os = node_os or {}
    tree = locate(kubespray_dir, inventory)
    inputs = ansible_inputs.load(inventory, extra_vars, limit)
    arch_facts = {h: {"architecture": _machine(e.arch), "system": "Linux"} for h, e in state.hosts.items()}
    resolver = Resolver(tree, inputs, arch_facts)
    os_by_host: dict[str, OsFacts] = {}
    for host in inputs.hosts:
        inv_vars = inputs.variables.get_vars(host=host, include_hostvars=False)
        arch = str(arch_facts.get(host.name, {}).get("architecture", "x86_64"))
        os_by_host[host.name] = os_facts(inv_vars, node_os.get(host.name), arch)
    extra = {h: {v: getattr(f, k) for k, v in OS_FACT_VARS.items() if getattr(f, k)} for h, f in os_by_host.items()}
    seen = resolver.prepare(extra)
    generated_no_proxy = _generated_no_proxy(inputs)

    results: dict[str, HostSettings] = {}
    shared: dict[str, tuple[dict, dict]] = {}
    for host, inv_vars, facts, _source in seen:
        exp = state.hosts.get(host.name)
        if exp is None:
            continue
        key = resolver.profile_key(host, inv_vars, {**facts, **extra.get(host.name, {})})
        files = tuple(sorted(i.name for i in exp.items if isinstance(i, FileItem)))
        cache_key = f"{key}/{files}"
        if cache_key in shared:
            values, problems = shared[cache_key]
        else:
            templar, recorded = resolver.templar(host)
            values, problems = _template_all(templar, recorded, files)
            if not recorded.seen & HOST_IDENTITY_VARS:
                shared[cache_key] = (values, problems)
        results[host.name] = _settings(host.name, exp.container_manager, os_by_host[host.name], values, problems,
                                       generated_no_proxy)
    return results


def os_facts(inv_vars: Mapping, os_release: Optional[str], architecture: str) -> OsFacts:
    """The host's distribution facts: the inventory's when it gives them, else the node's os-release."""
    given = inv_vars.get("ansible_facts") if isinstance(inv_vars.get("ansible_facts"), Mapping) else {}
    from_inventory = {}
    for key, var in OS_FACT_VARS.items():
        value = inv_vars.get(var) or given.get(var[len("ansible_"):])
        if value:
            from_inventory[key] = str(value)
    if from_inventory:
        return OsFacts(architecture=architecture, source="inventory", **from_inventory)
    if os_release:
        return facts_from_os_release(os_release, architecture)
    return OsFacts(architecture=architecture)


# -- templating --------------------------------------------------------------------


def _template_all(templar, recorded, files: tuple[str, ...]) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in SCALARS + LISTS:
        if name not in recorded:
            continue
        try:
            values[name] = templar.template(recorded[name])
        except AnsibleError as exc:
            problems[name] = explain(exc)
    downloads = recorded.get("downloads") if "downloads" in recorded else None
    for item in files:
        raw = downloads.get(item) if isinstance(downloads, Mapping) else None
        if not isinstance(raw, Mapping) or not ({"username", "password"} & set(raw)):
            continue
        try:
            values[f"file_credentials/{item}"] = (str(templar.template(raw.get("username", ""))),
                                                   str(templar.template(raw.get("password", ""))))
        except AnsibleError as exc:
            problems[f"downloads.{item}.username/password"] = explain(exc)
    return values, problems


def _settings(host: str, manager: Optional[str], facts: OsFacts, values: Mapping, problems: Mapping,
              generated_no_proxy: str) -> HostSettings:
    def text(name: str) -> str:
        value = values.get(name)
        return "" if value is None else str(value).strip()

    def items(name: str) -> list:
        value = values.get(name)
        if value in (None, ""):
            return []
        if not isinstance(value, (list, tuple)):
            raise InventoryError(f"host {host}: variable {name} must be a list, not {_kind(value)}")
        return list(value)

    no_proxy = text("no_proxy")
    if not no_proxy and (text("http_proxy") or text("https_proxy")):
        # Kubespray's no_proxy task builds it from the inventory when the inventory gives none.
        no_proxy = generated_no_proxy
    if text("additional_no_proxy"):
        no_proxy = ",".join(p for p in (no_proxy, text("additional_no_proxy")) if p)
    settings = HostSettings(
        host=host,
        facts=facts,
        container_manager=manager,
        proxies=ProxySettings(text("http_proxy") or None, text("https_proxy") or None, no_proxy),
        validate_certs=truthy(values.get("download_validate_certs", True)),
        repos={v: text(v) for v in REPO_VARS if text(v) and text(v) not in ("None", "none")},
        errors=dict(problems),
        pyrepo_cert=text("pyrepo_cert") or None,
        certs_dir=(text("containerd_cfg_dir") or "/etc/containerd").rstrip("/") + "/certs.d",
        docker_insecure=tuple(str(r) for r in items("docker_insecure_registries")),
        docker_mirrors=tuple(str(r) for r in items("docker_registry_mirrors")),
        crio_insecure=tuple(str(r) for r in items("crio_insecure_registries")),
        crio_registries=tuple(r for r in items("crio_registries") if isinstance(r, Mapping)),
        containerd_mirrors=tuple(r for r in items("containerd_registries_mirrors") if isinstance(r, Mapping)),
    )
    for key, value in values.items():
        if key.startswith("file_credentials/") and value[0]:
            settings.file_credentials[key.split("/", 1)[1]] = Credentials(*value)
    _registry_access(settings, items("containerd_registry_auth"), items("containerd_registries_mirrors"))
    return settings


def _registry_access(settings: HostSettings, auth: list, mirrors: list) -> None:
    for entry in auth:
        if isinstance(entry, Mapping) and entry.get("registry") and entry.get("username"):
            settings.registry_credentials.setdefault(
                str(entry["registry"]), Credentials(str(entry["username"]), str(entry.get("password", ""))))
    for registry in settings.docker_insecure + settings.crio_insecure:
        settings.insecure.add(registry)
    for mirror in mirrors:
        if not isinstance(mirror, Mapping):
            continue
        for endpoint in mirror.get("mirrors") or []:
            if not isinstance(endpoint, Mapping):
                continue
            url = str(endpoint.get("host", ""))
            host = url.split("://", 1)[-1].rstrip("/")
            if url.startswith("http://") or endpoint.get("skip_verify"):
                settings.insecure.add(host)
            creds = _mirror_credentials(endpoint)
            if creds and host:
                settings.registry_credentials.setdefault(host, creds)


def _mirror_credentials(endpoint: Mapping) -> Optional[Credentials]:
    auth = endpoint.get("auth")
    if isinstance(auth, Mapping) and auth.get("username"):
        return Credentials(str(auth["username"]), str(auth.get("password", "")))
    header = endpoint.get("header")
    if isinstance(header, Mapping):
        for name, value in header.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if str(name).lower() == "authorization" and str(v).lower().startswith("basic "):
                    try:
                        user, _, password = base64.b64decode(str(v)[6:].strip()).decode().partition(":")
                    except (ValueError, UnicodeDecodeError):
                        continue
                    return Credentials(user, password)
    return None


def _generated_no_proxy(inputs) -> str:
    """Kubespray's generated no_proxy, the part a mirror can hit: every host's name and address, and loopback."""
    entries: list[str] = []
    for host in inputs.hosts:
        host_vars = host.get_vars()
        for name in ("access_ip", "ip", "ansible_host"):
            if host_vars.get(name):
                entries.append(str(host_vars[name]))
                break
        entries.append(host.name)
    entries += ["127.0.0.1", "localhost"]
    return ",".join(dict.fromkeys(entries))


_MACHINES = {"amd64": "x86_64", "arm64": "aarch64", "arm": "armv7l", "ppc64le": "ppc64le", "s390x": "s390x"}


def _machine(image_arch: str) -> str:
    """Kubespray's image_arch back to the machine name facts carry."""
    return _MACHINES.get(image_arch, image_arch or "x86_64")


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}"
