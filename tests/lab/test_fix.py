"""--fix on the lab (containerd, docker and cri-o nodes): every drift healed in each download mode, seen again.

Each test drifts nodes with the lab's own tools, runs the suite with `--fix` as an operator does, and
judges by what the suite then reports, what the nodes' runtimes show over ssh and what the registry's
own access log recorded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubespray_verify.fix.lock import FixLock
from tests.lab.observe import image_views, ssh
from tests.lab.suite_run import REPO, run_suite

pytestmark = pytest.mark.lab
CHECKS = ("-m", "images or files")

# Every drift kind the lab applies, but node-unreachable (tested apart): (node, kind, item).
DRIFTS = [
    ("node1", "image-missing", "calico_cni"),
    ("node1", "image-other-digest", "calico_node"),
    ("node1", "file-corrupted", "kubeadm"),
    ("node2", "image-mirror-name", "coredns"),
    ("node2", "image-missing", "dnsautoscaler"),
    ("node2", "file-missing", "crictl"),
    ("node2", "image-from-tarball", "calico_node"),
    ("node3", "image-extra-names", "pod_infra"),
    ("node3", "image-missing", "calico_cni"),
    ("node3", "image-missing", "coredns"),
    ("node3", "file-wrong-mode", "kubeadm"),
    ("node3", "image-missing", "nginx"),
]
MODES = {
    "default": {},
    # the delegate is node1, the first kube_control_plane host: a Kubernetes host itself
    "run_once": {"download_run_once": True},
    # nginx is an item of kube_node only: node2 (control plane) does not need it, yet pulls it for node3
    "run_once_delegate_not_needing_it": {"download_run_once": True, "download_delegate": "node2"},
    "localhost": {"download_run_once": True, "download_localhost": True},
}


@pytest.fixture
def healed(lab):
    yield lab
    lab.heal()


def properties(tmp_path: Path) -> dict[str, dict]:
    """The last run's {test name: what --fix did for it}: the `fix` fact of each case of its JSON report."""
    report = sorted(tmp_path.glob("report-*.json"), key=lambda p: int(p.stem.split("-")[1]))[-1]
    data = json.loads(report.read_text())
    return {case["test"].split("::", 1)[1]: case["facts"]["fix"]
            for suite in data["suites"].values() for case in suite["cases"] if "fix" in case.get("facts", {})}


def done(fixed: dict, test: str) -> str:
    return fixed[test]["done"]


def registry_log(lab) -> Path:
    return lab.layout.logs_dir / "registry.log"


def pulls(lab, offset: int, repository: str, what: str = "manifests|blobs") -> list[tuple[str, str, str]]:
    """(client address, method, reference or digest) of each manifest or blob request for `repository` the
    plain registry answered since `offset` (its access log)."""
    text = registry_log(lab).read_bytes()[offset:].decode(errors="replace")
    pattern = (r'^(\S+) - - \[[^]]+\] "(GET|HEAD) /v2/' + re.escape(repository) +
               r'/(?:' + what + r')/(\S+) HTTP/[0-9.]+" 200')
    return re.findall(pattern, text, re.M)


def _run(lab, tmp_path, mode, *args, env=None):
    extra = dict(MODES[mode])
    if mode == "localhost":
        extra["download_cache_dir"] = str(tmp_path / "kubespray_cache")
        env = dict(env or {}, DOCKER_HOST=lab.runner_docker())
    if env:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
    try:
        return run_suite(lab, tmp_path, *CHECKS, *args, extra_vars=extra or None)
    finally:
        if env:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.mark.parametrize("mode", MODES)
