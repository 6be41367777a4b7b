"""One run's mirror checks: the runner's probes beside the nodes' round trips, verdicts for every check.

With nodes (`--from-nodes`) the mirror probes ride in nodes.observe's round
trips, as the file hashes do: round one carries each node's probes as far as
they can be planned before the node has answered (the architecture assumed
so far, the OS facts the inventory gives, for containerd the hosts.toml that
Kubespray writes from `containerd_registries_mirrors`), and reads back the
node's hosts.toml files and os-release. Planned again with what the node
said, a probe equal to one already run is not run again; only the others
(a node whose hosts.toml differs from the inventory's, repos whose path
needs the node's release) go to round two, so a node that confirms every
assumption is done in one round trip. The runner's probes start at once,
beside round one, and are completed the same way.

Without nodes, only the runner probes, with the facts the inventory gives.
The result (`MirrorObservation`) is plain JSON with no credential in it, so
`pytest -n` workers share it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from kubespray_verify import defaults
from kubespray_verify.errors import VerifyError
from kubespray_verify.http.policy import RetryPolicy, Timeouts, describe_verify
from kubespray_verify.mirrors import endpoints, node_side, plan as plans
from kubespray_verify.resolve import host_settings
from kubespray_verify.mirrors.judge import judge
from kubespray_verify.mirrors.plan import RUNNER, CheckPlan, Probe
from kubespray_verify.mirrors.runner import RunnerProber
from kubespray_verify.resolve.host_settings import HostSettings
from kubespray_verify.model import ExpectedState
from kubespray_verify.verdicts.status import Status, Verdict


@dataclass
class MirrorObservation:
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # check id → verdict
    stats: dict[str, dict] = field(default_factory=dict)  # vantage → checks, probes, requests, rounds, seconds

    def to_json(self) -> dict:
        return {"verdicts": {k: v.to_json() for k, v in self.verdicts.items()}, "stats": self.stats}

    @classmethod
    def from_json(cls, data: Mapping) -> "MirrorObservation":
        return cls({k: Verdict.from_json(v) for k, v in data.get("verdicts", {}).items()},
                   dict(data.get("stats", {})))


@dataclass
class _NodeShare:
    """One node's part: what was sent, what came back (raw, by spec key), what it cost."""

    keys: dict[str, Probe] = field(default_factory=dict)  # request key → probe, for the round in flight
    raw: dict[str, Mapping] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    rounds: int = 0
    checks: dict[str, CheckPlan] = field(default_factory=dict)


class _RunnerShare:
    """The runner's probes, run in a thread; more can be added until `results` is read."""

    def __init__(self, prober: RunnerProber):
        self.prober = prober
        self.results: dict = {}
        self.error: Optional[str] = None
        self.started = time.monotonic()
        self.seconds = 0.0  # until the last probe answered
        self._thread: Optional[threading.Thread] = None

    def start(self, probes: list[Probe]) -> None:
        self._thread = threading.Thread(target=self._run, args=(probes,), name="mirrors-runner", daemon=True)
        self._thread.start()

    def _run(self, probes: list[Probe]) -> None:
        try:
            self.results.update(self.prober.run(probes))
        except VerifyError as exc:  # broken infrastructure: every runner check says so
            self.error = str(exc)
        finally:
            self.seconds = time.monotonic() - self.started

    def complete(self, probes: list[Probe]) -> dict:
        if self._thread is not None:
            self._thread.join()
        missing = [p for p in dict.fromkeys(probes) if p not in self.results]
        if missing and self.error is None:
            self._run(missing)
        return self.results


