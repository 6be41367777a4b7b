"""Inventory + Kubespray vars → the downloads each node needs, resolved by ansible-core itself.

Kubespray's defaults role is loaded into a play exactly as a Kubespray
playbook loads it (role defaults and role vars at their precedence), the
inventory's group_vars/host_vars and extra vars come from ansible-core's own
variable manager, and every item is templated with ansible-core's templar.
The applicability rule is the one of Kubespray's download role::

    not skip_downloads and item.enabled and (not item.container or download_container)
    and (host in item.groups or (download_run_once and host == download_delegate))

Hosts that share a profile (groups, facts, every variable but connection and
identity ones) are resolved once. If templating an item touches a host's own
identity variable, that profile falls back to one resolution per host, so the
shortcut can never change an answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from kubespray_verify.resolve import ansible_env  # noqa: F401  (must precede ansible imports)
from kubespray_verify.resolve import defaults_play
from kubespray_verify.resolve import inputs as ansible_inputs
from kubespray_verify.digests import is_unset, normalize_checksum, optional_digest
from kubespray_verify.errors import InventoryError, reports_unexpected
from kubespray_verify.resolve.tree import KubesprayTree, locate
from kubespray_verify.kubespray import KUBEADM_IMAGES, REPO_VARS
from kubespray_verify.resolve.templating import ANSIBLE_CORE_VERSION, VariablesRead, expression, missing_collection
from kubespray_verify.resolve.templating import templar as new_templar
from kubespray_verify.model import (
    DEFAULT_FACTS,
    DownloadDelegate,
    ExpectedState,
    FactsSource,
    FileItem,
    HostExpectation,
    ImageItem,
    Item,
    ItemError,
)

from ansible.errors import AnsibleError  # noqa: E402

# Kubespray's download settings beyond run_once (role defaults, download.yml): variable, field, default.
DOWNLOAD_SETTINGS = (
    ("download_localhost", "localhost", False),
    ("download_force_cache", "force_cache", False),
    ("download_cache_dir", "cache_dir", "/tmp/kubespray_cache"),
    ("download_retries", "retries", 4),
    ("download_validate_certs", "validate_certs", True),
)
from ansible.template import Templar  # noqa: E402


# Variables that differ from host to host without changing what a host needs.
# They are left out of the profile key; touching one while templating an item
# makes that profile resolve host by host.
HOST_IDENTITY_VARS = frozenset({
    "inventory_hostname", "inventory_hostname_short",
    "ansible_host", "ansible_port", "ansible_user", "ansible_connection",
    "ansible_ssh_host", "ansible_ssh_port", "ansible_ssh_user",
    "ansible_ssh_private_key_file", "ansible_private_key_file",
    "ansible_password", "ansible_ssh_pass", "ansible_become_password", "ansible_become_pass",
    "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_python_interpreter",
    "ip", "access_ip", "ip6", "access_ip6", "main_ip", "main_access_ip",
    "etcd_member_name", "node_labels", "node_taints",
})
# Magic variables the same for every host (or captured by group_names in the key).
_SHARED_MAGIC_VARS = frozenset({
    "groups", "hostvars", "omit", "playbook_dir", "play_hosts", "ansible_play_hosts",
    "ansible_play_hosts_all", "ansible_play_batch", "ansible_play_name", "ansible_play_role_names",
    "ansible_role_names", "ansible_dependent_role_names", "role_names", "inventory_dir",
    "inventory_file", "ansible_inventory_sources", "ansible_config_file", "ansible_version",
    "ansible_check_mode", "ansible_diff_mode", "ansible_forks", "ansible_verbosity",
    "ansible_run_tags", "ansible_skip_tags", "ansible_playbook_python", "ansible_search_path",
    "environment", "vars",
})



@reports_unexpected("resolving the expected state")
def resolve(
    inventory: Sequence[str],
    kubespray_dir: Optional[str] = None,
    extra_vars: Iterable[str] = (),
    limit: Optional[str] = None,
    node_facts: Optional[Mapping[str, Mapping[str, str]]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ExpectedState:
    """The expected state of every host in `inventory` (after `limit`).

    `progress(done, total)` is told of each host profile resolved (hosts alike resolve as one profile).
    """
    tree = locate(kubespray_dir, inventory)
    inputs = ansible_inputs.load(inventory, extra_vars, limit, group_mappings=tree.group_mappings)
    return Resolver(tree, inputs, node_facts or {}).run(progress)


@dataclass
class _Profile:
    hosts: list = field(default_factory=list)
    facts_source: FactsSource = "default"


class Resolver:
    def __init__(self, tree: KubesprayTree, inputs: ansible_inputs.AnsibleInputs, node_facts: Mapping):
        self.tree = tree
        self.inputs = inputs
        self.node_facts = node_facts
        self.resolutions = 0
        self._recorded: list[VariablesRead] = []  # every templar's variables, to find lookups afterwards
        try:
            self.play = defaults_play.load(tree.defaults_role, inputs.variables, inputs.loader)
        except AnsibleError as exc:
            raise InventoryError(f"Kubespray role {tree.defaults_role}: {ansible_inputs.first_lines(exc)}") from None

    # -- the whole run -------------------------------------------------------

    def prepare(self, extra_facts: Optional[Mapping[str, Mapping[str, str]]] = None) -> list[tuple]:
        """Give every host its facts; → (host, inventory vars, facts, facts source) per host.

        `extra_facts` adds facts by host, named as the setup module names them (`ansible_distribution`...).
        """
        seen = []
        for host in self.inputs.hosts:
            inv_vars = self._inventory_vars(host)
            facts, source = self._facts_for(host.name, inv_vars)
            # As the setup module reports them: prefixed, so that both ansible_facts['architecture']
            # and the injected ansible_architecture exist.
            injected = {f"ansible_{k}": v for k, v in facts.items()}
            injected.update((extra_facts or {}).get(host.name, {}))
            self.inputs.variables.set_host_facts(host.name, injected)
            seen.append((host, inv_vars, facts, source))
        return seen

    def templar(self, host) -> tuple[Templar, VariablesRead]:
        """A templar over everything `host` sees (after `prepare`), and the record of the names it looked up."""
        return self._templar(host)

    def profile_key(self, host, inv_vars: Mapping, facts: Mapping, is_delegate: bool = False) -> str:
        """Hosts with the same key resolve alike unless templating touches HOST_IDENTITY_VARS."""
        return self._profile_key(host, inv_vars, facts, is_delegate)

    def run(self, progress: Optional[Callable[[int, int], None]] = None) -> ExpectedState:
        seen = self.prepare()

        delegate = self._delegate()
        profiles: dict[str, _Profile] = {}
        for host, inv_vars, facts, source in seen:
            key = self._profile_key(host, inv_vars, facts, delegate.host == host.name)
            profiles.setdefault(key, _Profile(facts_source=source)).hosts.append(host)

        results: dict[str, HostExpectation] = {}
        for done, profile in enumerate(profiles.values()):
            if progress is not None:
                progress(done, len(profiles))
            for host, expectation in self._resolve_profile(profile, delegate):
                results[host.name] = expectation
        if progress is not None:
            progress(len(profiles), len(profiles))
        ordered = {h.name: results[h.name] for h in self.inputs.hosts}
        state = ExpectedState(
            kubespray_dir=str(self.tree.root),
            kubespray_version=self.tree.version,
            hosts=ordered,
            download=delegate,
            notes=self._notes(),
            resolutions=self.resolutions,
            pulls_by_digest=self._pulls_by_digest(),
        )
        state.outside_input = self._outside_input()
        if state.outside_input:
            state.notes.append(f"not cached: {state.outside_input}, whose answer can change while the "
                               "inventory does not")
        return state

    def _outside_input(self) -> Optional[str]:
        """The first variable the resolution read that looks outside the inventory (an env, file,
        password or pipe lookup; `now()`), or None."""
        for recorded in self._recorded:
            for name in sorted(recorded.seen):
                found = _outside_lookup(recorded.raw(name))
                if found:
                    return f"variable {name} uses {found}"
        return None

    def _pulls_by_digest(self) -> Optional[bool]:
        """True when the tree's container items carry their digest under `sha256:` (the key Kubespray pulls by)."""
        templar, recorded = self._templar(self.inputs.hosts[0])
        downloads = recorded.get("downloads")
        if not isinstance(downloads, Mapping):
            return None
        keys = {k for item in downloads.values() if isinstance(item, Mapping) and "repo" in item for k in item}
        if "sha256" in keys:
            return True
        return False if "checksum" in keys else None

    def _notes(self) -> list[str]:
        notes = []
        wanted = self.tree.ansible_core_required
        running = ".".join(ANSIBLE_CORE_VERSION.split(".")[:2])
        if wanted and wanted != running:
            notes.append(
                f"resolved with ansible-core {ANSIBLE_CORE_VERSION}; this Kubespray asks for ansible-core {wanted}: "
                "Kubespray's own playbooks need that version (the expected state is the same under 2.15 to 2.19)"
            )
        return notes

    # -- per host inputs -----------------------------------------------------

    def _inventory_vars(self, host) -> dict:
        try:
            return self.inputs.variables.get_vars(host=host, include_hostvars=False)
        except AnsibleError as exc:
            raise InventoryError(f"host {host.name}: {ansible_inputs.first_lines(exc)}") from None

    def _facts_for(self, host: str, inv_vars: Mapping) -> tuple[dict, FactsSource]:
        given = inv_vars.get("ansible_facts") if isinstance(inv_vars.get("ansible_facts"), Mapping) else {}
        arch = given.get("architecture") or inv_vars.get("ansible_architecture")
        system = given.get("system") or inv_vars.get("ansible_system")
        if arch:
            return {"architecture": str(arch), "system": str(system or "Linux")}, "inventory"
        observed = self.node_facts.get(host)
        if observed and observed.get("architecture"):
            return {"architecture": observed["architecture"], "system": observed.get("system", "Linux")}, "node"
        return dict(DEFAULT_FACTS), "default"

    def _profile_key(self, host, inv_vars: Mapping, facts: Mapping, is_delegate: bool) -> str:
        kept = {
            k: v for k, v in inv_vars.items()
            if k not in HOST_IDENTITY_VARS and k not in _SHARED_MAGIC_VARS
        }
        kept["__facts__"] = facts
        kept["__download_delegate__"] = is_delegate
        kept["group_names"] = sorted(g.name for g in host.get_groups())
        # Which identity variables the host defines (not their values): a template reading one that some hosts
        # lack is then read alike by every host of the profile, defined or not.
        kept["__identity_defined__"] = sorted(k for k in inv_vars if k in HOST_IDENTITY_VARS)
        blob = json.dumps(kept, sort_keys=True, default=_stable)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _delegate(self) -> DownloadDelegate:
        host = self.inputs.hosts[0]
        templar = self._templar(host)[0]
        name = "download_run_once"
        try:
            run_once = truthy(templar.template(expression("{{ download_run_once | default(false) }}")))
            settings = {}
            for name, key, default in DOWNLOAD_SETTINGS:
                value = templar.template(expression("{{ %s | default(%r) }}" % (name, default)))
                settings[key] = truthy(value) if isinstance(default, bool) else \
                    int(value) if isinstance(default, int) else str(value).strip()
            name = "download_delegate"
            try:
                delegate = str(templar.template(expression("{{ download_delegate }}"))).strip() or None
            except AnsibleError:
                if run_once or settings["force_cache"]:
                    raise
                delegate = None  # no kube_control_plane host: only run_once and force_cache need one
        except (AnsibleError, ValueError) as exc:
            raise InventoryError(f"{name}: {ansible_inputs.first_lines(exc) if isinstance(exc, AnsibleError) else exc}") from None
        return DownloadDelegate(run_once, delegate if run_once else None, delegate_host=delegate, **settings)

    # -- templating ----------------------------------------------------------

    def _templar(self, host) -> tuple[Templar, VariablesRead]:
        try:
            all_vars = self.inputs.variables.get_vars(play=self.play, host=host)
        except AnsibleError as exc:
            raise InventoryError(f"host {host.name}: {ansible_inputs.first_lines(exc)}") from None
        return new_templar(self.inputs.loader, all_vars)

    def _resolve_profile(self, profile: _Profile, delegate: DownloadDelegate):
        first = profile.hosts[0]
        expectation, touched = self._resolve_host(first, profile.facts_source, delegate)
        if touched & HOST_IDENTITY_VARS:
            yield first, expectation
            for host in profile.hosts[1:]:
                yield host, self._resolve_host(host, profile.facts_source, delegate)[0]
            return
        for host in profile.hosts:
            yield host, HostExpectation(
                host=host.name,
                arch=expectation.arch,
                facts_source=expectation.facts_source,
                items=list(expectation.items),
                errors=list(expectation.errors),
                container_manager=expectation.container_manager,
                bin_dir=expectation.bin_dir,
                containerd_cfg_dir=expectation.containerd_cfg_dir,
                mirror_vars=expectation.mirror_vars,
            )

    def _resolve_host(self, host, facts_source: FactsSource, delegate: DownloadDelegate):
        self.resolutions += 1
        templar, recorded = self._templar(host)
        self._recorded.append(recorded)
        group_names = {g.name for g in host.get_groups()}
        is_delegate = delegate.run_once and delegate.host == host.name
        items: list[Item] = []
        errors: list[ItemError] = []

        def tmpl(value: Any) -> Any:
            return templar.template(value)

        def expr(text: str) -> Any:
            return templar.template(expression(text))

        try:
            arch = str(expr("{{ image_arch }}"))
        except AnsibleError as exc:
            arch = "unknown"
            errors.append(ItemError("image_arch", explain(exc)))
        context = {}
        for var, default in (("container_manager", ""), ("bin_dir", ""), ("containerd_cfg_dir", "/etc/containerd")):
            try:
                context[var] = str(expr("{{ %s%s }}" % (var, f" | default('{default}')" if default else "")))
            except AnsibleError as exc:
                context[var] = None
                errors.append(ItemError(var, explain(exc)))
        try:
            switches = {
                name: truthy(expr("{{ %s | default(%s) }}" % (name, default)))
                for name, default in (("skip_downloads", "false"), ("download_container", "true"),
                                      ("skip_kubeadm_images", "false"))
            }
        except AnsibleError as exc:
            raise InventoryError(f"host {host.name}: {explain(exc)}") from None
        context["mirror_vars"] = _set_vars(tmpl, recorded, REPO_VARS)
        if switches["skip_downloads"]:
            return HostExpectation(host.name, arch, facts_source, [], errors, **context), recorded.seen

        downloads = recorded.get("downloads")
        if not isinstance(downloads, Mapping):
            raise InventoryError(f"host {host.name}: variable 'downloads' is not a mapping of download items")
        try:
            defaults = tmpl(recorded.get("download_defaults") or {})
        except AnsibleError as exc:
            raise InventoryError(f"host {host.name}: download_defaults: {explain(exc)}") from None
        if not isinstance(defaults, Mapping):
            raise InventoryError(f"host {host.name}: variable 'download_defaults' is not a mapping")

        for name, raw in downloads.items():
            try:
                built = self._item(name, raw, defaults, tmpl, group_names, is_delegate, switches)
            except AnsibleError as exc:
                errors.append(ItemError(name, explain(exc)))
                continue
            except ValueError as exc:
                errors.append(ItemError(name, str(exc)))
                continue
            if built is not None:
                items.append(built)

        if switches["download_container"] and not switches["skip_kubeadm_images"]:
            try:
                items.extend(self._kubeadm_images(expr, group_names, is_delegate))
            except AnsibleError as exc:
                errors.append(ItemError("kubeadm_images", explain(exc)))
        return HostExpectation(host.name, arch, facts_source, items, errors, **context), recorded.seen

    def _item(self, name, raw, defaults, tmpl, group_names, is_delegate, switches) -> Optional[Item]:
        if not isinstance(raw, Mapping):
            raise ValueError(f"downloads.{name} is not a mapping")
        groups = _as_groups(tmpl(raw.get("groups", defaults.get("groups", []))))
        in_groups = bool(group_names.intersection(groups))
        if not (in_groups or is_delegate):
            return None
        if not truthy(tmpl(raw.get("enabled", False))):
            return None
        container = truthy(tmpl(raw.get("container", False)))
        if container and not switches["download_container"]:
            return None
        item = dict(defaults)
        item.update(tmpl(dict(raw)))
        via_delegate = not in_groups
        if container:
            return ImageItem(
                name=name,
                repo=str(_field(item, name, "repo")),
                tag=str(_field(item, name, "tag")),
                digest=optional_digest(_checksum_field(item)),
                groups=tuple(groups),
                delegate=via_delegate,
            )
        if not truthy(item.get("file", False)):
            return None
        return FileItem(
            name=name,
            url=str(_field(item, name, "url")),
            dest=str(_field(item, name, "dest")),
            checksum=normalize_checksum(_checksum_field(item), default_algo="sha256" if "sha256" in item else None),
            unarchive=truthy(item.get("unarchive", False)),
            owner=str(item.get("owner")),
            mode=_mode(item.get("mode")),
            groups=tuple(groups),
            delegate=via_delegate,
        )

    def _kubeadm_images(self, expr, group_names, is_delegate) -> list[ImageItem]:
        """What `kubeadm config images list` gives for Kubespray's kubeadm-images config, minus coredns and pause."""
        groups = ("k8s_cluster",)
        in_groups = "k8s_cluster" in group_names
        if not (in_groups or is_delegate):
            return []
        repo = str(expr("{{ kubeadm_image_repo | default(kube_image_repo) }}")).rstrip("/")
        version = str(expr("{{ kube_version }}"))
        tag = version if version.startswith("v") else f"v{version}"
        images = [
            ImageItem(f"kubeadm_{image}", f"{repo}/{image}", tag, None, groups, delegate=not in_groups)
            for image in KUBEADM_IMAGES
        ]
        if str(expr("{{ etcd_deployment_type }}")) == "kubeadm":
            etcd_base = re.sub(r"/etcd$", "", str(expr("{{ etcd_image_repo }}")))
            images.append(ImageItem(
                "kubeadm_etcd", f"{etcd_base}/etcd", str(expr("{{ etcd_image_tag }}")), None, groups,
                delegate=not in_groups,
            ))
        return images