def test_every_drift_is_healed(healed, tmp_path, mode):
    lab = healed
    for node, kind, item in DRIFTS:
        lab.drift(node, kind, item)
    before, _ = _run(lab, tmp_path, mode)
    failing = {name for name, (outcome, _) in before.items() if outcome != "passed"}
    assert "test_image[node1::calico_cni]" in failing and "test_file[node3::kubeadm]" in failing

    after, out = _run(lab, tmp_path, mode, "--fix")
    assert {n: o for n, o in after.items() if o[0] not in ("passed", "skipped")} == {}, out[-3000:]
    fixed = properties(tmp_path)
    assert set(fixed) >= failing, out[-3000:]
    assert all(v["action"] != "not fixed" and "error" not in v for v in fixed.values()), fixed
    assert fixed["test_file[node3::kubeadm]"] == {"action": "corrected", "done": "mode set to 0755 on node3"}
    if mode == "default":
        assert done(fixed, "test_image[node1::calico_cni]").startswith("pulled by tag")
    elif mode == "localhost":
        assert "the runner's docker" in done(fixed, "test_image[node3::calico_cni]")
    elif mode == "run_once":
        assert done(fixed, "test_image[node2::dnsautoscaler]").startswith("pushed from node1")
    else:
        assert done(fixed, "test_image[node3::nginx]").startswith("pushed from node2")
        assert "test_image[node2::nginx]" not in fixed  # fetched there for node3 only: not node2's check

    again, out = _run(lab, tmp_path, mode, "--fix")
    assert all(o in ("passed", "skipped") for o, _ in again.values())
    assert "nothing to fix, nothing changed" in out
    assert properties(tmp_path) == {}


def test_run_once_sends_only_to_the_hosts_that_miss_it_and_pulls_once(healed, tmp_path):
    lab = healed
    lab.drift("node2", "image-missing", "calico_cni")
    lab.drift("node3", "image-missing", "calico_cni")
    offset = registry_log(lab).stat().st_size
    _run(lab, tmp_path, "run_once", "--fix")
    fixed = properties(tmp_path)
    assert {name for name in fixed if "calico_cni" in name} == {"test_image[node2::calico_cni]",
                                                                  "test_image[node3::calico_cni]"}
    assert fixed["test_image[node2::calico_cni]"] == {"action": "pushed", "done": "pushed from node1 to node2"}
    assert pulls(lab, offset, "calico/cni") == []  # the delegate had it: nothing asked of the registry

    for node in ("node1", "node2", "node3"):
        lab.drift(node, "image-missing", "calico_node")
    offset = registry_log(lab).stat().st_size
    outcomes, _ = _run(lab, tmp_path, "run_once", "--fix")
    assert all(outcomes[f"test_image[{n}::calico_node]"][0] == "passed" for n in ("node1", "node2", "node3"))
    asked = pulls(lab, offset, "calico/node")
    assert asked, "the delegate pulled nothing from the registry"
    assert {client for client, _, _ in asked} == {lab.node("node1").ip}  # once, by the delegate
    blobs = pulls(lab, offset, "calico/node", "blobs")
    assert len(blobs) == len(set(blobs)), f"a blob was fetched twice: {blobs}"


def test_a_pinned_multi_arch_index_arrives_as_that_index(healed, tmp_path):
    lab = healed
    item = lab.expected.hosts["node1"].item("calico_cni")
    record = lab.images[f"{item.repo[len(lab.registry.host) + 1:]}:{item.tag}"]
    assert record.style in ("oci-index", "docker-list"), "calico_cni is a multi-arch image in the lab"
    pin = {"calico_cni_digest_checksum": record.digest}
    lab.drift("node1", "image-missing", "calico_cni")
    lab.drift("node3", "image-missing", "calico_cni")
    outcomes, out = run_suite(lab, tmp_path, *CHECKS, "--fix", extra_vars={**MODES["run_once"], **pin})
    assert outcomes["test_image[node3::calico_cni]"][0] == "passed", out[-2000:]
    for node in ("node1", "node3"):
        with ssh(lab.node(node)) as client:
            held = image_views(client, lab.node(node).runtime)[item.reference]
        assert record.digest in held.digests, f"{node} holds {held.describe()}"


def _mirror_file(lab, name: str) -> Path:
    from kubespray_verify.lab import artifacts

    item = lab.expected.hosts["node2"].item(name)
    return artifacts.mirror_path(lab.layout.files_repo_dir, lab.layout.files_repo, item)


