"""Bad input: one clear message naming the file, host, variable or item, non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubespray_verify.resolve.templating import ANSIBLE_CORE

from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, write_inventory


def run_expected(*args: str, env_extra: dict | None = None, cwd: Path | None = None):
    env = dict(os.environ)
    env["KUBESPRAY_DIR"] = str(kubespray_dir())
    env.update(env_extra or {})
    env["KUBESPRAY_VERIFY_CACHE"] = str((cwd or Path("/tmp")) / ".kv-cache")
    return subprocess.run([sys.executable, "-m", "kubespray_verify", "expected", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def one_error_line(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("kubespray-verify: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def inventory(tmp_path) -> Path:
    return write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])


def test_missing_inventory(tmp_path):
    line = one_error_line(run_expected("-i", str(tmp_path / "nope.yml"), cwd=tmp_path))
    assert "nope.yml" in line and "no such file" in line


def test_inventory_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  hosts:\n    node1: {ansible_host: 10.0.0.1\n  children: [\n")
    line = one_error_line(run_expected("-i", str(bad), cwd=tmp_path))
    assert str(bad) in line and "line 4" in line


def test_group_vars_yaml_syntax_error_names_file_and_line(inventory, tmp_path):
    broken = inventory.parent / "group_vars" / "all" / "broken.yml"
    broken.write_text("registry_host: 10.0.0.2\nfoo: [1, 2\nbar: 3\n")
    line = one_error_line(run_expected("-i", str(inventory), cwd=tmp_path))
    assert str(broken) in line and "line 3" in line


def test_ini_inventory_error_names_file_and_line(tmp_path):
    bad = tmp_path / "inventory.ini"
    bad.write_text("[kube_node]\nnode1 ansible_host\n")
    line = one_error_line(run_expected("-i", str(bad), cwd=tmp_path))
    assert "Expected key=value host variable assignment, got: ansible_host" in line
    # ansible-core 2.19's INI plugin no longer says on which line it stopped; earlier ones do.
    assert f"{bad}:2" in line if ANSIBLE_CORE < (2, 19) else f"inventory {bad}:" in line


def test_kubespray_dir_that_is_not_kubespray(inventory, tmp_path):
    line = one_error_line(run_expected("-i", str(inventory), "--kubespray-dir", str(tmp_path), cwd=tmp_path))
    assert "--kubespray-dir" in line and "roles/kubespray_defaults" in line


def test_kubespray_not_found_says_what_was_looked_for(inventory, tmp_path):
    env = {"KUBESPRAY_DIR": ""}
    line = one_error_line(run_expected("-i", str(inventory), env_extra=env, cwd=tmp_path))
    assert "KUBESPRAY_DIR" in line and "roles/kubespray-defaults" in line


def test_limit_matching_nothing(inventory, tmp_path):
    line = one_error_line(run_expected("-i", str(inventory), "--limit", "node9", cwd=tmp_path))
    assert "--limit node9" in line


def test_extra_vars_file_missing(inventory, tmp_path):
    line = one_error_line(run_expected("-i", str(inventory), "-e", "@/nonexistent/vars.yml", cwd=tmp_path))
    assert "/nonexistent/vars.yml" in line


def test_undefined_variable_in_one_item_is_reported_for_that_item(inventory, tmp_path):
    # A kubelet version with no checksum: kubelet, kubeadm and kubectl cannot resolve, the rest can.
    (inventory.parent / "group_vars" / "all" / "zz.yml").write_text(
        "kubelet_binary_checksum: \"{{ kubelet_checksums[image_arch]['1.0.0'] }}\"\n"
        "calico_node_image_tag: \"{{ calico_undefined_tag_var }}\"\n"
    )
    proc = run_expected("-i", str(inventory), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    state = json.loads(proc.stdout)
    node1 = state["hosts"]["node1"]
    errors = {e["name"]: e["error"] for e in node1["errors"]}
    assert set(errors) == {"kubelet", "calico_node"}
    assert "1.0.0" in errors["kubelet"]
    assert "calico_undefined_tag_var" in errors["calico_node"]
    names = {i["name"] for i in node1["items"]}
    assert {"kubeadm", "kubectl", "calico_cni", "kubeadm_kube-apiserver"} <= names
    assert not names & {"kubelet", "calico_node"}


def test_credentials_in_a_files_repo_url_are_not_printed(inventory, tmp_path):
    (inventory.parent / "group_vars" / "all" / "zz.yml").write_text(
        "kubeadm_download_url: http://mirror-user:s3cret-pw@10.0.0.2:8080/kubeadm\n")
    for fmt in ("json", "table"):
        proc = run_expected("-i", str(inventory), "--format", fmt, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "s3cret-pw" not in proc.stdout and "mirror-user" not in proc.stdout
        if fmt == "json":
            assert "http://***@10.0.0.2:8080/kubeadm" in proc.stdout
    cached = list((tmp_path / ".kv-cache" / "expected").glob("*.json"))
    assert cached and all(p.stat().st_mode & 0o077 == 0 for p in cached)


def test_a_plugin_of_a_collection_not_installed_names_the_collection_and_how_to_install_it(inventory, tmp_path):
    (inventory.parent / "group_vars" / "all" / "zz.yml").write_text(
        "kubeadm_download_url: \"http://{{ '10.0.0.2' | example_ns.absent_collection.ipwrap }}:8080/kubeadm\"\n"
        "kubectl_download_url: \"http://{{ lookup('example_ns.absent_collection.site', 'x') }}/kubectl\"\n")
    proc = run_expected("-i", str(inventory), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = {e["name"]: e["error"] for e in json.loads(proc.stdout)["hosts"]["node1"]["errors"]}
    assert set(errors) == {"kubeadm", "kubectl"}
    for item, plugin in (("kubeadm", "ipwrap"), ("kubectl", "site")):
        assert errors[item].startswith(f"example_ns.absent_collection.{plugin} needs the "
                                       "example_ns.absent_collection collection"), errors[item]
        assert "ansible-galaxy collection install example_ns.absent_collection" in errors[item]
        assert "requirements.txt" in errors[item]