class MirrorRun:
    """The mirror share of one run; plugs into `observe.observe` as its `extension`."""

    def __init__(self, inventory: Sequence[str], kubespray_dir: Optional[str], extra_vars: Sequence[str] = (),
                 limit: Optional[str] = None, *, ca_bundle: Optional[str] = None,
                 concurrency: int = defaults.MIRROR_CONCURRENCY, timeout: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy()):
        self.args = (list(inventory), kubespray_dir, list(extra_vars), limit)
        self.ca_bundle = ca_bundle
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
        self._os_release: dict[str, str] = {}
        self._hosts_files: dict[str, dict[str, tuple[str, str]]] = {}  # host → certs.d name → (path, text)
        self._hosts_errors: dict[str, str] = {}
        self._settings_first: dict[str, HostSettings] = {}
        self._nodes: dict[str, _NodeShare] = {}
        self._first: dict[str, dict] = {}  # host → round one's mirrors section
        self._runner: Optional[_RunnerShare] = None
        self._runner_checks: dict[str, CheckPlan] = {}
        self._final_settings: dict[str, HostSettings] = {}
        self._broken: Optional[str] = None  # why no mirror check can be made (bad input)

    # -- nodes.observe's hooks ------------------------------------------------------
    def begin(self, state: ExpectedState) -> None:
        """Before round one: plan with what is known, start the runner's probes.

        Bad input here (a mirror variable that is not what Kubespray expects) is an error of
        every mirror check, and leaves the other checks' observation alone.
        """
        try:
            self._settings_first = self._settings(state, {})
        except VerifyError as exc:
            self._broken = str(exc)
            return
        self._start_runner(state, self._settings_first)
        for host in state.hosts:
            share = self._nodes[host] = _NodeShare()
            checks = self._node_checks(state, self._settings_first, host, files={})
            section = self._section(share, host, checks, self._settings_first, lambda key: False)
            if section:
                self._first[host] = section

    def first_request(self, host: str, state: ExpectedState) -> dict:
        if self._broken:
            return {}
        exp = state.hosts[host]
        request: dict = {}
        if exp.container_manager == "containerd":
            request["registry_hosts"] = {"dir": (exp.containerd_cfg_dir or "/etc/containerd").rstrip("/") + "/certs.d"}
        if host in self._first:
            request["mirrors"] = self._first[host]
        return request

    def absorb_first(self, host: str, answer: dict) -> None:
        """Keep what planning needs in memory; hosts.toml texts (they may hold credentials) go no further."""
        self._os_release[host] = (answer.get("facts") or {}).get("os_release", "")
        found = answer.pop("registry_hosts", None) or {}
        if found.get("error"):
            self._hosts_errors[host] = f"{found.get('dir')}: {found['error']}"
        files = {}
        for name, entry in (found.get("files") or {}).items():
            if entry.get("error"):
                self._hosts_errors[host] = f"{entry.get('path')}: {entry['error']}"
            else:
                files[name] = (entry["path"], entry.get("text", ""))
        self._hosts_files[host] = files
        self._absorb(host, answer, self._settings_first.get(host))

    def second_requests(self, state: ExpectedState, reached: Sequence[str]) -> dict[str, dict]:
        """Plan again with what the nodes said; what round one did not already run goes to round two."""
        if self._broken:
            return {}
        try:
            settings = self._settings(state, self._os_release)
        except VerifyError as exc:
            self._broken = str(exc)
            return {}
        self._runner_checks = self._plan_runner(state, settings)
        self._final_settings = settings
        requests = {}
        for host in reached:
            share = self._nodes.setdefault(host, _NodeShare())
            share.checks = self._node_checks(state, settings, host, self._hosts_files.get(host, {}))
            section = self._section(share, host, share.checks, settings,
                                    lambda key, raw=share.raw: key in raw)
            if section:
                requests[host] = {"mirrors": section}
        return requests

    def absorb_second(self, host: str, answer: dict) -> None:
        self._absorb(host, answer, self._final_settings.get(host))

    def finish(self, state: ExpectedState, node_errors: Mapping[str, Optional[str]]) -> MirrorObservation:
        if self._broken:
            return MirrorObservation({plans.check_id(v, label): Verdict(Status.ERROR, self._broken)
                                      for v, label in plans.labels(state, from_nodes=True)})
        observation = self._finish_runner()
        for vantage, label in plans.labels(state, from_nodes=True):
            if vantage != RUNNER and node_errors.get(vantage):
                observation.verdicts[plans.check_id(vantage, label)] = Verdict(
                    "error", f"{label} from {vantage}: {node_errors[vantage]}")
        settings = self._final_settings
        for host, share in self._nodes.items():
            if node_errors.get(host) or host not in settings:
                continue
            proxies = settings[host].proxies
            results = {}
            for check in share.checks.values():
                for part in check.parts:
                    if part.probe is not None:
                        raw = share.raw.get(node_side.spec_key(part.probe, proxies))
                        results[part.probe] = node_side.translate(raw, part.probe)
            for check in share.checks.values():
                observation.verdicts[check.id] = judge(check, results)
            observation.stats[host] = _stats(share.checks, len(share.raw), share.requests, share.seconds,
                                             share.rounds)
        return observation

    # -- without nodes -----------------------------------------------------------
    def runner_only(self, state: ExpectedState) -> MirrorObservation:
        settings = self._settings(state, {})
        self._start_runner(state, settings)
        self._runner_checks = self._plan_runner(state, settings)
        return self._finish_runner()

    # -- nodes -------------------------------------------------------------------
    def _section(self, share: _NodeShare, host: str, checks: Mapping[str, CheckPlan],
                 settings: Mapping[str, HostSettings], done) -> Optional[dict]:
        proxies = settings[host].proxies
        probes = [p.probe for c in checks.values() for p in c.parts if p.probe is not None]
        todo = [p for p in dict.fromkeys(probes) if not done(node_side.spec_key(p, proxies))]
        if not todo:
            share.keys = {}
            return None
        section, share.keys = node_side.request(todo, proxies, self.timeout, self.retry, self.concurrency)
        return section

    def _absorb(self, host: str, answer: dict, settings: Optional[HostSettings]) -> None:
        share = self._nodes.get(host)
        section = answer.pop("mirrors", None)
        if share is None or section is None or settings is None:
            return
        raw, requests, seconds = node_side.raw_results(section, share.keys, settings.proxies)
        share.raw.update(raw)
        share.requests += requests
        share.seconds += seconds
        share.rounds += 1

    def _node_checks(self, state: ExpectedState, settings: Mapping[str, HostSettings], host: str,
                     files: Mapping[str, tuple[str, str]]) -> dict[str, CheckPlan]:
        problem = self._hosts_errors.get(host)

        def route(registry: str, s: HostSettings):
            manager = s.container_manager
            if manager == "containerd":
                found = endpoints.containerd_route(registry, files, s.proxies, s.containerd_mirrors)
                if problem and found.error is None and not found.source.startswith("/"):
                    return endpoints.Route(registry, "hosts.toml", error=f"containerd's hosts.toml unreadable: {problem}")
                return found
            if manager == "docker":
                return endpoints.docker_route(registry, s.docker_insecure, s.docker_mirrors, s.proxies)
            if manager == "crio":
                return endpoints.crio_route(registry, s.crio_registries, s.crio_insecure, s.proxies)
            return endpoints.runner_route(registry, s.insecure, None, None, s.proxies)

        def repo_trust(var: str, s: HostSettings):
            if var == "pyrepo_index" and s.pyrepo_cert:
                return s.validate_certs, (s.pyrepo_cert,), None
            return s.validate_certs, (), None

        return plans.build(state, settings, host, route, verify_files=lambda s: s.validate_certs,
                           send_credentials=False, repo_trust=repo_trust)

    # -- the runner --------------------------------------------------------------
    def _settings(self, state: ExpectedState, os_release: Mapping[str, str]) -> dict[str, HostSettings]:
        inventory, kubespray_dir, extra_vars, limit = self.args
        return host_settings.resolve(state, inventory, kubespray_dir, extra_vars, limit, os_release)

    def _start_runner(self, state: ExpectedState, settings: Mapping[str, HostSettings]) -> None:
        checks = self._plan_runner(state, settings)
        self._runner = _RunnerShare(RunnerProber(self.concurrency, self.timeout, self.retry))
        self._runner.start([p.probe for c in checks.values() for p in c.parts if p.probe])

    def _finish_runner(self) -> MirrorObservation:
        observation = MirrorObservation()
        if self._runner is None:
            return observation
        checks = self._runner_checks
        share = self._runner
        results = share.complete([p.probe for c in checks.values() for p in c.parts if p.probe])
        for check in checks.values():
            if share.error:
                observation.verdicts[check.id] = Verdict(Status.ERROR, f"{check.label}: {share.error}")
            else:
                observation.verdicts[check.id] = judge(check, results)
        share.prober.close()
        observation.stats[RUNNER] = _stats(checks, len(results), share.prober.requests, share.seconds)
        return observation

    def _plan_runner(self, state: ExpectedState, settings: Mapping[str, HostSettings]) -> dict[str, CheckPlan]:
        ca = self.ca_bundle

        def route(registry: str, s: HostSettings):
            return endpoints.runner_route(registry, s.insecure, s.registry_credentials.get(registry), ca, s.proxies)

        def verify_files(s: HostSettings):
            return False if not s.validate_certs else (ca or True)

        def repo_trust(var: str, s: HostSettings):
            verify = verify_files(s)
            if var == "pyrepo_index" and s.pyrepo_cert and verify is not False:
                if os.path.exists(s.pyrepo_cert):
                    return s.pyrepo_cert, (), None
                return verify, (), (f"pyrepo_cert {s.pyrepo_cert} is not on the runner: verified against "
                                    f"{describe_verify(verify)}")
            return verify, (), None

        return plans.build(state, settings, RUNNER, route, verify_files=verify_files, send_credentials=True,
                           repo_trust=repo_trust)


def _stats(checks: Mapping[str, CheckPlan], probes: int, requests: int, seconds: float, rounds: int = 0) -> dict:
    found = {"checks": len(checks), "probes": probes, "requests": requests, "seconds": round(seconds, 3)}
    if rounds:
        found["rounds"] = rounds
    return found