def test_a_corrupted_download_never_replaces_a_file(healed, tmp_path):
    lab = healed
    mirror = _mirror_file(lab, "kubeadm")
    good = mirror.read_bytes()
    lab.drift("node2", "file-wrong-mode", "kubeadm")  # right content, wrong mode
    lab.drift("node3", "file-corrupted", "kubeadm")
    dest = lab.expected.hosts["node3"].item("kubeadm").dest
    on_node3 = lab.node("node3").path(dest).read_bytes()
    mirror.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))  # the mirror now serves other bytes
    try:
        outcomes, out = run_suite(lab, tmp_path, *CHECKS, "--fix")
    finally:
        mirror.write_bytes(good)
    assert outcomes["test_file[node2::kubeadm]"][0] == "passed"
    assert lab.node("node2").path(dest).read_bytes() == good
    assert outcomes["test_file[node3::kubeadm]"][0] == "failure"
    fix = properties(tmp_path)["test_file[node3::kubeadm]"]
    assert fix["action"] == "not fixed"
    error = fix["error"]
    assert "checksum expected sha256:" in error and ", found sha256:" in error and lab.layout.files_repo in error
    assert lab.node("node3").path(dest).read_bytes() == on_node3
    assert not [p for p in lab.node("node3").path(os.path.dirname(dest)).iterdir()
                if p.name.endswith(".kubespray-verify-fix")]


def _suite_command(lab, tmp_path, *args):
    return [sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
            f"--kubespray-dir={lab.kubespray_dir}", "-p", "no:cacheprovider", "-q", *CHECKS, *args]


def test_a_second_fix_at_once_is_refused_naming_the_first(healed, tmp_path, monkeypatch):
    lab = healed
    lab.drift("node1", "image-missing", "calico_cni")
    monkeypatch.setenv("KUBESPRAY_VERIFY_CACHE", str(tmp_path / "cache"))
    with FixLock([str(lab.inventory_dir / "hosts.yml")]):
        proc = subprocess.run(_suite_command(lab, tmp_path, "--fix"), cwd=REPO, capture_output=True, text=True,
                              timeout=300)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "another --fix run holds the lock" in proc.stderr and f"PID {os.getpid()} of" in proc.stderr
    with ssh(lab.node("node1")) as client:
        assert lab.expected.hosts["node1"].item("calico_cni").reference not in image_views(client, "containerd")


SLOW_SERVER = """
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(1 << 30)); self.end_headers()
        try:
            for _ in range(3000):
                self.wfile.write(b"x" * 65536); time.sleep(0.02)
        except OSError:
            pass
    def do_HEAD(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Slow).serve_forever()
"""


def test_an_interrupted_fix_leaves_nothing_half_written(healed, tmp_path):
    """SIGINT while files stream in: no dest is half-written, no temporary file is left on any node."""
    from kubespray_verify.lab.layout import FILES_REPO_PORT
    from kubespray_verify.lab.netns import netns_path

    lab = healed
    lab.drift("node2", "file-missing", "kubeadm")
    lab.drift("node3", "file-corrupted", "kubeadm")
    dest = lab.expected.hosts["node3"].item("kubeadm").dest
    before = lab.node("node3").path(dest).read_bytes()
    lab.stop_mirror("files_repo")
    slow = subprocess.Popen(["nsenter", f"--net={netns_path(lab.layout.hub_netns)}", "--", sys.executable, "-c",
                             SLOW_SERVER, lab.layout.hub_ip, str(FILES_REPO_PORT)])
    try:
        time.sleep(0.5)
        fix = subprocess.Popen(_suite_command(lab, tmp_path, "--fix"), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache")))
        directories = [lab.node(n).path(os.path.dirname(dest)) for n in ("node2", "node3")]

        def temporaries():
            return [p for d in directories for p in d.iterdir() if p.name.endswith(".kubespray-verify-fix")]
        deadline = time.monotonic() + 120
        while len(temporaries()) < 2 and fix.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(temporaries()) == 2, "the downloads never started"
        fix.send_signal(signal.SIGINT)
        out, _ = fix.communicate(timeout=60)
        assert fix.returncode == 2, out[-2000:]
        deadline = time.monotonic() + 10
        while temporaries() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert temporaries() == []
        assert not lab.node("node2").path(dest).exists()
        assert lab.node("node3").path(dest).read_bytes() == before
    finally:
        slow.terminate()
        slow.wait(10)
        lab.start_mirror("files_repo")


def test_an_unreachable_node_is_not_fixed_and_says_why(healed, tmp_path):
    lab = healed
    lab.drift("node1", "image-missing", "calico_cni")
    lab.drift("node3", "node-unreachable")
    outcomes, out = run_suite(lab, tmp_path, *CHECKS, "--fix", "--connect-timeout=2")
    assert outcomes["test_image[node1::calico_cni]"][0] == "passed"
    assert outcomes["test_image[node3::calico_cni]"][0] == "error"
    assert "1 fixed, 0 not fixed" in out
