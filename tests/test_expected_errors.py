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


def test_an_item_without_a_field_of_its_kind_is_that_items_error(inventory, tmp_path):
    extra = {"download_defaults": {"enabled": False, "container": False, "file": False},
             "downloads": {"site_image": {"enabled": True, "container": True, "tag": "v1", "groups": ["k8s_cluster"]},
                           "site_file": {"enabled": True, "file": True, "url": "http://10.0.0.2/f",
                                         "groups": ["k8s_cluster"]}}}
    proc = run_expected("-i", str(inventory), "-e", json.dumps(extra), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = {e["name"]: e["error"] for e in json.loads(proc.stdout)["hosts"]["node1"]["errors"]}
    assert errors == {"site_image": "downloads.site_image has no repo", "site_file": "downloads.site_file has no dest"}


def test_download_defaults_that_is_not_a_mapping(inventory, tmp_path):
    line = one_error_line(run_expected("-i", str(inventory), "-e", '{"download_defaults": [1, 2]}', cwd=tmp_path))
    assert "variable 'download_defaults' is not a mapping" in line and "host node" in line


def test_an_unexpected_error_is_one_line_saying_what_failed_and_where(inventory, tmp_path):
    # A Jinja extension that cannot be imported (ansible.cfg's jinja2_extensions): ansible-core itself
    # does not expect it and raises a plain ModuleNotFoundError.
    env = {"ANSIBLE_JINJA2_EXTENSIONS": "absent_module_xyz.Ext"}
    line = one_error_line(run_expected("-i", str(inventory), env_extra=env, cwd=tmp_path))
    assert "No module named 'absent_module_xyz'" in line
    if ANSIBLE_CORE < (2, 17):
        # Up to 2.16 the inventory's YAML plugin meets it first, and says so.
        assert line.startswith(f"kubespray-verify: error: inventory {inventory}:"), line
        return
    assert line.startswith("kubespray-verify: error: internal error while resolving the expected state: "
                           "ModuleNotFoundError: No module named 'absent_module_xyz' (raised at "), line
    assert "in import_string); run with -v for the traceback" in line
    verbose = run_expected("-v", "-i", str(inventory), env_extra=env, cwd=tmp_path)
    assert verbose.returncode == 2
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.rstrip().splitlines()[-1] == line


def test_an_unexpected_error_under_check_is_one_line_too(inventory, tmp_path):
    env = dict(os.environ, KUBESPRAY_DIR=str(kubespray_dir()), ANSIBLE_JINJA2_EXTENSIONS="absent_module_xyz.Ext",
               KUBESPRAY_VERIFY_CACHE=str(tmp_path / ".kv-cache"))
    proc = subprocess.run([sys.executable, "-m", "kubespray_verify", "check", "--inventory", str(inventory),
                           "--collect-only", "-q"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and "No module named 'absent_module_xyz'" in errors[0], output
