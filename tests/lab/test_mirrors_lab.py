"""The mirror checks on the lab's real mirrors: from the runner and from each node, clean and broken.

Two tests run the whole suite (`-m mirrors`) on the lab's inventory and read
its JUnit report; the others call the same code in-process (`MirrorRun` in
observe.py's round trips), which is quicker. What a test breaks (a file, a
hosts.toml, a mirror, a node's link) it puts back.
"""

from __future__ import annotations

import platform
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from kubespray_verify.nodes import connection
from kubespray_verify.resolve.cache import resolve_cached
from kubespray_verify.lab import artifacts
from kubespray_verify.mirrors.session import MirrorObservation, MirrorRun
from kubespray_verify.nodes.observe import observe
from tests.lab.suite_run import run_suite, sessions

pytestmark = pytest.mark.lab

NODES = ("node1", "node2", "node3")  # containerd, docker, crio
STATS = re.compile(r"^(\S+): (\d+) checks, (\d+) distinct probes, (\d+) HTTP requests(?: in \d+ round trips?)?, "
                   r"([\d.]+) s$", re.M)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One expected-state cache for the module's runs: runs with the same inputs resolve once."""
    return tmp_path_factory.mktemp("expected-cache")


@pytest.fixture
def tmp_path(tmp_path, cache):
    (tmp_path / "cache").symlink_to(cache)
    return tmp_path


def run_mirror_checks(lab, tmp_path: Path, *extra: str, extra_vars: dict | None = None):
    """→ ({test id: (outcome, message, or a pass's verdict)}, {vantage: (checks, probes, requests)}, stdout)."""
    cases, stdout = run_suite(lab, tmp_path, "-m", "mirrors", "-W", "error::pytest.PytestUnraisableExceptionWarning",
                              *extra, extra_vars=extra_vars)
    outcomes = {(name[name.index("[") + 1:-1] if "[" in name else name): outcome for name, outcome in cases.items()}
    stats = {m.group(1): tuple(int(g) for g in m.groups()[1:4]) for m in STATS.finditer(stdout)}
    return outcomes, stats, stdout


def mirror_verdicts(lab, tmp_path: Path, extra_vars: dict | None = None, from_nodes: bool = True,
                    ca: str | None = None, stats: dict | None = None) -> dict[str, tuple[str, str]]:
    """The plugin's path in-process: {check id: (pass | fail | error | skip, message)}; figures into `stats`."""
    inventory = [str(lab.inventory_dir)]
    extra = []
    if extra_vars:
        path = tmp_path / f"vars-{len(list(tmp_path.glob('vars-*')))}.yml"
        path.write_text(yaml.safe_dump(extra_vars))
        extra = [f"@{path}"]
    facts = {n.name: {"architecture": platform.machine(), "system": "Linux"} for n in lab.nodes}
    state = resolve_cached(inventory, lab.kubespray_dir, extra, node_facts=facts) if extra else lab.expected
    run = MirrorRun(inventory, lab.kubespray_dir, extra, ca_bundle=ca)
    if from_nodes:
        nodes = connection.nodes(inventory, extra, connect_timeout=3)
        cluster = observe(state, nodes, reresolve=lambda _: state, wants=frozenset(), extension=run)
        observation = MirrorObservation.from_json(cluster.mirrors)
    else:
        observation = run.runner_only(state)
    if stats is not None:
        stats.update(observation.stats)
    return {check: (v.status, v.message) for check, v in observation.verdicts.items()}


def registry_checks(lab, vantage: str, host: str = "node1") -> list[str]:
    items = lab.expected.hosts[host].items
    return [f"{vantage}::registry:{i.repo}:{i.tag}" for i in items if i.kind == "image"]


def not_passed(outcomes: dict) -> dict:
    return {k: v for k, v in outcomes.items() if v[0] != "passed"}


def test_clean_lab_every_mirror_answers_from_the_runner_and_each_node(lab, tmp_path):
    before = sessions(lab)
    outcomes, stats, stdout = run_mirror_checks(lab, tmp_path)
    after = sessions(lab)
    # The nodes' mirror probes ride in the observation's round trip: one SSH session per node for the run.
    assert {n: after[n] - before[n] for n in after} == {n: 1 for n in after}
    assert all(f"{n}: " in line and "in 1 round trip" in line for n in NODES
               for line in stdout.splitlines() if line.startswith(f"{n}: "))
    assert not_passed(outcomes) == {}
    expected = {f"{v}::files:{i.name}" for v in ("runner", *NODES) for h in NODES for i in lab.expected.hosts[h].items
                if i.kind == "file" and v in ("runner", h)}
    assert expected <= set(outcomes)
    assert set(registry_checks(lab, "runner")) | set(registry_checks(lab, "node1")) <= set(outcomes)
    # Each distinct target once per vantage point: the runner probes each URL and image once for all three nodes.
    runner_targets = {i.url if i.kind == "file" else i.reference for h in NODES for i in lab.expected.hosts[h].items}
    assert stats["runner"][1] == len(runner_targets) < stats["runner"][0] + sum(s[0] for n, s in stats.items() if n != "runner")
    assert set(stats) == {"runner", *NODES}
    # Each node's verdict names the endpoint its runtime would use.
    reg = lab.registry.host
    image = f"registry:{reg}/calico/node:v3.31.7"
    assert f"from mirror http://{reg} (/etc/containerd/certs.d/{reg}/hosts.toml)" in outcomes[f"node1::{image}"][1]
    assert f"from http://{reg} (docker_insecure_registries)" in outcomes[f"node2::{image}"][1]
    assert f"from http://{reg} (crio_registries)" in outcomes[f"node3::{image}"][1]
    assert "(HEAD 200" in outcomes["node1::files:kubeadm"][1]


