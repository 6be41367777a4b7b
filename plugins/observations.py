"""Observe the cluster once per run and hand each check its node's observation.

Without xdist the observation lives in the session. Under `pytest -n`, the
controller makes a run directory; the first worker that needs the cluster
observes it (all nodes, in parallel) under a lock and the others read its
answer, so every node is probed once per run whatever the number of workers.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile

import pytest

from kubespray_verify.errors import VerifyError
from kubespray_verify.observe import DEFAULT_CONCURRENCY, ClusterObservation, observe
from kubespray_verify_pytest import inventory_option, resolution_options
from plugins.expected_state import expected_state

RUN_DIR = pytest.StashKey[str]()
CLUSTER = pytest.StashKey[ClusterObservation]()


def pytest_configure(config):
    if not hasattr(config, "workerinput") and inventory_option(config):
        config.stash[RUN_DIR] = tempfile.mkdtemp(prefix="kubespray-verify-run-")


def pytest_unconfigure(config):
    run_dir = config.stash.get(RUN_DIR, None)
    if run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: tell each worker where the run's shared observation lives."""
    run_dir = node.config.stash.get(RUN_DIR, None)
    if run_dir:
        node.workerinput["kv_run_dir"] = run_dir


def _observe_now(config) -> ClusterObservation:
    from kubespray_verify import transport
    from kubespray_verify.expected_cache import resolve_cached

    state = expected_state(config)
    options = resolution_options(config)
    try:
        nodes = transport.nodes(options.inventory, options.extra_vars, options.limit,
                                connect_timeout=config.getoption("kv_connect_timeout"))
    except VerifyError as exc:
        raise pytest.UsageError(str(exc)) from None
    return observe(
        state, nodes,
        reresolve=lambda facts: resolve_cached(*options, node_facts=facts),
        concurrency=config.getoption("kv_concurrency"),
    )


def cluster_observation(config) -> ClusterObservation:
    if CLUSTER in config.stash:
        return config.stash[CLUSTER]
    run_dir = getattr(config, "workerinput", {}).get("kv_run_dir")
    if not run_dir:
        result = _observe_now(config)
    else:
        path = os.path.join(run_dir, "cluster.json")
        with open(os.path.join(run_dir, "cluster.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(path):
                with open(path) as fh:
                    result = ClusterObservation.from_json(json.load(fh))
            else:
                result = _observe_now(config)
                tmp = path + ".tmp"
                with open(tmp, "w") as fh:
                    json.dump(result.to_json(), fh)
                os.replace(tmp, path)
    config.stash[CLUSTER] = result
    return result


@pytest.fixture(scope="session")
def cluster(pytestconfig) -> ClusterObservation:
    return cluster_observation(pytestconfig)
