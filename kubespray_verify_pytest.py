"""The suite's options, registered from an installed plugin (`pytest11` entry point: kubespray-verify).

Registering them here, not in a conftest, lets pytest know `--inventory PATH`
takes a value before it picks its rootdir: an absolute inventory path is then
never mistaken for a test path. The plugin only registers options; the
suite's wiring lives in the top-level `plugins/` package, loaded by the
suite's `conftest.py`, so this module is inert in any other pytest run.

PYTEST_DONT_REWRITE: no asserts here; `kubespray-verify check` imports it before it starts pytest.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, Optional

from kubespray_verify import defaults

INVENTORY_HELP = (
    "Ansible inventory: file (YAML/INI) or directory, with group_vars/ and host_vars/ beside it; "
    "repeatable, as ansible-playbook -i"
)


def ansible_plugin_owns_inventory() -> bool:
    """pytest-ansible also defines `--inventory`; when it is loaded, it owns the spelling."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    try:
        eps = metadata.entry_points(group="pytest11")
    except Exception:  # a broken distribution must not stop the suite
        return False
    return any(ep.value.split(":")[0].startswith("pytest_ansible") for ep in eps)


# Spellings pytest-ansible also defines: when it is loaded it owns them, the suite keeps its own
# `--kubespray-*` spelling and reads pytest-ansible's value when the user gave one.
SHARED_SPELLINGS = {
    # ours: (spelling, our dest, pytest-ansible's dest, pytest-ansible's spellings)
    "inventory": ("--inventory", "kv_inventory", "ansible_inventory", ("--inventory", "--ansible-inventory")),
    "limit": ("--limit", "kv_limit", "ansible_subset", ("--limit", "--ansible-limit")),
}


def at_least_one(text: str) -> int:
    """A count or a number of seconds: a whole number, 1 or more."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def pytest_addoption(parser):
    group = parser.getgroup("kubespray-verify", "kubespray-verify (Kubespray pre-deploy checks)")
    shared = not ansible_plugin_owns_inventory()
    group.addoption(*(["--inventory"] if shared else []), "--kubespray-inventory", dest="kv_inventory",
                    action="append", default=[], metavar="PATH", help=INVENTORY_HELP)
    group.addoption(
        "--kubespray-dir", dest="kv_kubespray_dir", metavar="PATH", default=None,
        help="Kubespray checkout (default: $KUBESPRAY_DIR, else the first directory above the inventory "
             "holding roles/kubespray_defaults or roles/kubespray-defaults)",
    )
    group.addoption(
        "--extra-vars", dest="kv_extra_vars", action="append", default=[], metavar="VARS",
        help="as ansible-playbook -e: key=value, JSON/YAML, or a file written --extra-vars=@vars.yml "
             "(with '=': pytest reads a separate '@file' argument as a file of arguments); repeatable",
    )
    group.addoption(*(["--limit"] if shared else []), "--kubespray-limit", dest="kv_limit", metavar="PATTERN",
                    default=None, help="Ansible host pattern")
    group.addoption("--registry-ca", dest="kv_registry_ca", metavar="PATH", default=None,
                    help="CA bundle for the runner's requests to registries and mirrors "
                         "(default: the system's trust store)")
    group.addoption("--from-nodes", dest="kv_from_nodes", action="store_true", default=True,
                    help="mirror checks also from each node, through its own proxies and registry config (default)")
    group.addoption("--no-from-nodes", dest="kv_from_nodes", action="store_false",
                    help="mirror checks from the runner only: no node is contacted for them")
    group.addoption("--mirror-concurrency", dest="kv_mirror_concurrency", type=at_least_one,
                    default=defaults.MIRROR_CONCURRENCY, metavar="N",
                    help=f"mirror probes at once, from the runner and on each node (default {defaults.MIRROR_CONCURRENCY})")
    group.addoption("--node-concurrency", dest="kv_concurrency", type=at_least_one, default=defaults.NODE_CONCURRENCY,
                    metavar="N", help=f"nodes observed at once (default {defaults.NODE_CONCURRENCY})")
    group.addoption("--rehash", dest="kv_rehash", action="store_true", default=False,
                    help="read every file on the nodes again, even those unchanged since an earlier run read them")
    group.addoption("--connect-timeout", dest="kv_connect_timeout", type=at_least_one, default=defaults.NODE_CONNECT_TIMEOUT,
                    metavar="SECONDS",
                    help=f"seconds to reach a node before its checks error (default {defaults.NODE_CONNECT_TIMEOUT})")


def inventory_option(config) -> list[str]:
    """The inventories given, whichever plugin parsed `--inventory`."""
    ours = list(config.getoption("kv_inventory") or [])
    return ours or _from_pytest_ansible(config, "inventory")


class ResolutionOptions(NamedTuple):
    inventory: list
    kubespray_dir: Optional[str]
    extra_vars: list
    limit: Optional[str]


def resolution_options(config) -> ResolutionOptions:
    """What the expected state is resolved from, as given on the command line."""
    return ResolutionOptions(inventory_option(config), config.getoption("kv_kubespray_dir"),
                             list(config.getoption("kv_extra_vars") or []), limit_option(config))


def limit_option(config) -> Optional[str]:
    ours = config.getoption("kv_limit")
    if ours:
        return ours
    theirs = _from_pytest_ansible(config, "limit")
    return theirs[0] if theirs else None


def _from_pytest_ansible(config, name: str) -> list[str]:
    _, _, their_dest, spellings = SHARED_SPELLINGS[name]
    if ansible_plugin_owns_inventory() and _given_on_command_line(config, spellings):
        value = config.getoption(their_dest, default=None)
        if value:
            return [value]
    return []


def _given_on_command_line(config, spellings) -> bool:
    for arg in config.invocation_params.args:
        arg = str(arg)
        if any(arg == s or arg.startswith(s + "=") for s in spellings):
            return True
    return False


def pytest_configure(config):
    """Refuse a run where pytest took the inventory for a test path (see the module's docstring)."""
    import pytest

    suite_config = Path(__file__).resolve().parent / "pyproject.toml"
    for value in _separate_values(config, ("--inventory", "--kubespray-inventory", "--ansible-inventory")):
        if config.inipath is None or Path(config.inipath).resolve() != suite_config:
            raise pytest.UsageError(
                f"pytest read {value} as a test path before the suite could take it as the inventory "
                f"(rootdir became {config.rootpath}). Write --inventory={value}, "
                f"or run: kubespray-verify check --inventory {value} [pytest options]"
            )


def _separate_values(config, spellings) -> list[str]:
    args = [str(a) for a in config.invocation_params.args]
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in spellings]
