"""The fix planner: failures + image stores + Kubespray's download mode → actions. Tables, no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kubespray_verify.fix import plan as fix_plan
from kubespray_verify.fix.plan import (CACHE_IMAGE, COPY, CORRECT, DOWNLOAD, FETCH, PULL, PUSH, RUNNER, TAG,
                                       DownloadMode, Failure, NodeState, file_cache_name, image_cache_name, plan)
from kubespray_verify.model import DownloadDelegate, ExpectedState, FileItem, HostExpectation, ImageItem
from kubespray_verify.refs import parse_reference
from kubespray_verify.runtimes.parsers import NodeImage

REG = "10.200.0.2:5000"
PIN = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64
SERVED = "sha256:" + "3" * 64
NODE = ImageItem("calico_node", f"{REG}/calico/node", "v3.31.7", PIN, ("k8s_cluster",))
DNS = ImageItem("coredns", f"{REG}/coredns/coredns", "v1.14.2", None, ("kube_node",))
KUBEADM = FileItem("kubeadm", "http://user:secret@10.200.0.2:8080/kubeadm", "/tmp/releases/kubeadm-v1.36.4-amd64",
                   "sha256:" + "a" * 64, False, "root", "0755", ("k8s_cluster",))
CNI = FileItem("cni", "http://10.200.0.2:8080/cni.tgz", "/tmp/releases/cni-plugins.tgz", "sha256:" + "b" * 64,
               True, "root", "0755", ("k8s_cluster",))
RUNTIME = {"node1": "containerd", "node2": "docker", "node3": "crio"}


def state(download=DownloadDelegate(False, None), arch=None) -> ExpectedState:
    hosts = {h: HostExpectation(h, (arch or {}).get(h, "amd64"), "inventory", [NODE, KUBEADM, CNI] +
                                ([DNS] if h == "node3" else []), container_manager=rt)
             for h, rt in RUNTIME.items()}
    return ExpectedState("/ks", "v2.30.0", hosts, download=download)


def image(ref: str, digest: str) -> NodeImage:
    return NodeImage(names=frozenset({parse_reference(ref)}), target_digest=digest)


def nodes(images=None, arch=None, errors=None) -> dict[str, NodeState]:
    return {h: NodeState(h, rt, (arch or {}).get(h, "amd64"), tuple((images or {}).get(h, ())),
                         error=(errors or {}).get(h)) for h, rt in RUNTIME.items()}


def summary(p) -> list[tuple]:
    """(kind, where it runs, targets) for every action, in plan order."""
    return [(a.kind, a.host, a.targets) for a in p.actions]


RUN_ONCE = DownloadMode(run_once=True, delegate="node1")
CACHE = "/tmp/kubespray_cache"

IMAGE_CASES = {
    # name: (mode, hosts missing calico_node, images held, expected actions)
    "default: each node pulls its own": (
        DownloadMode(), ["node1", "node3"], {},
        [(PULL, "node1", ("node1",)), (PULL, "node3", ("node3",))]),
    "run_once: delegate pulls once, pushed only to the others that miss it": (
        RUN_ONCE, ["node1", "node2", "node3"], {},
        [(PULL, "node1", ("node1",)), (PUSH, "node1", ("node2", "node3"))]),
    "run_once: delegate holding it is only the source": (
        RUN_ONCE, ["node3"], {"node1": [image(NODE.reference, PIN)]},
        [(PUSH, "node1", ("node3",))]),
    "run_once: delegate not needing it pulls it for the others": (
        RUN_ONCE, ["node2"], {},
        [(PULL, "node1", ()), (PUSH, "node1", ("node2",))]),
    "held under another name: tagged, not transferred": (
        RUN_ONCE, ["node2"], {"node2": [image("10.200.0.2:5443/calico/node:v3.31.7", PIN)]},
        [(TAG, "node2", ("node2",))]),
    "another name with other content is no source": (
        DownloadMode(), ["node2"], {"node2": [image("10.200.0.2:5443/calico/node:v3.31.7", OTHER)]},
        [(PULL, "node2", ("node2",))]),
    "localhost: the runner's docker pulls and pushes": (
        DownloadMode(run_once=True, delegate="localhost", localhost=True), ["node1", "node3"], {},
        [(PULL, RUNNER, ("node1", "node3")), (PUSH, RUNNER, ("node1", "node3"))]),
    "force_cache, image in the cache: every node loads it": (
        DownloadMode(force_cache=True), ["node2", "node3"], {},
        [(PUSH, RUNNER, ("node2", "node3"))]),
    "run_once + force_cache, not cached: delegate pulls, cache filled, the others load from it": (
        DownloadMode(run_once=True, delegate="node1", force_cache=True), ["node1", "node2"], {},
        [(PULL, "node1", ("node1",)), (CACHE_IMAGE, "node1", ()), (PUSH, RUNNER, ("node2",))]),
}


@pytest.mark.parametrize("name", IMAGE_CASES)
def test_image_plans(name):
    mode, missing, held, expected = IMAGE_CASES[name]
    cached = {image_cache_name(NODE, False)} if name.startswith("force_cache, image in") else set()
    result = plan(state(), nodes(held), [Failure(h, NODE) for h in missing], mode, cached=cached)
    assert summary(result) == expected
    assert not result.unfixable


def test_pull_is_by_digest_then_tag_in_the_nodes_runtime():
    result = plan(state(), nodes(), [Failure("node2", NODE)], DownloadMode())
    (pull,) = result.actions
    assert pull.source == f"{NODE.repo}@{PIN}"
    assert pull.commands == (f"node2: docker pull -q {NODE.repo}@{PIN}",
                             f"node2: docker tag {NODE.repo}@{PIN} {NODE.reference}")


def test_push_streams_export_into_each_targets_own_import():
    result = plan(state(), nodes(), [Failure(h, NODE) for h in ("node1", "node2", "node3")], RUN_ONCE)
    push = result.actions[-1]
    assert push.export_argv == ("ctr", "-n", "k8s.io", "images", "export", "--platform", "linux/amd64", "-",
                                NODE.reference)
    assert push.import_argv == {"node2": ("docker", "load", "-q"), "node3": ("podman", "load", "-q")}
    assert push.commands[0].startswith("node1: ctr -n k8s.io images export") and "| node2: docker load" in push.commands[0]


def test_unpinned_image_under_another_name_is_tagged_when_the_registry_digest_matches():
    held = {"node3": [image("10.200.0.2:5443/coredns/coredns:v1.14.2", SERVED)]}
    failures = [Failure("node3", DNS)]
    assert summary(plan(state(), nodes(held), failures, DownloadMode())) == [(PULL, "node3", ("node3",))]
    tagged = plan(state(), nodes(held), failures, DownloadMode(), registry_digests={DNS.reference: SERVED})
    assert summary(tagged) == [(TAG, "node3", ("node3",))]
    assert tagged.actions[0].commands == (f"node3: podman tag 10.200.0.2:5443/coredns/coredns:v1.14.2 {DNS.reference}",)


def test_delegate_holding_it_only_under_another_name_exports_that_and_targets_name_it():
    held = {"node1": [image("10.200.0.2:5443/calico/node:v3.31.7", PIN)]}
    result = plan(state(download=DownloadDelegate(True, "node1")), nodes(held), [Failure("node3", NODE)])
    assert summary(result) == [(PUSH, "node1", ("node3",)), (TAG, "node3", ("node3",))]
    assert result.actions[0].export_argv[-1] == "10.200.0.2:5443/calico/node:v3.31.7"


def test_a_delegate_of_another_platform_lets_each_node_pull_its_own():
    arch = {"node3": "arm64"}
    result = plan(state(arch=arch), nodes(arch=arch), [Failure("node3", NODE), Failure("node2", NODE)], RUN_ONCE)
    assert sorted(summary(result)) == [(PULL, "node1", ()), (PULL, "node3", ("node3",)), (PUSH, "node1", ("node2",))]


def test_an_unreachable_delegate_or_node_is_unfixable_with_the_reason():
    result = plan(state(), nodes(errors={"node1": "node1: unreachable: timed out"}),
                  [Failure("node2", NODE), Failure("node1", KUBEADM)], RUN_ONCE)
    assert result.empty
    assert {(u.host, u.item, u.reason) for u in result.unfixable} == {
        ("node2", "calico_node", "download_delegate node1: node1: unreachable: timed out"),
        ("node1", "kubeadm", "node1: unreachable: timed out")}


FILE_CASES = {
    "default: each node downloads to dest": (
        DownloadMode(), set(), [(DOWNLOAD, "node1", ("node1",)), (DOWNLOAD, "node2", ("node2",))]),
    "run_once: delegate downloads once into the cache, copied to every node": (
        RUN_ONCE, set(), [(FETCH, "node1", ()), (COPY, RUNNER, ("node1", "node2"))]),
    "run_once, already in the cache: only copied": (
        RUN_ONCE, {"kubeadm-v1.36.4-amd64"}, [(COPY, RUNNER, ("node1", "node2"))]),
    "localhost: the runner downloads": (
        DownloadMode(run_once=True, delegate="localhost", localhost=True), set(),
        [(FETCH, RUNNER, ()), (COPY, RUNNER, ("node1", "node2"))]),
    "force_cache alone: the delegate fetches into the cache": (
        DownloadMode(force_cache=True, delegate="node2"), set(), [(FETCH, "node2", ()), (COPY, RUNNER, ("node1", "node2"))]),
}


@pytest.mark.parametrize("name", FILE_CASES)
def test_file_plans(name):
    mode, cached, expected = FILE_CASES[name]
    result = plan(state(), nodes(), [Failure("node1", KUBEADM), Failure("node2", KUBEADM)], mode, cached=cached)
    assert summary(result) == expected


def test_wrong_mode_only_is_corrected_without_download():
    result = plan(state(), nodes(), [Failure("node2", KUBEADM, exists=True, content_ok=True),
                                     Failure("node1", KUBEADM, exists=True, content_ok=True, wrong=("mode",)),
                                     Failure("node3", KUBEADM, exists=True)], RUN_ONCE)
    assert summary(result) == [(CORRECT, "node2", ("node2",)), (CORRECT, "node1", ("node1",)),
                               (FETCH, "node1", ()), (COPY, RUNNER, ("node3",))]
    assert result.actions[0].commands == ("node2: chmod 0755 /tmp/releases/kubeadm-v1.36.4-amd64 && "
                                          "chown root /tmp/releases/kubeadm-v1.36.4-amd64",)
    assert result.actions[1].commands == ("node1: chmod 0755 /tmp/releases/kubeadm-v1.36.4-amd64",)
    assert (result.actions[1].mode, result.actions[1].owner) == ("0755", None)


def test_no_credential_in_what_the_plan_shows():
    result = plan(state(), nodes(), [Failure("node1", KUBEADM)], RUN_ONCE)
    shown = " ".join(c for a in result.actions for c in (a.describe(), a.source, *a.commands))
    assert "secret" not in shown and "10.200.0.2:8080/kubeadm" in shown


def test_nothing_failed_nothing_planned():
    assert plan(state(), nodes(), [], RUN_ONCE).empty


def test_kubespray_cache_names():
    assert image_cache_name(NODE, pulls_by_digest=False) == "images/10.200.0.2_5000_calico_node_v3.31.7.tar"
    assert image_cache_name(NODE, pulls_by_digest=True) == f"images/10.200.0.2_5000_calico_node@sha256_{'1' * 64}.tar"
    assert file_cache_name(KUBEADM) == "kubeadm-v1.36.4-amd64"


def test_download_mode_read_from_the_expected_state():
    download = DownloadDelegate(True, "node2", localhost=False, force_cache=True, cache_dir="/var/cache/ks",
                                retries=2, validate_certs=False, delegate_host="node2")
    mode = DownloadMode.of(download)
    assert (mode.run_once, mode.delegate, mode.force_cache, mode.cache_dir, mode.retries, mode.validate_certs) == \
           (True, "node2", True, "/var/cache/ks", 2, False)


IO_MODULES = {"os", "subprocess", "socket", "shutil", "pathlib", "requests", "paramiko", "testinfra", "docker",
              "urllib", "http", "io", "tempfile", "ansible", "signal", "threading", "fcntl"}


def test_the_planner_imports_nothing_doing_io():
    source = Path(fix_plan.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    roots = {name.split(".")[0] for name in imported}
    assert not roots & IO_MODULES, roots & IO_MODULES
    ours = {name for name in imported if name.startswith("kubespray_verify")}
    assert ours <= {"kubespray_verify.model", "kubespray_verify.redact", "kubespray_verify.refs",
                    "kubespray_verify.runtimes.commands", "kubespray_verify.runtimes.parsers"}, ours