# Lookups whose answer depends only on the variables (the rest read the environment, files, commands...).
PURE_LOOKUPS = frozenset({"vars", "varnames", "items", "list", "dict", "indexed_items", "nested",
                          "subelements", "together", "sequence", "flattened"})
_LOOKUP_CALL = re.compile(r"""\b(?:lookup|query|q)\s*\(\s*['"]([\w.]+)['"]|\b(now)\s*\(""")


def _outside_lookup(value: Any, depth: int = 0) -> Optional[str]:
    """`lookup('env')` (or `now()`) when a raw variable value calls one that reads outside the variables."""
    if isinstance(value, str):
        if "(" not in value:
            return None
        for m in _LOOKUP_CALL.finditer(value):
            plugin = m.group(1)
            if m.group(2):
                return "now()"
            if plugin.rsplit(".", 1)[-1] not in PURE_LOOKUPS:
                return f"lookup('{plugin}')"
        return None
    if depth > 20:
        return None
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for element in value:
            found = _outside_lookup(element, depth + 1)
            if found:
                return found
    return None


def _set_vars(tmpl, recorded: VariablesRead, names: Iterable[str]) -> tuple[str, ...]:
    """The variables among `names` that are defined and not empty (one that does not template counts as set)."""
    found = []
    for name in names:
        if name not in recorded:
            continue
        try:
            value = tmpl(recorded[name])
        except AnsibleError:
            found.append(name)
            continue
        if not is_unset(value):
            found.append(name)
    return tuple(found)


