"""Observe every node once: at most two round trips per node, nodes in parallel.

Round one asks each node for its architecture, os-release, its runtime's image
list and the hashes of the paths expected for the architecture assumed so far
(the inventory's, else Kubespray's default), and, with the mirror checks,
containerd's hosts.toml files and the node's mirror probes as far as they can
be planned before the node answers. A node that confirms every assumption is
done; one that does not is resolved again with what it reported, and round two
hashes the paths that resolution expects and runs the mirror probes round one
could not plan (see mirrors/session.py). Only what the selected checks need is
asked for. The result is plain JSON, so `pytest -n` workers can share one
observation of the cluster.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from kubespray_verify.nodes.probe import script as node_probe
from kubespray_verify.nodes.probe.command import probe_command
from kubespray_verify import defaults
from kubespray_verify.errors import VerifyError
from kubespray_verify.kubespray import installed_path
from kubespray_verify.model import DEFAULT_FACTS, ExpectedState, FileItem, HostExpectation


def expected_paths(host: HostExpectation) -> list[dict]:
    paths: dict[str, Optional[str]] = {}
    for item in host.items_held():
        if isinstance(item, FileItem):
            algo = item.checksum.split(":")[0] if item.checksum else "sha256"
            paths[item.dest] = algo
            installed = installed_path(host, item)
            if installed:
                paths[installed] = algo
    return [{"path": p, "algo": a} for p, a in sorted(paths.items())]


@dataclass
class Observation:
    """What one node answered (raw probe answers), or why it could not answer."""

    host: str
    node: str = ""
    error: Optional[str] = None
    facts: dict = field(default_factory=dict)
    images: Optional[dict] = None  # the probe's "images" section
    files: dict = field(default_factory=dict)  # path → the probe's file record
    round_trips: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping) -> "Observation":
        return cls(**data)


@dataclass
class ClusterObservation:
    state: ExpectedState  # resolved again with node facts where the inventory gave none
    nodes: dict[str, Observation]
    mirrors: Optional[dict] = None  # the mirror checks' verdicts and figures (mirrors.session.MirrorObservation)

    def to_json(self) -> dict:
        return {"state": self.state.to_json(), "nodes": {h: o.to_json() for h, o in self.nodes.items()},
                "mirrors": self.mirrors}

    @classmethod
    def from_json(cls, data: Mapping) -> "ClusterObservation":
        return cls(ExpectedState.from_json(data["state"]),
                   {h: Observation.from_json(o) for h, o in data["nodes"].items()}, data.get("mirrors"))


def observe(
    state: ExpectedState,
    nodes: Mapping,  # host → connection.Node
    reresolve: Callable[[dict], ExpectedState],
    concurrency: int = defaults.NODE_CONCURRENCY,
    wants: frozenset = frozenset({"images", "files"}),
    extension=None,
    memo=None,
    progress: Optional[Callable[[str, int, int], None]] = None,
) -> ClusterObservation:
    """Probe every host of `state`; `reresolve(node_facts)` resolves again with observed facts.

    `wants` says what the checks of the run need ("images": the runtime's image list, "files":
    the paths' hashes). `extension` (the mirror checks) adds to both rounds: `begin(state)`
    plans before round one, `first_request(host, state)` and `second_requests(final_state,
    reached_hosts)` add to the requests (a host it still asks something of gets round two),
    `absorb_first` / `absorb_second` take their share of the answers, and `finish(final_state,
    errors)` gives what goes into `ClusterObservation.mirrors`. `memo` (checksum_memo.ChecksumMemo)
    lets nodes skip reading files unchanged since an earlier run, and keeps what they read.
    `progress(phase, done, total)` is told of each node that answered (or failed to) in each round.
    """
    counted = _Counter(progress)
    results = {host: Observation(host, node=getattr(nodes.get(host), "description", "")) for host in state.hosts}
    if extension is not None:
        extension.begin(state)

    def ask(host: str, request: dict, absorb=None) -> None:
        obs = results[host]
        node = nodes.get(host)
        if node is None:
            obs.error = "no connection for this host"
            return
        if memo is not None and request.get("paths"):
            request = dict(request, **memo.request(host, node.description, request["paths"]))
        started = time.monotonic()
        try:
            answer = _run_probe(node, request)
        except VerifyError as exc:
            obs.error = str(exc)
            return
        finally:
            obs.round_trips += 1
            obs.seconds += time.monotonic() - started
        if memo is not None:
            memo.record(host, node.description, answer)
        if absorb is not None:
            absorb(host, answer)
        obs.facts = answer.get("facts", obs.facts)
        if "images" in answer:
            obs.images = answer["images"]
        obs.files.update(answer.get("files", {}))

    def first_round(host: str) -> None:
        exp = state.hosts[host]
        request: dict = {}
        if "images" in wants:
            request["runtime"] = exp.container_manager
            request["blobs"] = any(getattr(item, "digest", None) for item in exp.items_held())
        if "files" in wants:
            # The paths are those of the architecture assumed so far: right whenever the node confirms it.
            request["paths"] = expected_paths(exp)
        if extension is not None:
            request.update(extension.first_request(host, state))
        ask(host, request, extension.absorb_first if extension is not None else None)

    workers = max(1, min(concurrency, len(results)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="observe") as pool:
        list(pool.map(counted("observing nodes", first_round, len(results)), list(results)))

    observed = {
        host: {"architecture": obs.facts["architecture"], "system": obs.facts.get("system", "Linux")}
        for host, obs in results.items()
        if obs.error is None and obs.facts.get("architecture") and state.hosts[host].facts_source != "inventory"
    }
    differing = {host: facts for host, facts in observed.items()
                 if facts != _assumed_facts(state.hosts[host])}
    final = reresolve(observed) if differing else state
    for host in observed:
        if host not in differing:
            # The node confirmed the facts the expected state was resolved with: same inputs, same answer.
            final.hosts[host].facts_source = "node"

    second: dict[str, dict] = {}
    if "files" in wants:
        second = {h: {"paths": expected_paths(final.hosts[h])} for h in differing if h in final.hosts}
    if extension is not None:
        # Mirror probes planned again with what round one read (hosts.toml, os-release) that round one
        # did not already run.
        reached = [h for h, obs in results.items() if obs.error is None and h in final.hosts]
        for host, extra in extension.second_requests(final, reached).items():
            second.setdefault(host, {}).update(extra)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(second) or 1)),
                            thread_name_prefix="observe") as pool:
        list(pool.map(counted("observing nodes, round two",
                              lambda h: ask(h, second[h], extension.absorb_second if extension is not None else None),
                              len(second)), list(second)))
    if memo is not None:
        memo.save()
    cluster = ClusterObservation(final, results)
    if extension is not None:
        cluster.mirrors = extension.finish(final, {h: obs.error for h, obs in results.items()}).to_json()
    return cluster


class _Counter:
    """Wraps each node's round so that `progress(phase, done, total)` hears of it (threads: under a lock)."""

    def __init__(self, progress):
        self.progress = progress
        self.lock = threading.Lock()

    def __call__(self, phase: str, work, total: int):
        if self.progress is None or not total:
            return work
        done = [0]
        self.progress(phase, 0, total)

        def counted(host):
            try:
                return work(host)
            finally:
                with self.lock:
                    done[0] += 1
                    self.progress(phase, done[0], total)

        return counted


def _assumed_facts(host: HostExpectation) -> dict:
    return dict(DEFAULT_FACTS) if host.facts_source == "default" else {}


def _run_probe(node, request: dict) -> dict:
    from kubespray_verify.nodes.connection import run_json

    answer = run_json(node, probe_command(request, python=node.python))
    if answer.get("probe") != node_probe.PROBE_VERSION:
        raise VerifyError(f"{node.name}: unexpected probe answer version {answer.get('probe')!r}")
    return answer
