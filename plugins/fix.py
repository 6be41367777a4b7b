"""`--fix` and `--fix-plan`: the checks' verdicts gathered, what fails planned, fixed, then observed again.

It happens once per run, before any check runs: in `pytest_sessionstart` of
the process that runs the checks, and under `pytest -n` of the controller,
before xdist starts its workers (xdist's own session start comes last), so
the workers observe the nodes as the fix left them. The plan follows the
selection: `-m` (images, files) and `-k` as they match the checks' ids
(`test_image[node1::calico_node]`), and `--limit`.

Each (host, item) check the fix acted for carries the user property
`kubespray_verify.fix` (plugins/results.py puts it in the reports' case facts
as `fix`): {"action": "pulled", "done": "pulled by digest from 10.200.0.2:5000
on node2"}, or for one that could not be fixed {"action": "not fixed",
"error": reason}; that check stays failed or errored as the nodes then show it.
"""

from __future__ import annotations

import contextlib

import pytest

from kubespray_verify.errors import VerifyError
from kubespray_verify_pytest import inventory_option, resolution_options
from plugins.results import FIX_PROPERTY as PROPERTY

FIX_RESULT = pytest.StashKey[dict]()  # (host, item) → (property, value); lines for the summary
WORKER_KEY = "kv_fix_properties"
TESTS = {"images": ("test_image", "test_images.py", "download_image"),
         "files": ("test_file", "test_files.py", "download_file")}


def _wanted(config) -> bool:
    return bool(config.getoption("kv_fix", False) or config.getoption("kv_fix_plan", False))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    config = session.config
    if hasattr(config, "workerinput") or not _wanted(config):
        return
    if not inventory_option(config):
        raise pytest.UsageError("--fix and --fix-plan need an inventory: --inventory PATH")
    kinds = tuple(k for k in TESTS if _marker_selects(config, k))
    capture = config.pluginmanager.getplugin("capturemanager")
    try:
        # Progress goes to the terminal (pytest captures output from here on otherwise).
        with capture.global_and_fixture_disabled() if capture else _nothing():
            result = _fix(config, kinds)
    except VerifyError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[FIX_RESULT] = {"properties": {f"{h}\0{i}": v for (h, i), v in result.properties().items()},
                                "lines": result.lines()}


@contextlib.contextmanager
def _nothing():
    yield


def _fix(config, kinds):
    from kubespray_verify.fix.progress import Progress
    from kubespray_verify.fix.run import cache_listing, fix
    from plugins.observations import observe_for_fix

    cluster, nodes = observe_for_fix(config, frozenset(kinds))
    evidence = None

    def remote(item):
        nonlocal evidence
        if evidence is None:
            from kubespray_verify.registry import site
            from kubespray_verify.registry.evidence import RegistryEvidence

            evidence = RegistryEvidence(site.load(cluster.state, *resolution_options(config),
                                                  ca_bundle=config.getoption("kv_registry_ca")))
        return evidence.facts(item)

    def settings():
        from kubespray_verify.resolve import host_settings

        return host_settings.resolve(cluster.state, *resolution_options(config))

    keywords = config.getoption("keyword") or ""
    try:
        return fix(cluster, nodes, inventory=inventory_option(config), act=bool(config.getoption("kv_fix")),
                   kinds=kinds, selected=lambda kind, host, item: _keyword_selects(keywords, kind, host, item),
                   remote=remote, settings=settings, cached=cache_listing, progress=Progress())
    finally:
        if evidence is not None:
            evidence.close()


def _marker_selects(config, kind: str) -> bool:
    expression = config.getoption("markexpr") or ""
    if not expression:
        return True
    from _pytest.mark.expression import Expression

    return Expression.compile(expression).evaluate(lambda name, **kwargs: name == kind)


def _keyword_selects(expression: str, kind: str, host: str, item: str) -> bool:
    """pytest's -k, matched against what the check's keywords are: its id, function, module, marker."""
    if not expression:
        return True
    from _pytest.mark.expression import Expression

    function, module, _ = TESTS[kind]
    names = (f"{function}[{host}::{item}]", function, module, "checks", kind)
    return Expression.compile(expression).evaluate(
        lambda sub, **kwargs: any(sub.lower() in name.lower() for name in names))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: each worker gets what the fix did, for its checks' reports."""
    found = node.config.stash.get(FIX_RESULT, None)
    if found:
        node.workerinput[WORKER_KEY] = found["properties"]


def pytest_collection_modifyitems(session, config, items):
    found = config.stash.get(FIX_RESULT, None)
    properties = found["properties"] if found else getattr(config, "workerinput", {}).get(WORKER_KEY)
    if not properties:
        return
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        download = params.get("download_image") or params.get("download_file")
        if download is None or "inventory_host" not in params:
            continue
        recorded = properties.get(f"{params['inventory_host']}\0{download.name}")
        if recorded:
            item.user_properties.append((PROPERTY, dict(recorded)))


def pytest_terminal_summary(terminalreporter):
    found = terminalreporter.config.stash.get(FIX_RESULT, None)
    if found:
        terminalreporter.section("kubespray-verify --fix" if terminalreporter.config.getoption("kv_fix")
                                 else "kubespray-verify --fix-plan")
        for line in found["lines"]:
            terminalreporter.write_line(line)
