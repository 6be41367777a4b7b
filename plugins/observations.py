"""Observe the cluster once per run and hand each check its node's observation.

Without xdist the observation lives in the session. Under `pytest -n`, the
controller makes a run directory; the first worker that needs the cluster
observes it (all nodes, in parallel) under a lock and the others read its
answer, so every node is probed once per run whatever the number of workers.
Only what the selected checks need is asked for (`-m mirrors` lists no images);
with the mirror checks selected and `--from-nodes`, the nodes' mirror probes
ride in the same round trips.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import shutil
import tempfile
from typing import Optional

import pytest

from kubespray_verify.errors import VerifyError
from kubespray_verify.nodes.observe import ClusterObservation, observe
from kubespray_verify_pytest import inventory_option, resolution_options
from plugins.expected_state import expected_state, usage_error

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


# What the collected checks need from the nodes; set once collection (and -m / -k selection) is done.
WANTS = pytest.StashKey[frozenset]()
MARKERS = {"images": "images", "files": "files", "mirrors": "mirrors"}


def pytest_collection_finish(session):
    wanted = {need for item in session.items for marker, need in MARKERS.items() if item.get_closest_marker(marker)}
    session.config.stash[WANTS] = frozenset(wanted)


def wants(config) -> frozenset:
    return config.stash.get(WANTS, frozenset({"images", "files"}))


def mirror_run(config):
    from kubespray_verify.mirrors.session import MirrorRun

    return MirrorRun(*resolution_options(config), ca_bundle=config.getoption("kv_registry_ca"),
                     concurrency=config.getoption("kv_mirror_concurrency"))


def _observe_now(config) -> ClusterObservation:
    return _observe(config, wants(config))[0]


def observe_for_fix(config, needs: frozenset):
    """The cluster as --fix plans from it (only what `needs` names), and the connections it acts over."""
    return _observe(config, needs)


def _observe(config, needs: frozenset):
    from kubespray_verify.nodes import connection
    from kubespray_verify.nodes.checksum_memo import ChecksumMemo
    from kubespray_verify.resolve.cache import connection_specs_cached, resolve_cached

    state = expected_state(config)
    options = resolution_options(config)
    try:
        specs = connection_specs_cached(*options)
        nodes = connection.nodes_from_specs(specs, connect_timeout=config.getoption("kv_connect_timeout"))
    except VerifyError as exc:
        raise usage_error(config, exc) from None
    from plugins.progress import on_terminal_of

    extension = mirror_run(config) if "mirrors" in needs and config.getoption("kv_from_nodes") else None
    with on_terminal_of(config, "observing nodes", len(state.hosts)) as shown:
        return observe(
            state, nodes,
            reresolve=lambda facts: resolve_cached(*options, node_facts=facts),
            concurrency=config.getoption("kv_concurrency"),
            wants=needs,
            extension=extension,
            memo=ChecksumMemo(reuse=not config.getoption("kv_rehash")) if "files" in needs else None,
            progress=lambda phase, done, total: shown.update(done, total, label=phase),
        ), nodes


FAILED = pytest.StashKey[dict]()  # name → the error a shared computation ended with


def shared(config, key, name: str, compute, from_json, to_json):
    """Computed once per run: in this process, or under `pytest -n` by the first worker (others read its file).

    A computation that fails with a VerifyError (bad input, broken infrastructure) is not tried again:
    every test that needs it gets the same error at once.
    """
    if key in config.stash:
        return config.stash[key]
    failed = config.stash.setdefault(FAILED, {})
    if name in failed:
        raise VerifyError(failed[name])
    run_dir = getattr(config, "workerinput", {}).get("kv_run_dir")
    try:
        if not run_dir:
            result = compute(config)
        else:
            result = _shared_on_disk(config, run_dir, name, compute, from_json, to_json)
    except (VerifyError, pytest.UsageError) as exc:
        failed[name] = str(exc)
        raise VerifyError(str(exc)) from None
    config.stash[key] = result
    return result


def _shared_on_disk(config, run_dir: str, name: str, compute, from_json, to_json):
    path = os.path.join(run_dir, f"{name}.json")
    with open(os.path.join(run_dir, f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            with open(path) as fh:
                data = json.load(fh)
            if "__error__" in data:
                raise VerifyError(data["__error__"])
            return from_json(data)
        try:
            result = compute(config)
            data = to_json(result)
        except (VerifyError, pytest.UsageError) as exc:
            data = {"__error__": str(exc)}
            result = None
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    if result is None:
        raise VerifyError(data["__error__"])
    return result


def cluster_observation(config) -> ClusterObservation:
    observation = shared(config, CLUSTER, "cluster", _observe_now, ClusterObservation.from_json,
                         ClusterObservation.to_json)
    # What the run has built so far (ansible-core, testinfra, the observation) lives until the end:
    # out of the garbage collector's way, pytest's collections at exit do not walk it again (~0.25 s).
    gc.freeze()
    return observation


@pytest.fixture(scope="session")
def cluster(pytestconfig) -> ClusterObservation:
    return cluster_observation(pytestconfig)


def made_observation(config) -> Optional[ClusterObservation]:
    """The run's cluster observation if one was made: in this process, or by an xdist worker (its file);
    None when no check needed the nodes, or observing them failed."""
    if CLUSTER in config.stash:
        return config.stash[CLUSTER]
    run_dir = config.stash.get(RUN_DIR, None)
    path = os.path.join(run_dir, "cluster.json") if run_dir else None
    if not path or not os.path.exists(path):
        return None
    with open(path) as fh:
        data = json.load(fh)
    return None if "__error__" in data else ClusterObservation.from_json(data)
