"""Mirror checks: one test per (vantage point, target), its verdict from the run's one mirror observation.

Ids read `runner::files:kubeadm`, `node1::registry:10.0.0.2:5000/calico/node:v3.31.7`,
`node2::repo:debian_repo`. With `--from-nodes` (the default) the verdicts
come with the cluster observation (the nodes' probes ride in its round
trips); with `--no-from-nodes` only the runner probes and no node is
contacted. The figures (checks, distinct probes, HTTP requests) close the
terminal report.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from kubespray_verify.errors import VerifyError
from kubespray_verify.mirrors.plan import check_id, labels
from plugins.expected_state import expected_state, usage_error
from plugins.observations import RUN_DIR, cluster_observation, mirror_run, shared

if TYPE_CHECKING:
    from kubespray_verify.mirrors.session import MirrorObservation

# The mirror session (HTTP client, registry settings) is imported only by runs that select mirror checks.
MIRRORS = pytest.StashKey["MirrorObservation"]()


def pytest_generate_tests(metafunc):
    if "mirror_check" not in metafunc.fixturenames:
        return
    pairs = labels(expected_state(metafunc.config), metafunc.config.getoption("kv_from_nodes"))
    metafunc.parametrize("mirror_check", pairs, ids=[check_id(v, label) for v, label in pairs])


def _runner_only(config) -> MirrorObservation:
    try:
        return mirror_run(config).runner_only(expected_state(config))
    except VerifyError as exc:
        raise usage_error(config, exc) from None


def mirror_observation(config) -> MirrorObservation:
    """The run's mirror verdicts: with the cluster observation (--from-nodes), else from the runner alone."""
    from kubespray_verify.mirrors.session import MirrorObservation

    if config.getoption("kv_from_nodes"):
        if MIRRORS not in config.stash:
            config.stash[MIRRORS] = MirrorObservation.from_json(cluster_observation(config).mirrors or {})
        return config.stash[MIRRORS]
    return shared(config, MIRRORS, "mirrors", _runner_only, MirrorObservation.from_json, MirrorObservation.to_json)


def pytest_terminal_summary(terminalreporter, config):
    """The figures of the mirror probes: checks, distinct probes and HTTP requests per vantage point."""
    stats = mirror_stats(config)
    if not stats:
        return
    terminalreporter.write_sep("-", "mirror probes")
    for vantage, s in stats.items():
        rounds = s.get("rounds")
        within = f" in {rounds} round trip{'s' if rounds > 1 else ''}" if rounds else ""
        terminalreporter.write_line(
            f"{vantage}: {s['checks']} checks, {s['probes']} distinct probes, {s['requests']} HTTP requests"
            f"{within}, {s['seconds']:.2f} s")


def mirror_stats(config) -> dict:
    """vantage → the figures of its mirror probes (checks, distinct probes, requests, rounds, seconds)."""
    if MIRRORS in config.stash:
        return config.stash[MIRRORS].stats
    run_dir = config.stash.get(RUN_DIR, None)  # the xdist controller reads what a worker wrote
    for name in ("mirrors", "cluster"):
        path = os.path.join(run_dir, f"{name}.json") if run_dir else None
        if path and os.path.exists(path):
            with open(path) as fh:
                data = json.load(fh)
            found = (data.get("mirrors") or {}) if name == "cluster" else data
            if found.get("stats"):
                return found["stats"]
    return {}