def _field(item: Mapping, name: str, key: str) -> Any:
    """A field every item of its kind has; one missing is that item's error."""
    if key not in item:
        raise ValueError(f"downloads.{name} has no {key}")
    return item[key]


def _checksum_field(item: Mapping) -> Any:
    """`checksum:` from v2.28, `sha256:` before."""
    value = item.get("checksum")
    if is_unset(value):
        value = item.get("sha256")
    return value


def _as_groups(value: Any) -> list[str]:
    """Item groups; a plain string is one group (Kubespray v2.26 wrote kubeadm images' groups so)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def truthy(value: Any) -> bool:
    """Ansible's reading of a templated boolean (`bool` filter semantics)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in ("yes", "on", "1", "true", "y", "t")


def _mode(value: Any) -> Optional[str]:
    if is_unset(value):
        return None
    if isinstance(value, int):
        # A bare YAML integer (`mode: 755`) reaches Ansible as decimal 755, i.e. 0o1363.
        return format(value, "04o")
    return str(value)


def explain(exc: AnsibleError) -> str:
    """One line for a templating error: which collection to install when a plugin of one is missing, else
    ansible-core's own words (each sentence once: some versions repeat the cause)."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    missing = missing_collection(text)
    if missing:
        return missing
    sentences: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if not any(sentence.rstrip(".") in kept for kept in sentences):
            sentences.append(sentence)
    return " ".join(sentences)


# A vaulted value: AnsibleVaultEncryptedUnicode up to ansible-core 2.18, EncryptedString from 2.19.
_VAULTED_TYPES = ("AnsibleVaultEncryptedUnicode", "EncryptedString")


def _stable(value: Any) -> Any:
    if type(value).__name__ in _VAULTED_TYPES:  # its ciphertext, never the secret
        ciphertext = value._ciphertext
        return {"vault": ciphertext.decode() if isinstance(ciphertext, bytes) else str(ciphertext)}
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(map(str, value))
    return repr(value)
