"""Resolve the expected state once per run and parametrize the checks over (host, item).

Test ids read `node1::kubeadm`. Under `pytest -n` every worker collects;
the content-keyed cache makes the first one resolve and the rest read it.
"""

from __future__ import annotations

import sys
import time

import pytest

from kubespray_verify.errors import InternalError, VerifyError, traceback_text
from kubespray_verify.model import ExpectedState
from kubespray_verify_pytest import resolution_options

EXPECTED_STATE = pytest.StashKey[ExpectedState]()
RESOLVE_SECONDS = pytest.StashKey[float]()  # how long this process took to have the expected state


def pytest_configure(config):
    options = resolution_options(config)
    if not options.inventory:
        return
    from kubespray_verify.resolve.cache import resolve_cached
    from plugins.progress import on_terminal_of

    started = time.monotonic()
    try:
        with on_terminal_of(config, "resolving the expected state (host profiles)") as progress:
            state = resolve_cached(*options, progress=progress.update)
    except VerifyError as exc:
        raise usage_error(config, exc) from None
    config.stash[EXPECTED_STATE] = state
    config.stash[RESOLVE_SECONDS] = time.monotonic() - started


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
        from kubespray_verify.verdicts.lint import pinned_images

        pins = pinned_images(expected_state(metafunc.config))
        metafunc.parametrize("pinned_image", pins, ids=[p.id for p in pins])
    if "host_expectation" in metafunc.fixturenames:
        state = expected_state(metafunc.config)
        metafunc.parametrize("host_expectation", list(state.hosts.values()), ids=list(state.hosts))



def pytest_collection_modifyitems(config, items):
    """The lint of pins against their tags, when nothing is pinned, has nothing to check: it is deselected,
    not reported as a skip over an empty parameter set."""
    empty = [item for item in items if "pinned_image" in getattr(getattr(item, "callspec", None), "params", {})
             and not hasattr(item.callspec.params["pinned_image"], "label")]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
