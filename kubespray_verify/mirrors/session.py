"""One run's mirror checks: the runner's probes beside the nodes' round trips, verdicts for every check.

With nodes (`--from-nodes`), the node observation's first round also reads
each containerd node's hosts.toml files and every node's os-release; once the
expected state is final, the hosts' settings are templated, the runner's
probes start, and each node's probes ride in the observation's second round
(no round trip is added beyond observe.py's two). Without nodes, only the
runner probes, with the facts the inventory gives.

The result (`MirrorObservation`) is plain JSON with no credential in it, so
`pytest -n` workers share it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from kubespray_verify.errors import VerifyError
from kubespray_verify.http import RetryPolicy, Timeouts, describe_verify
from kubespray_verify.mirrors import endpoints, node_side, plan as plans, settings as host_settings
from kubespray_verify.mirrors.judge import MirrorVerdict, judge
from kubespray_verify.mirrors.outcomes import ProbeResult
from kubespray_verify.mirrors.plan import RUNNER, CheckPlan
from kubespray_verify.mirrors.runner import DEFAULT_CONCURRENCY, RunnerProber
from kubespray_verify.mirrors.settings import HostSettings
from kubespray_verify.model import ExpectedState


@dataclass
class MirrorObservation:
    verdicts: dict[str, MirrorVerdict] = field(default_factory=dict)  # check id → verdict
    stats: dict[str, dict] = field(default_factory=dict)  # vantage → checks, probes, requests, seconds

    def to_json(self) -> dict:
        return {"verdicts": {k: v.to_json() for k, v in self.verdicts.items()}, "stats": self.stats}

    @classmethod
    def from_json(cls, data: Mapping) -> "MirrorObservation":
        return cls({k: MirrorVerdict.from_json(v) for k, v in data.get("verdicts", {}).items()},
                   dict(data.get("stats", {})))


class MirrorRun:
    """The mirror share of one run; plugs into `observe.observe` as its `extension`."""

    def __init__(self, inventory: Sequence[str], kubespray_dir: Optional[str], extra_vars: Sequence[str] = (),
                 limit: Optional[str] = None, *, ca_bundle: Optional[str] = None,
                 concurrency: int = DEFAULT_CONCURRENCY, timeout: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy()):
        self.args = (list(inventory), kubespray_dir, list(extra_vars), limit)
        self.ca_bundle = ca_bundle
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
        self._os_release: dict[str, str] = {}
        self._hosts_files: dict[str, dict[str, tuple[str, str]]] = {}  # host → certs.d name → (path, text)
        self._hosts_errors: dict[str, str] = {}
        self._node_plans: dict[str, dict[str, CheckPlan]] = {}
        self._node_keys: dict[str, dict] = {}
        self._node_results: dict[str, tuple[dict, int, float]] = {}
        self._runner: Optional[tuple[dict[str, CheckPlan], threading.Thread, dict]] = None

    # -- observe.py's hooks ------------------------------------------------------
    def first_request(self, host: str, state: ExpectedState) -> dict:
        exp = state.hosts[host]
        if exp.container_manager != "containerd":
            return {}
        return {"registry_hosts": {"dir": (exp.containerd_cfg_dir or "/etc/containerd").rstrip("/") + "/certs.d"}}

    def absorb_first(self, host: str, answer: dict) -> None:
        """Keep what round two needs in memory; hosts.toml texts (they may hold credentials) go no further."""
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

    def second_requests(self, state: ExpectedState, reached: Sequence[str]) -> dict[str, dict]:
        """Template the settings with the nodes' facts, start the runner's probes, plan each reached node's."""
        settings = self._settings(state, self._os_release)
        self._start_runner(state, settings)
        requests = {}
        for host in reached:
            checks = self._node_checks(state, settings, host)
            probes = [p.probe for c in checks.values() for p in c.parts if p.probe is not None]
            self._node_plans[host] = checks
            if not probes:
                continue
            section, keys = node_side.request(probes, settings[host].proxies, self.timeout, self.retry,
                                              self.concurrency)
            self._node_keys[host] = keys
            requests[host] = {"mirrors": section}
        return requests

    def absorb_second(self, host: str, answer: dict) -> None:
        if host in self._node_keys:
            self._node_results[host] = node_side.results(answer.pop("mirrors", None), self._node_keys[host])

    def finish(self, state: ExpectedState, node_errors: Mapping[str, Optional[str]]) -> MirrorObservation:
        observation = self._join_runner()
        for vantage, label in plans.labels(state, from_nodes=True):
            if vantage == RUNNER:
                continue
            check = plans.check_id(vantage, label)
            if node_errors.get(vantage):
                observation.verdicts[check] = MirrorVerdict("error", f"{label} from {vantage}: {node_errors[vantage]}")
        for host, checks in self._node_plans.items():
            if node_errors.get(host):
                continue
            results, requests, seconds = self._node_results.get(host, ({}, 0, 0.0))
            for check in checks.values():
                observation.verdicts[check.id] = judge(check, results)
            observation.stats[host] = _stats(checks, len(self._node_keys.get(host, {})), requests, seconds)
        return observation

    # -- without nodes -----------------------------------------------------------
    def runner_only(self, state: ExpectedState) -> MirrorObservation:
        self._start_runner(state, self._settings(state, {}))
        return self._join_runner()

    # -- the runner's probes -----------------------------------------------------
    def _settings(self, state: ExpectedState, os_release: Mapping[str, str]) -> dict[str, HostSettings]:
        inventory, kubespray_dir, extra_vars, limit = self.args
        return host_settings.resolve(state, inventory, kubespray_dir, extra_vars, limit, os_release)

    def _start_runner(self, state: ExpectedState, settings: Mapping[str, HostSettings]) -> None:
        checks = self._runner_checks(state, settings)
        outcome: dict = {}

        def probe() -> None:
            prober = RunnerProber(self.concurrency, self.timeout, self.retry)
            started = time.monotonic()
            try:
                outcome["results"] = prober.run(p.probe for c in checks.values() for p in c.parts if p.probe)
            except VerifyError as exc:  # broken infrastructure: every runner check says so
                outcome["error"] = str(exc)
            finally:
                outcome["requests"] = prober.requests
                outcome["seconds"] = time.monotonic() - started
                prober.close()

        thread = threading.Thread(target=probe, name="mirrors-runner", daemon=True)
        thread.start()
        self._runner = (checks, thread, outcome)

    def _join_runner(self) -> MirrorObservation:
        observation = MirrorObservation()
        if self._runner is None:
            return observation
        checks, thread, outcome = self._runner
        thread.join()
        results: dict = outcome.get("results", {})
        for check in checks.values():
            if outcome.get("error"):
                observation.verdicts[check.id] = MirrorVerdict("error", f"{check.label}: {outcome['error']}")
            else:
                observation.verdicts[check.id] = judge(check, results)
        observation.stats[RUNNER] = _stats(checks, len(results), outcome.get("requests", 0), outcome.get("seconds", 0))
        return observation

    def _runner_checks(self, state: ExpectedState, settings: Mapping[str, HostSettings]) -> dict[str, CheckPlan]:
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

    def _node_checks(self, state: ExpectedState, settings: Mapping[str, HostSettings], host: str) -> dict[str, CheckPlan]:
        files = self._hosts_files.get(host, {})
        problem = self._hosts_errors.get(host)

        def route(registry: str, s: HostSettings):
            manager = s.container_manager
            if manager == "containerd":
                found = endpoints.containerd_route(registry, files, s.proxies)
                if problem and found.error is None and found.source.startswith("no hosts.toml"):
                    return endpoints.Route(registry, "hosts.toml", error=f"containerd's hosts.toml unreadable: {problem}")
                return found
            if manager == "docker":
                return endpoints.docker_route(registry, s.docker_insecure, s.docker_mirrors, s.proxies)
            if manager == "crio":
                return endpoints.crio_route(registry, s.crio_registries, s.crio_insecure, s.proxies)
            return endpoints.runner_route(registry, s.insecure, None, None, s.proxies)

        def repo_trust(var: str, s: HostSettings):
            verify = s.validate_certs
            if var == "pyrepo_index" and s.pyrepo_cert:
                return verify, (s.pyrepo_cert,), None
            return verify, (), None

        return plans.build(state, settings, host, route, verify_files=lambda s: s.validate_certs,
                           send_credentials=False, repo_trust=repo_trust)


def _stats(checks: Mapping[str, CheckPlan], probes: int, requests: int, seconds: float) -> dict:
    return {"checks": len(checks), "probes": probes, "requests": requests, "seconds": round(seconds, 3)}


__all__ = ["MirrorObservation", "MirrorRun", "ProbeResult"]
