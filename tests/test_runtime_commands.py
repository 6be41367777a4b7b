"""The runtimes' image commands: what each runtime is asked to run (argv lists, nothing run here)."""

from __future__ import annotations

import pytest

from kubespray_verify.runtimes.commands import certs_dir_of, for_runtime

REPO = "10.200.0.2:5000/calico/node"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("runtime, digest, expected", [
    ("containerd", None, [["ctr", "-n", "k8s.io", "images", "pull", "--hosts-dir", "/etc/containerd/certs.d",
                           f"{REPO}:v3"]]),
    ("containerd", DIGEST, [
        ["ctr", "-n", "k8s.io", "images", "pull", "--hosts-dir", "/etc/containerd/certs.d", f"{REPO}@{DIGEST}"],
        ["ctr", "-n", "k8s.io", "images", "tag", "--force", f"{REPO}@{DIGEST}", f"{REPO}:v3"],
        ["ctr", "-n", "k8s.io", "images", "rm", f"{REPO}@{DIGEST}"]]),
    ("docker", None, [["docker", "pull", "-q", f"{REPO}:v3"]]),
    ("docker", DIGEST, [["docker", "pull", "-q", f"{REPO}@{DIGEST}"], ["docker", "tag", f"{REPO}@{DIGEST}", f"{REPO}:v3"]]),
    ("crio", DIGEST, [["podman", "pull", "-q", f"{REPO}@{DIGEST}"], ["podman", "tag", f"{REPO}@{DIGEST}", f"{REPO}:v3"]]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_pull_by_digest_where_pinned_then_tagged(runtime, digest, expected):
    assert for_runtime(runtime).pull_steps(REPO, "v3", digest) == expected


@pytest.mark.parametrize("runtime, export, load", [
    ("containerd", ["ctr", "-n", "k8s.io", "images", "export", "--platform", "linux/arm64", "-", f"{REPO}:v3"],
     ["ctr", "-n", "k8s.io", "images", "import", "--platform", "linux/arm64", "-"]),
    ("docker", ["docker", "save", f"{REPO}:v3"], ["docker", "load", "-q"]),
    ("crio", ["podman", "save", "--format", "docker-archive", f"{REPO}:v3"], ["podman", "load", "-q"]),
])
def test_export_to_stdout_and_import_from_stdin(runtime, export, load):
    commands = for_runtime(runtime)
    assert commands.export(f"{REPO}:v3", "linux/arm64") == export
    assert commands.import_("linux/arm64") == load


def test_tag_moves_the_name_and_remove_drops_one_name():
    assert for_runtime("containerd").tag("a:1", "b:1") == ["ctr", "-n", "k8s.io", "images", "tag", "--force", "a:1", "b:1"]
    assert for_runtime("docker").remove("a:1") == ["docker", "rmi", "a:1"]
    assert for_runtime("crio", binary="/usr/bin/podman").remove("a:1") == ["/usr/bin/podman", "rmi", "a:1"]


def test_containerd_reads_the_hosts_of_kubespray_containerd_cfg_dir():
    commands = for_runtime("containerd", certs_dir=certs_dir_of("/opt/containerd/"))
    assert commands.pull("a:1")[5:7] == ["--hosts-dir", "/opt/containerd/certs.d"]
    assert certs_dir_of(None) == "/etc/containerd/certs.d"


def test_a_runtime_without_image_commands_is_named():
    with pytest.raises(ValueError, match="container_manager 'rkt'"):
        for_runtime("rkt")