@contextmanager
def edited(path: Path, text: str):
    before = path.read_text()
    path.write_text(text)
    try:
        yield
    finally:
        path.write_text(before)


def test_a_missing_file_and_a_dead_mirror_in_a_nodes_hosts_toml(lab, tmp_path):
    """404 on the file mirror from everywhere; node1's containerd falls back to its server past a dead mirror."""
    kubeadm = lab.expected.hosts["node1"].item("kubeadm")
    served = artifacts.mirror_path(lab.layout.files_repo_dir, lab.registry.files_repo, kubeadm)
    reg, hub = lab.registry.host, lab.layout.hub_ip
    hosts_toml = lab.node("node1").path(f"/etc/containerd/certs.d/{reg}/hosts.toml")
    dead_mirror = (f'server = "http://{reg}"\n\n'
                   f'[host."http://{hub}:5999"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n\n'
                   f'[host."http://{reg}"]\n  capabilities = ["pull"]\n  skip_verify = true\n')
    hidden = served.with_suffix(".hidden")
    served.rename(hidden)
    try:
        with edited(hosts_toml, dead_mirror):
            verdicts = mirror_verdicts(lab, tmp_path, stats=(stats := {}))
    finally:
        hidden.rename(served)
    failed = {k: v for k, v in verdicts.items() if v[0] != "pass"}
    assert set(failed) == {"runner::files:kubeadm", "node1::files:kubeadm", "node2::files:kubeadm",
                           "node3::files:kubeadm"}
    assert all(status == "fail" and f"not found on {hub}:8080 (HTTP 404)" in message
               for status, message in failed.values())
    assert failed["node1::files:kubeadm"][1].startswith("files:kubeadm from node1: file http://")
    status, verdict = verdicts[f"node1::registry:{reg}/calico/node:v3.31.7"]
    assert status == "pass" and f"from server http://{reg} (/etc/containerd/certs.d/{reg}/hosts.toml)" in verdict
    assert f"after mirror http://{hub}:5999 failed: registry API: connection to {hub}:5999 refused" in verdict
    assert f"mirror http://{reg} passed over: capabilities [pull] lack resolve" in verdict
    # node1's hosts.toml is not the one the inventory describes: its images were asked again in round two
    assert (stats["node1"]["rounds"], stats["node2"]["rounds"]) == (2, 1)


def test_stopped_file_mirror(lab, tmp_path):
    lab.stop_mirror("files_repo")
    try:
        verdicts = mirror_verdicts(lab, tmp_path)
    finally:
        lab.start_mirror("files_repo")
    files = {k: v for k, v in verdicts.items() if "::files:" in k}
    assert files and all(status == "fail" and "refused: nothing listens there" in message
                         for status, message in files.values())
    assert all(status == "pass" for k, (status, _) in verdicts.items() if "::files:" not in k)


def test_secure_registry_right_and_wrong_credentials_and_a_missing_ca(lab, tmp_path):
    reg = lab.registry
    site = {"registry_host": reg.secure_host,
            "containerd_registry_auth": [{"registry": reg.secure_host, "username": reg.username,
                                          "password": reg.password}]}
    verdicts = mirror_verdicts(lab, tmp_path, site, ca=str(reg.ca_file))
    images = {k: v for k, v in verdicts.items() if "::registry:" in k}
    assert images and {status for status, _ in images.values()} == {"pass"}
    # docker and cri-o nodes trust it through their certs.d CA, and hold no credentials of their own
    docker = images[f"node2::registry:{reg.secure_host}/calico/node:v3.31.7"][1]
    assert "asks for credentials (HTTP 401); they stay on the runner, which checks them" in docker

    wrong = dict(site, containerd_registry_auth=[{"registry": reg.secure_host, "username": reg.username,
                                                  "password": "not-the-password"}])
    verdicts = mirror_verdicts(lab, tmp_path, wrong, from_nodes=False, ca=str(reg.ca_file))
    images = {k: v for k, v in verdicts.items() if "::registry:" in k}
    assert images and all(status == "fail" and "rejected the credentials" in message
                          for status, message in images.values())
    assert not any("not-the-password" in m or reg.password in m for _, m in verdicts.values())

    verdicts = mirror_verdicts(lab, tmp_path, site, from_nodes=False)
    images = {k: v for k, v in verdicts.items() if "::registry:" in k}
    assert images and all(status == "fail" and f"TLS certificate of {reg.secure_host} not trusted" in message
                          for status, message in images.values())


