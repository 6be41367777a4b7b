"""The mirror checks of a run, and the probes they share (pure).

A check is one (vantage point, target): `runner::files:kubeadm`,
`node1::registry:10.0.0.2:5000/calico/node:v3.31.7`, `node2::repo:debian_repo`.
A target's label comes from Kubespray's own names (the download item, the
image as the item writes it, the repo variable), so ids are known before any
node is reached. Behind a check are its parts: each a probe (a URL, or an
image at the endpoints a vantage point would try) and what to judge its
answer against (the hosts and architectures that need it, a pinned digest).

Probes are values: equal probes are one probe, asked once per vantage point
whatever the number of hosts and items that share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Union

from kubespray_verify.http.policy import Credentials, ProxySettings, split_userinfo
from kubespray_verify.redact import redact_url
from kubespray_verify.mirrors import repos
from kubespray_verify.mirrors.endpoints import Route, Verify
from kubespray_verify.model import ExpectedState, FileItem, HostExpectation, ImageItem
from kubespray_verify.refs import parse_reference

if TYPE_CHECKING:  # the settings come from ansible-core; planning only reads them
    from kubespray_verify.resolve.host_settings import HostSettings

RUNNER = "runner"


@dataclass(frozen=True)
class UrlProbe:
    """The first of `urls` that answers (HEAD, or a one-byte GET where HEAD is refused)."""

    urls: tuple[str, ...]  # without credentials
    verify: Verify  # runner: True, False or a CA bundle; a node: True or False
    proxies: ProxySettings
    credentials: Optional[Credentials] = None  # runner only
    accept_types: tuple[str, ...] = ()
    ca_files: tuple[str, ...] = ()  # node paths added to the node's trust store


@dataclass(frozen=True)
class ImageProbe:
    """A manifest (ping, HEAD with Accept, the index when it is one) at the endpoints of `route`, in order."""

    repository: str
    tag: str
    route: Route


Probe = Union[UrlProbe, ImageProbe]


@dataclass
class Part:
    probe: Optional[Probe]
    context: dict = field(default_factory=dict)  # what the answer is judged against (JSON-able, no secrets)
    error: Optional[str] = None  # the probe could not even be built (a variable that does not template...)


@dataclass
class CheckPlan:
    vantage: str
    label: str  # files:<item> | registry:<repo:tag> | repo:<variable>
    parts: list[Part] = field(default_factory=list)
    skip: Optional[str] = None  # the target does not apply to this vantage point (why)

    @property
    def id(self) -> str:
        return check_id(self.vantage, self.label)

    @property
    def kind(self) -> str:
        return self.label.split(":", 1)[0]


def check_id(vantage: str, label: str) -> str:
    return f"{vantage}::{label}"


def file_label(item: FileItem) -> str:
    return f"files:{item.name}"


def image_label(item: ImageItem) -> str:
    return f"registry:{item.repo}:{item.tag}"


def repo_label(var: str) -> str:
    return f"repo:{var}"


# -- which targets each vantage point checks (test ids; no node needed) -----------


def node_gets_downloads(state: ExpectedState, host: str) -> bool:
    """Under download_run_once only the download_delegate fetches files and images; the others get copies."""
    return not state.download.run_once or state.download.host == host


def labels(state: ExpectedState, from_nodes: bool) -> list[tuple[str, str]]:
    """(vantage, label) of every check, in a stable order: the runner's first, then each host's."""
    runner: dict[str, None] = {}
    per_node: list[tuple[str, str]] = []
    for host, exp in state.hosts.items():
        own = _host_labels(exp, node_gets_downloads(state, host))
        runner.update(dict.fromkeys(_host_labels(exp, True)))
        if from_nodes:
            per_node += [(host, label) for label in own]
    return [(RUNNER, label) for label in runner] + per_node


def _host_labels(exp: HostExpectation, downloads: bool) -> list[str]:
    found: dict[str, None] = {}
    if downloads:
        for item in exp.items:
            found[file_label(item) if isinstance(item, FileItem) else image_label(item)] = None
    for var in exp.mirror_vars:
        found[repo_label(var)] = None
    return list(found)


# -- building the checks, once settings (and a node's config) are known ----------


RouteFor = Callable[[str, "HostSettings"], Route]  # (registry, host settings) → route
# (repo variable, host settings) → (verify, CA files on the node, a note for the verdict)
RepoTrust = Callable[[str, "HostSettings"], tuple[Verify, tuple[str, ...], Optional[str]]]


def build(
    state: ExpectedState,
    settings: Mapping[str, "HostSettings"],
    vantage: str,
    route_for: RouteFor,
    *,
    verify_files: Callable[["HostSettings"], Verify],
    send_credentials: bool,
    repo_trust: Optional[RepoTrust] = None,
) -> dict[str, CheckPlan]:
    """The checks of `vantage` (RUNNER or a host), by label.

    The runner checks every host's targets (each host's own URL, image and
    repo); a node checks its own. `route_for` says how the vantage point
    reaches a registry; `send_credentials` is False for nodes (credentials
    stay on the runner).
    """
    builder = _Builder(vantage, send_credentials, route_for, verify_files,
                       repo_trust or (lambda var, s: (verify_files(s), (), None)))
    for host in (list(state.hosts) if vantage == RUNNER else [vantage]):
        exp, host_settings = state.hosts[host], settings[host]
        if vantage == RUNNER or node_gets_downloads(state, host):
            for item in exp.items:
                if isinstance(item, FileItem):
                    builder.file(item, host, host_settings)
                else:
                    builder.image(item, host, exp, host_settings)
        builder.repos(host, host_settings)
    for plan in builder.checks.values():
        if plan.parts:
            plan.skip = None  # skipped for one host but probed for another: not a skip
    return builder.checks


class _Builder:
    def __init__(self, vantage, send_credentials, route_for, verify_files, repo_trust):
        self.vantage = vantage
        self.send_credentials = send_credentials
        self.route_for = route_for
        self.verify_files = verify_files
        self.repo_trust = repo_trust
        self.checks: dict[str, CheckPlan] = {}
        self._skipped: dict[str, dict[str, list[str]]] = {}  # label → reason → hosts

    def plan(self, label: str) -> CheckPlan:
        return self.checks.setdefault(label, CheckPlan(self.vantage, label))

    def add(self, label: str, probe: Optional[Probe], host: str, context: dict, error: Optional[str] = None) -> None:
        plan = self.plan(label)
        if error is None:
            for existing in plan.parts:
                if existing.error is None and existing.probe == probe:
                    existing.context["hosts"].append(host)
                    existing.context.get("needs", []).extend(context.get("needs", []))
                    return
        plan.parts.append(Part(probe, {**context, "hosts": [host]}, error))

    def skip(self, label: str, reason: str, host: Optional[str] = None) -> None:
        """Skipped for `host` (or for every host) because of `reason`; the runner says which hosts."""
        plan = self.plan(label)
        if host is None or self.vantage != RUNNER:
            plan.skip = plan.skip or (f"{host}: {reason}" if host else reason)
            return
        hosts = self._skipped.setdefault(label, {}).setdefault(reason, [])
        hosts.append(host)
        plan.skip = "no host uses it: " + "; ".join(f"{why} ({', '.join(names)})"
                                                    for why, names in self._skipped[label].items())

    def file(self, item: FileItem, host: str, s: HostSettings) -> None:
        bare, from_url = split_userinfo(item.url)
        creds = from_url or s.file_credentials.get(item.name)
        probe = UrlProbe((bare,), self.verify_files(s), s.proxies, creds if self.send_credentials else None)
        self.add(file_label(item), probe, host, {"url": redact_url(bare), "credentialed": creds is not None})

    def image(self, item: ImageItem, host: str, exp: HostExpectation, s: HostSettings) -> None:
        label = image_label(item)
        try:
            ref = parse_reference(item.reference)
        except ValueError as exc:
            self.add(label, None, host, {}, error=f"download item {item.name} of {host}: {exc}")
            return
        context = {
            "reference": item.reference,
            "needs": [{"host": host, "arch": exp.arch, "digest": item.digest}],
            "credentialed": ref.registry in s.registry_credentials,
        }
        self.add(label, ImageProbe(ref.repository, ref.tag or "latest", self.route_for(ref.registry, s)), host, context)

    def repos(self, host: str, s: HostSettings) -> None:
        rooted = repos.roots(s.repos)
        broken = [v for v in s.errors if v in repos.REPO_VARS]
        for var in list(s.repos) + [v for v in broken if v not in s.repos]:
            label = repo_label(var)
            if var in s.errors:
                self.add(label, None, host, {}, error=f"host {host}: variable {var} does not template: {s.errors[var]}")
                continue
            if var in rooted:
                self.skip(label, f"{var} is only the root of {', '.join(rooted[var])}, which are checked on their own")
                continue
            why_not = repos.applies(var, s.facts, s.container_manager)
            if why_not:
                self.skip(label, why_not, host)
                continue
            bare, creds = split_userinfo(s.repos[var])
            spec = repos.probe_for(var, bare, s.facts, host)
            verify, ca_files, note = self.repo_trust(var, s)
            context = {"var": var, "url": redact_url(bare), "assumed": list(spec.assumed) + ([note] if note else []),
                       "credentialed": creds is not None}
            if spec.missing:
                self.add(label, None, host, context, error=f"cannot build the {var} URL to probe: {spec.missing}")
                continue
            probe = UrlProbe(spec.urls, verify, s.proxies, creds if self.send_credentials else None,
                             spec.accept_types, ca_files)
            self.add(label, probe, host, context)
