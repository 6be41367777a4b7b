"""The suite's installed pytest plugin (`pytest11` entry point: kubespray-verify): options, and the suite itself.

It registers the suite's options. pytest picks its rootdir and config file before any plugin can say
that `--inventory` takes a value, so in `pytest --inventory /abs/hosts.yml` run from elsewhere the
inventory looks like a test path and the suite's configuration is not found. When a run names an
inventory, this plugin therefore brings the suite with it (`pytest_load_initial_conftests`): the
suite's configuration from its pyproject.toml, its conftest.py with the plugins it lists, and its
checks unless a test path was given. In any other pytest run it only adds the options.

PYTEST_DONT_REWRITE: no asserts here; `kubespray-verify check` imports it before it starts pytest.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

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
    group.addoption("--fix", dest="kv_fix", action="store_true", default=False,
                    help="pull or push the missing images and download the missing files, as Kubespray's download "
                         "role would (its download_run_once, download_localhost, download_force_cache), then check")
    group.addoption("--fix-plan", dest="kv_fix_plan", action="store_true", default=False,
                    help="print what --fix would do, node by node and command by command, and change nothing")
    group.addoption("--connect-timeout", dest="kv_connect_timeout", type=at_least_one, default=defaults.NODE_CONNECT_TIMEOUT,
                    metavar="SECONDS",
                    help=f"seconds to reach a node before its checks error (default {defaults.NODE_CONNECT_TIMEOUT})")
    group.addoption("--report-junit", dest="kv_report_junit", metavar="PATH", default=None,
                    help="write a JUnit XML report: one testsuite per node, then runner and cluster; each check a "
                         "testcase named after its item, classname <vantage>.<kind>, its facts in system-out "
                         "(pytest's own --junitxml still works)")
    group.addoption("--report-json", dest="kv_report_json", metavar="PATH", default=None,
                    help="write a JSON report (versioned schema): every verdict with its facts, totals per node, "
                         "the expected state in numbers, timings")


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


SUITE_ROOT = Path(__file__).resolve().parent  # the checkout holding checks/, plugins/, fixtures/, conftest.py


def _suite_ini() -> dict:
    """The suite's own pytest configuration: `[tool.pytest.ini_options]` of its pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(SUITE_ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh).get("tool", {}).get("pytest", {}).get("ini_options", {})


def _inventory_given(args) -> bool:
    spellings = ("--inventory", "--kubespray-inventory", "--ansible-inventory")
    return any(str(a) in spellings or str(a).startswith(tuple(s + "=" for s in spellings)) for a in args)


def pytest_load_initial_conftests(early_config, parser, args):
    """`pytest --inventory hosts.yml` from anywhere: the suite comes with the plugin.

    pytest picked its rootdir and config file before this plugin could say that `--inventory` takes a
    value. When the run names an inventory and pytest did not find the suite's own configuration, the
    plugin brings the suite as a plugin that ships tests does: its configuration (markers, the plugins
    it does not load, the JUnit family), its wiring (the suite's conftest.py and the plugins it lists)
    and, unless a test path was given, its checks. In any other pytest run it does nothing.
    """
    if not _inventory_given(args) or not (SUITE_ROOT / "checks").is_dir():
        return
    if early_config.inipath is not None and Path(early_config.inipath).resolve() == SUITE_ROOT / "pyproject.toml":
        return  # run from the suite's directory: pytest found all of it itself
    import importlib.util
    import sys

    ini = _suite_ini()
    addopts = list(ini.get("addopts", []))
    for i, opt in enumerate(addopts[:-1]):
        if opt == "-p" and addopts[i + 1].startswith("no:"):
            early_config.pluginmanager.set_blocked(addopts[i + 1][3:])
    family = ini.get("junit_family", "xunit2")
    if family != "xunit2":  # pytest's own default needs nothing set
        import warnings

        with warnings.catch_warnings():  # pytest 9 deprecates config.inicfg; it has no other setter
            warnings.simplefilter("ignore", DeprecationWarning)
            if "junit_family" not in early_config.inicfg:
                early_config.inicfg["junit_family"] = family
    early_config.stash[SUITE_MARKERS] = list(ini.get("markers", []))
    if str(SUITE_ROOT) not in sys.path:
        sys.path.insert(0, str(SUITE_ROOT))
    spec = importlib.util.spec_from_file_location("kubespray_verify_suite", SUITE_ROOT / "conftest.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    early_config.pluginmanager.register(suite, "kubespray-verify-suite")  # and the plugins it lists
    checks = SUITE_ROOT / "checks"
    paths = [Path(p.split("::")[0]).resolve() for p in parser.parse_known_args(list(args)).file_or_dir]
    if not paths:  # every plugin's options are known by now: these are real test paths
        args.append(str(checks))
    if getattr(early_config, "_rootpath", None) is not None:
        # Test ids are relative to the rootdir: the suite's, so that they read the same from every
        # directory (`checks/test_images.py::test_image[node1::pause]`) and a report's ids are stable.
        early_config._rootpath = SUITE_ROOT
    if all(p == checks or checks in p.parents for p in paths):
        # The suite's conftest.py is registered above; pytest must not load it again as a conftest
        # below a rootdir it picked elsewhere.
        early_config.known_args_namespace.confcutdir = str(checks)


SUITE_MARKERS = pytest.StashKey[list]()  # the suite's markers, when the plugin brought the suite


def pytest_configure(config):
    for line in config.stash.get(SUITE_MARKERS, []):
        config.addinivalue_line("markers", line)