def test_a_node_cut_off_from_the_hub(lab, tmp_path):
    lab.drift("node3", "node-unreachable")
    try:
        outcomes, _, _ = run_mirror_checks(lab, tmp_path, "--connect-timeout=3")
    finally:
        lab.heal("node3")
    failed = not_passed(outcomes)
    node3 = {t for t in outcomes if t.startswith("node3::")}
    assert node3 and set(failed) == node3
    assert all(kind == "error" and "node3: unreachable" in message for kind, message in failed.values())


def test_package_repos_from_the_runner_and_the_nodes(lab, tmp_path):
    root, files_repo = lab.layout.files_repo_dir, lab.registry.files_repo
    tree = {
        "site/debian/dists/bookworm/InRelease": b"Origin: Debian\n",
        "site/docker-ce/debian/dists/bookworm/Release": b"Origin: Docker\n",  # no InRelease: apt's fallback
        "site/rocky/9/BaseOS/x86_64/os/repodata/repomd.xml": b"<repomd/>\n",
        "site/charts/index.yaml": b"apiVersion: v1\nentries: {}\n",
        "site/pypi/simple/index.html": b"<html><body></body></html>\n",
    }
    for path, data in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        (root / path).chmod(0o644)
    repos = {
        "debian_repo": f"{files_repo}/site/debian",
        "docker_debian_repo_base_url": f"{files_repo}/site/docker-ce/debian",
        "docker_debian_repo_gpgkey": f"{files_repo}/site/docker-ce/debian/gpg",  # not served
        "yum_repo": f"{files_repo}/site/rocky/$releasever/BaseOS/$basearch/os",
        "helm_stable_repo_url": f"{files_repo}/site/charts",
        "pyrepo_index": f"{files_repo}/site/pypi/simple",
    }
    try:
        outcomes = mirror_verdicts(lab, tmp_path, repos)
        rocky = {**repos, "ansible_distribution": "Rocky", "ansible_os_family": "RedHat",
                 "ansible_distribution_major_version": "9"}
        as_rocky = mirror_verdicts(lab, tmp_path, rocky, from_nodes=False)
    finally:
        for path in tree:
            (root / path).unlink()
    passed = {t for t, (kind, _) in outcomes.items() if kind == "pass"}
    assert {"runner::repo:debian_repo", "node1::repo:debian_repo", "node3::repo:debian_repo",
            "node2::repo:docker_debian_repo_base_url", "runner::repo:helm_stable_repo_url",
            "runner::repo:pyrepo_index", "node1::repo:pyrepo_index"} <= passed
    assert outcomes["node2::repo:docker_debian_repo_gpgkey"][0] == "fail"
    assert "not found on" in outcomes["node2::repo:docker_debian_repo_gpgkey"][1]
    assert "/dists/bookworm/InRelease: not found" in outcomes["node2::repo:docker_debian_repo_base_url"][1]
    assert outcomes["node1::repo:yum_repo"] == ("skip", "node1: yum_repo serves RedHat hosts, not Debian 12")
    assert outcomes["runner::repo:yum_repo"][0] == "skip"
    kind, verdict = as_rocky["runner::repo:yum_repo"]
    assert kind == "pass"
    assert "/site/rocky/9/BaseOS/x86_64/os/repodata/repomd.xml answers" in verdict
    assert "$releasever=9 (major version, inventory facts of node1)" in verdict


def test_a_name_that_does_not_resolve_on_a_node(lab):
    """On the node itself (its namespace has no route out: the lookup fails there, nothing leaves the lab)."""
    import json

    from kubespray_verify.nodes.probe.command import probe_command
    from kubespray_verify.http.policy import NO_RETRY, ProxySettings, Timeouts
    from kubespray_verify.mirrors import node_side
    from kubespray_verify.mirrors.plan import UrlProbe

    probe = UrlProbe(("http://files.kubespray-verify.invalid:8080/kubeadm",), True, ProxySettings())
    section, keys = node_side.request([probe], ProxySettings(), Timeouts(connect=2, read=2), NO_RETRY, 1)
    out = lab.node("node1").exec(["bash", "-c", probe_command({"mirrors": section})]).stdout
    results, requests, _ = node_side.results(json.loads(out)["mirrors"], keys)
    (attempt,) = results[probe].attempts
    assert attempt.error_type == "NameResolutionFailed" and requests == 1
    assert attempt.error.endswith("cannot resolve host files.kubespray-verify.invalid")
