"""Connection variables kept beside the expected state: only literal ones, and never stale ones."""

from __future__ import annotations

import json

import pytest

from kubespray_verify.resolve.cache import cache_dir, connection_specs_cached
from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, write_inventory


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESPRAY_VERIFY_CACHE", str(tmp_path / "cache"))


def specs_of(inventory, *extra_vars):
    return connection_specs_cached([str(inventory)], str(kubespray_dir()), list(extra_vars), None)


def kept() -> list:
    return sorted(p.name for p in cache_dir().glob("*.connections.json")) if cache_dir().exists() else []


def test_literal_connection_variables_are_kept_and_read_back(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                group_vars={"all": {"ansible_user": "deploy", "ansible_port": 2222}},
                                with_sample=False)
    first = specs_of(inventory)
    assert first["node1"] == {"ansible_host": "127.0.0.11", "ansible_user": "deploy", "ansible_port": 2222}
    assert len(kept()) == 1
    assert specs_of(inventory) == first
    # The inventory changes: another key, the new value.
    (tmp_path / "inv" / "group_vars" / "all" / "zz-test.yml").write_text("ansible_user: admin\n")
    assert specs_of(inventory)["node1"]["ansible_user"] == "admin"
    assert len(kept()) == 2


def test_templated_connection_variables_are_read_every_time(tmp_path, monkeypatch):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                group_vars={"all": {"ansible_user": "{{ lookup('env', 'KV_TEST_USER') }}"}},
                                with_sample=False)
    monkeypatch.setenv("KV_TEST_USER", "alice")
    assert specs_of(inventory)["node2"]["ansible_user"] == "alice"
    monkeypatch.setenv("KV_TEST_USER", "bob")
    assert specs_of(inventory)["node2"]["ansible_user"] == "bob"
    assert kept() == []


def test_a_password_is_never_written_to_the_cache(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                host_vars={"node3": {"ansible_ssh_pass": "s3cret"}}, with_sample=False)
    assert specs_of(inventory)["node3"]["ansible_ssh_pass"] == "s3cret"
    assert kept() == []
    assert not any("s3cret" in p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())


def test_extra_vars_are_part_of_the_key(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"], with_sample=False)
    assert "ansible_user" not in specs_of(inventory)["node1"]
    assert specs_of(inventory, "ansible_user=ops")["node1"]["ansible_user"] == "ops"


def test_a_dynamic_inventory_is_read_every_run(tmp_path):
    """An inventory script answers what its content cannot tell: neither its expected state nor its
    connections are kept."""
    from kubespray_verify.resolve.cache import dynamic_source, resolve_cached

    answer = tmp_path / "answer.json"
    script = tmp_path / "inv" / "inventory.py"
    script.parent.mkdir()
    script.write_text(f"#!/usr/bin/env python3\nprint(open({str(answer)!r}).read())\n")
    script.chmod(0o755)

    def serve(address):
        answer.write_text(json.dumps({
            "_meta": {"hostvars": {"node1": {"ansible_host": address}}},
            "kube_control_plane": {"hosts": ["node1"]}, "etcd": {"hosts": ["node1"]},
            "kube_node": {"hosts": ["node1"]}, "k8s_cluster": {"children": ["kube_control_plane", "kube_node"]}}))

    assert dynamic_source([str(script.parent)]) == str(script)
    serve("127.0.0.21")
    assert specs_of(script)["node1"]["ansible_host"] == "127.0.0.21"
    assert "node1" in resolve_cached([str(script)], str(kubespray_dir())).hosts
    serve("127.0.0.22")
    assert specs_of(script)["node1"]["ansible_host"] == "127.0.0.22"
    assert kept() == [] and not list((tmp_path / "cache").rglob("*.json"))


def test_an_inventory_plugin_config_is_dynamic_a_hosts_file_is_not(tmp_path):
    from kubespray_verify.resolve.cache import dynamic_source

    plugin = tmp_path / "aws_ec2.yml"
    plugin.write_text("# hosts from the cloud\nplugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    static = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"], with_sample=False)
    assert dynamic_source([str(plugin)]) == str(plugin)
    assert dynamic_source([str(static)]) is None
    assert dynamic_source([str(static.parent)]) is None
    assert dynamic_source(["node1,node2,"]) is None


def test_the_nodes_python_is_read_and_a_cache_of_fewer_variables_is_not_trusted(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                host_vars={"node2": {"ansible_python_interpreter": "/opt/bin/python"}},
                                with_sample=False)
    assert specs_of(inventory)["node2"]["ansible_python_interpreter"] == "/opt/bin/python"
    # A cache written by a version that read fewer variables holds no ansible_python_interpreter.
    (path,) = cache_dir().glob("*.connections.json")
    kept_hosts = json.loads(path.read_text())["hosts"]
    path.write_text(json.dumps({h: {k: v for k, v in spec.items() if k != "ansible_python_interpreter"}
                                for h, spec in kept_hosts.items()}))
    assert specs_of(inventory)["node2"]["ansible_python_interpreter"] == "/opt/bin/python"
