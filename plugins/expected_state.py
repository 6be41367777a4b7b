"""Resolve the expected state once per run and parametrize the checks over (host, item).

Test ids read `node1::kubeadm`. Under `pytest -n` every worker collects;
the content-keyed cache makes the first one resolve and the rest read it.
"""

from __future__ import annotations

import sys

import pytest

from kubespray_verify.errors import InternalError, VerifyError, traceback_text
from kubespray_verify.model import ExpectedState
from kubespray_verify_pytest import resolution_options

EXPECTED_STATE = pytest.StashKey[ExpectedState]()


def pytest_configure(config):
    options = resolution_options(config)
    if not options.inventory:
        return
    from kubespray_verify.resolve.cache import resolve_cached

    try:
        state = resolve_cached(*options)
    except VerifyError as exc:
        raise usage_error(config, exc) from None
    config.stash[EXPECTED_STATE] = state


def usage_error(config, exc: VerifyError) -> pytest.UsageError:
    """One line for pytest to print; an internal error's traceback first, under -v."""
    if isinstance(exc, InternalError) and config.getoption("verbose") > 0:
        sys.stderr.write(traceback_text(exc))
    return pytest.UsageError(str(exc))


def expected_state(config) -> ExpectedState:
    try:
        return config.stash[EXPECTED_STATE]
    except KeyError:
        raise pytest.UsageError(
            "the checks need an inventory: pytest --inventory PATH [--kubespray-dir DIR]"
        ) from None


def _parametrize_items(metafunc, fixture: str, keep) -> None:
    """Parametrize `fixture` over every (host, item) the host must hold (`items_held`: not what the
    download_delegate fetches only for others) that `keep(host expectation, item)` accepts."""
    state = expected_state(metafunc.config)
    pairs = [(host, item) for host, exp in state.hosts.items() for item in exp.items_held() if keep(exp, item)]
    metafunc.parametrize(("inventory_host", fixture), pairs, ids=[f"{h}::{i.name}" for h, i in pairs])


def pytest_generate_tests(metafunc):
    if "download_file" in metafunc.fixturenames:
        _parametrize_items(metafunc, "download_file", lambda exp, item: item.kind == "file")
    if "download_image" in metafunc.fixturenames:
        _parametrize_items(metafunc, "download_image", lambda exp, item: item.kind == "image")
    if "installed_binary" in metafunc.fixturenames:
        from kubespray_verify.kubespray import installed_path

        _parametrize_items(metafunc, "installed_binary",
                           lambda exp, item: item.kind == "file" and installed_path(exp, item) is not None)
    if "pinned_image" in metafunc.fixturenames:
        state = expected_state(metafunc.config)
        unique = {}
        for exp in state.hosts.values():
            for item in exp.items:
                if item.kind == "image" and item.digest:
                    unique.setdefault((item.repo, item.tag, item.digest), item)
        items = list(unique.values())
        metafunc.parametrize("pinned_image", items, ids=[f"{i.name}::{i.repo}:{i.tag}" for i in items])
    if "host_expectation" in metafunc.fixturenames:
        state = expected_state(metafunc.config)
        metafunc.parametrize("host_expectation", list(state.hosts.values()), ids=list(state.hosts))

