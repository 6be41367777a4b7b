"""The expected-state cache keeps only answers its key can vouch for."""

from __future__ import annotations

import pytest

from kubespray_verify.resolve.cache import cache_dir, resolve_cached
from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, write_inventory


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESPRAY_VERIFY_CACHE", str(tmp_path / "cache"))


def kubeadm_url(inventory) -> str:
    return resolve_cached([str(inventory)], str(kubespray_dir())).hosts["node1"].item("kubeadm").url


def cached_states() -> list:
    return [p for p in cache_dir().glob("*.json") if not p.name.endswith(".connections.json")]


def test_a_variable_read_from_the_environment_is_read_every_run(tmp_path, monkeypatch):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                group_vars={"all": {"files_repo": "{{ lookup('env', 'KV_TEST_FILES_REPO') }}",
                                                    "kubeadm_download_url": "{{ files_repo }}/kubeadm"}})
    monkeypatch.setenv("KV_TEST_FILES_REPO", "http://127.0.0.1:8080")
    assert kubeadm_url(inventory) == "http://127.0.0.1:8080/kubeadm"
    monkeypatch.setenv("KV_TEST_FILES_REPO", "http://127.0.0.2:8080")
    assert kubeadm_url(inventory) == "http://127.0.0.2:8080/kubeadm"
    assert cached_states() == []
    state = resolve_cached([str(inventory)], str(kubespray_dir()))
    assert any("files_repo uses lookup('env')" in note for note in state.notes)


def test_a_lookup_of_other_variables_is_cached(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                group_vars={"all": {"site_repo": "http://127.0.0.1:8080",
                                                    "kubeadm_download_url": "{{ lookup('vars', 'site_repo') }}/k"}})
    assert kubeadm_url(inventory) == "http://127.0.0.1:8080/k"
    assert len(cached_states()) == 1


def test_ansible_configuration_is_part_of_the_key(tmp_path, monkeypatch):
    from kubespray_verify.resolve.cache import input_key

    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("ANSIBLE_HASH_BEHAVIOUR", raising=False)
    args = ([str(inventory)], str(kubespray_dir()), [], None)
    plain = input_key(*args)
    monkeypatch.setenv("ANSIBLE_HASH_BEHAVIOUR", "merge")
    from_env = input_key(*args)
    monkeypatch.delenv("ANSIBLE_HASH_BEHAVIOUR")
    assert input_key(*args) == plain
    (work / "ansible.cfg").write_text("[defaults]\nhash_behaviour = merge\n")
    from_cfg = input_key(*args)
    assert len({plain, from_env, from_cfg}) == 3
    # A working directory removed under the run: no ansible.cfg there, and no error.
    (work / "ansible.cfg").unlink()
    work.rmdir()
    assert input_key(*args) == plain


def test_an_answer_cached_under_one_ansible_configuration_is_not_served_under_another(tmp_path):
    """hash_behaviour=merge makes an inventory's `downloads` add to Kubespray's instead of replacing them."""
    import json
    import os
    import subprocess
    import sys

    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                group_vars={"all": {"downloads": {"kubeadm": {"enabled": False}}}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"), KUBESPRAY_DIR=str(kubespray_dir()))

    def items(extra_env) -> set:
        proc = subprocess.run([sys.executable, "-m", "kubespray_verify", "expected", "--inventory", str(inventory),
                               "--format", "json"], env={**env, **extra_env}, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return {item["name"] for item in json.loads(proc.stdout)["hosts"]["node1"]["items"]}

    replaced = items({})
    merged = items({"ANSIBLE_HASH_BEHAVIOUR": "merge"})
    assert "kubeadm" not in replaced and "kubeadm" not in merged
    assert len(merged) > len(replaced)
    assert items({}) == replaced


def test_a_cache_that_cannot_be_written_is_done_without_and_said_once(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("KUBESPRAY_VERIFY_CACHE", str(blocker / "cache"))
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    with pytest.warns(UserWarning, match="not usable") as caught:
        first = kubeadm_url(inventory)
        assert kubeadm_url(inventory) == first
    assert len([w for w in caught if "not usable" in str(w.message)]) == 1
    assert blocker.read_text() == ""
