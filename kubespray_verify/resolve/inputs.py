"""The inputs Ansible would see: inventory (with Kubespray's derived groups), extra vars, limit.

Everything is loaded with ansible-core's own classes, so precedence,
group_vars/host_vars beside the inventory, INI and YAML inventories, and host
patterns behave exactly as in `ansible-playbook -i ... -e ... --limit ...`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from kubespray_verify.resolve import ansible_env  # noqa: F401  (must precede ansible imports)
from kubespray_verify.errors import InventoryError, UsageError
from kubespray_verify.resolve.sources import check_sources
from kubespray_verify.resolve.templating import ANSIBLE_CORE
from kubespray_verify.resolve.yaml_check import YAML_SUFFIXES, check_inventory_tree

from ansible.errors import AnsibleError  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.parsing.splitter import parse_kv  # noqa: E402
from ansible.utils.vars import combine_vars  # noqa: E402
from ansible.utils.display import Display  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

# Kubespray's boilerplate maps these with `group_by` before anything else runs
# (role dynamic_groups, "Match needed groups by their old names or definition"); used when the
# Kubespray tree does not say otherwise (KubesprayTree.group_mappings).
GROUP_MAPPINGS: dict[str, tuple[str, ...]] = {
    "kube_control_plane": ("kube-master",),
    "kube_node": ("kube-node",),
    "calico_rr": ("calico-rr",),
    "no_floating": ("no-floating",),
    "k8s_cluster": ("kube_node", "kube_control_plane", "calico_rr"),
}


@dataclass
class AnsibleInputs:
    loader: DataLoader
    inventory: InventoryManager
    variables: VariableManager
    sources: tuple[str, ...]
    hosts: list  # ansible Host objects, after --limit


def parse_extra_vars(loader: DataLoader, values: Iterable[str]) -> dict:
    """`-e` semantics of ansible-playbook: key=value, JSON/YAML, or @file."""
    result: dict = {}
    for raw in values:
        opt = to_text(raw, errors="surrogate_or_strict").strip()
        if not opt:
            continue
        try:
            if opt.startswith("@"):
                path = opt[1:]
                if not os.path.isfile(path):
                    raise UsageError(f"--extra-vars {opt}: no such file {path}")
                data = load_vars_file(loader, path)
            elif opt[0] in "/.":
                raise UsageError(f"--extra-vars {opt}: a file must be written @{opt}")
            elif opt[0] in "[{":
                data = loader.load(opt)
            else:
                data = parse_kv(opt)
        except AnsibleError as exc:
            raise UsageError(f"--extra-vars {opt}: {first_lines(exc)}") from None
        if not isinstance(data, dict):
            raise UsageError(f"--extra-vars {opt}: not a mapping of variables")
        result = combine_vars(result, data)
    return result


def load_vars_file(loader: DataLoader, path: str):
    """A vars file as ansible-playbook reads `-e @file`: from ansible-core 2.19, its strings are trusted as templates."""
    if ANSIBLE_CORE >= (2, 19):
        return loader.load_from_file(path, trusted_as_template=True)
    return loader.load_from_file(path)


def init_plugins() -> None:
    """What ansible-playbook does before it reads anything: the plugin filters, and the loader of collections
    (the `ansible.builtin` names, and collections installed beside ansible-core or in the collections paths)."""
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()


def load(sources: Sequence[str], extra_vars: Iterable[str] = (), limit: Optional[str] = None,
         group_mappings: Optional[Mapping[str, Sequence[str]]] = None) -> AnsibleInputs:
    checked = check_sources(sources)
    check_inventory_tree(checked)
    init_plugins()
    _forget_vars_files()
    loader = DataLoader()
    with _captured_warnings() as warnings:
        try:
            inventory = InventoryManager(loader=loader, sources=checked)
        except AnsibleError as exc:
            raise InventoryError(_unparsed_message(checked, warnings, exc)) from None
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    add_kubespray_groups(inventory, GROUP_MAPPINGS if group_mappings is None else group_mappings)
    variables = VariableManager(loader=loader, inventory=inventory)
    variables._extra_vars = parse_extra_vars(loader, extra_vars)
    if limit:
        inventory.subset(limit)
    try:
        hosts = inventory.get_hosts("all")
    except AnsibleError as exc:
        raise UsageError(f"--limit {limit}: {first_lines(exc)}") from None
    if not hosts:
        if limit:
            raise UsageError(f"--limit {limit} matches no host of inventory {', '.join(sources)}")
        raise InventoryError(f"inventory {', '.join(sources)} defines no host")
    return AnsibleInputs(loader, inventory, variables, tuple(checked), hosts)


def add_kubespray_groups(inventory: InventoryManager,
                         mappings: Mapping[str, Sequence[str]] = GROUP_MAPPINGS) -> None:
    """Apply Kubespray's boilerplate `group_by` mappings, as its first plays do.

    Membership is decided on the groups the inventory gives, as in Kubespray, where one
    task (or one play per group) reads the groups the host had before it ran.
    """
    for host in list(inventory.get_hosts("all", ignore_limits=True, ignore_restrictions=True)):
        names = {g.name for g in host.get_groups()}
        for target, members in mappings.items():
            if names.intersection(members):
                inventory.add_dynamic_group(host, {"add_group": target, "parent_groups": []})


def first_lines(exc: Exception, n: int = 6) -> str:
    text = " ".join(line.strip() for line in str(exc).strip().splitlines()[:n] if line.strip())
    return text


@contextlib.contextmanager
def _captured_warnings():
    """Ansible's inventory warnings, held back so that a failure gives one message, not a screenful."""
    display = Display()
    captured: list[str] = []
    original = display.warning, getattr(display, "error_as_warning", None)
    display.warning = lambda msg, formatted=False, **kw: captured.append(" ".join(str(msg).split()))
    if original[1] is not None:  # ansible-core 2.19 reports a plugin's failure with the exception itself
        display.error_as_warning = lambda msg, exception, **kw: captured.append(_failure_text(msg, exception))
    try:
        yield captured
    finally:
        display.warning = original[0]
        if original[1] is not None:
            display.error_as_warning = original[1]


def _failure_text(msg, exception: BaseException) -> str:
    """ansible-core 2.19's report of a plugin that failed, in the words earlier versions warn with:
    "Failed to parse SOURCE with PLUGIN plugin: REASON"."""
    cause = exception
    while cause.__cause__ is not None:
        cause = cause.__cause__
    reason = " ".join(str(getattr(cause, "message", None) or cause).split())
    plugin = re.match(r"Failed to parse inventory with '([\w.]+)' plugin", str(msg or ""))
    source = getattr(getattr(exception, "obj", None), "path", None)
    if plugin and source:
        return f"Failed to parse {source} with {plugin.group(1)} plugin: {reason}"
    return " ".join(f"{msg or ''} {reason}".split())


def _unparsed_message(sources: Sequence[str], warnings: list[str], exc: Exception) -> str:
    """The reason the plugin that should have read the source gave (INI: "path:line: ...", YAML: the
    yaml plugin's; the YAML itself was checked before)."""
    for warning in warnings:
        m = re.search(r"Failed to parse (\S+) with (\w+) plugin: (.*)", warning)
        if not m:
            continue
        yaml_source = m.group(1).endswith(YAML_SUFFIXES)
        if (m.group(2) == "ini" and not yaml_source) or (m.group(2) == "yaml" and yaml_source):
            return f"inventory {m.group(1)}: {m.group(3)}"
    return f"inventory {', '.join(sources)}: {first_lines(exc)}"


def _forget_vars_files() -> None:
    """Each load reads group_vars/host_vars afresh, as a new ansible-playbook process would.

    ansible-core's host_group_vars plugin remembers, module-wide, which vars files each
    directory held; a second load in the same process would miss files added since.
    """
    from ansible.plugins.vars import host_group_vars

    for cache in ("FOUND", "NAK", "PATH_CACHE"):
        table = getattr(host_group_vars, cache, None)
        if table is not None:
            table.clear()
