"""Each host's mirror settings, templated by ansible-core from an inventory written as operators write one."""

import base64

import pytest
import yaml

from kubespray_verify.resolve.expected import resolve
from kubespray_verify.http.policy import Credentials
from kubespray_verify.resolve import host_settings as mirror_settings
from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, uncommented_offline_yml, write_inventory

BOOKWORM = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror-settings")
    offline = uncommented_offline_yml()
    offline.update({
        "http_proxy": "http://proxyuser:proxy-s3cret@10.200.0.3:3128",
        "https_proxy": "http://10.200.0.3:3128",
        "additional_no_proxy": ".site.internal",
        "download_validate_certs": False,
        "pyrepo_index": "https://{{ pypi_host }}/simple",
        "pypi_host": "pypi.site.internal",
        "pyrepo_cert": "/etc/ssl/site-ca.pem",
        "helm_stable_repo_url": "{{ undefined_charts_host }}/stable",
        "docker_insecure_registries": ["10.200.0.2:5000", "10.201.0.0/16"],
        "containerd_registry_auth": [{"registry": "10.200.0.2:5443", "username": "operator",
                                      "password": "{{ registry_pass }}"}],
        "registry_pass": "reg-s3cret",
        "containerd_registries_mirrors": [
            {"prefix": "docker.io", "mirrors": [{"host": "https://harbor.site.internal", "capabilities": ["pull"],
                                                 "skip_verify": True,
                                                 "header": {"Authorization": ["Basic " + base64.b64encode(
                                                     b"robot:robot-s3cret").decode()]}}]}],
    })
    inventory = write_inventory(root / "inv", THREE_NODES["hosts"], THREE_NODES["groups"], {"all": offline},
                                host_vars={"node2": {"container_manager": "docker",
                                                     "ansible_distribution": "Rocky",
                                                     "ansible_os_family": "RedHat",
                                                     "ansible_distribution_major_version": "9"}})
    state = resolve([str(inventory)], str(kubespray_dir()))
    found = mirror_settings.resolve(state, [str(inventory)], str(kubespray_dir()),
                                    node_os={"node1": BOOKWORM, "node3": BOOKWORM})
    return state, found


def test_repo_variables_are_templated_and_named_in_the_expected_state(site):
    state, found = site
    assert found["node1"].repos["docker_debian_repo_base_url"] == "http://10.200.0.2:8080/debian/docker-ce"
    assert found["node1"].repos["pyrepo_index"] == "https://pypi.site.internal/simple"
    assert "helm_stable_repo_url" in state.hosts["node1"].mirror_vars
    assert set(state.hosts["node1"].mirror_vars) >= {"yum_repo", "debian_repo", "docker_rh_repo_base_url"}
    # the expected state (cached on disk) names the variables, never their values
    assert "10.200.0.2:8080/debian" not in yaml.safe_dump(state.to_json()["hosts"]["node1"]["mirror_vars"])


def test_a_variable_that_does_not_template_is_named(site):
    _, found = site
    assert "undefined_charts_host" in found["node1"].errors["helm_stable_repo_url"]


def test_proxies_and_kubesprays_generated_no_proxy(site):
    _, found = site
    proxies = found["node3"].proxies
    assert proxies.http == "http://proxyuser:proxy-s3cret@10.200.0.3:3128"
    assert proxies.no_proxy.split(",") == ["127.0.0.11", "node1", "127.0.0.12", "node2", "127.0.0.13", "node3",
                                           "127.0.0.1", "localhost", ".site.internal"]
    assert found["node1"].validate_certs is False and found["node1"].pyrepo_cert == "/etc/ssl/site-ca.pem"


def test_os_facts_from_the_inventory_or_the_node(site):
    _, found = site
    assert (found["node1"].facts.distribution, found["node1"].facts.release, found["node1"].facts.source) == \
        ("Debian", "bookworm", "node")
    assert (found["node2"].facts.distribution, found["node2"].facts.major_version, found["node2"].facts.source) == \
        ("Rocky", "9", "inventory")
    assert found["node2"].container_manager == "docker"


def test_registry_credentials_and_insecure_registries(site):
    _, found = site
    s = found["node1"]
    assert s.registry_credentials["10.200.0.2:5443"] == Credentials("operator", "reg-s3cret")
    assert s.registry_credentials["harbor.site.internal"] == Credentials("robot", "robot-s3cret")
    assert {"10.200.0.2:5000", "10.201.0.0/16", "harbor.site.internal"} <= s.insecure
    assert "s3cret" not in repr(s) and "s3cret" not in repr(found)


def test_the_runners_registry_access_is_every_hosts(site):
    import dataclasses

    from kubespray_verify.registry.site import SiteSettings

    _, found = site
    # This site sets download_validate_certs: false; with it true, only the insecure registries go unverified.
    validating = [dataclasses.replace(s, validate_certs=True) for s in found.values()]
    runner = SiteSettings.from_hosts(validating, ca_bundle="/etc/site-ca.pem")
    assert runner.credentials["10.200.0.2:5443"] == Credentials("operator", "reg-s3cret")
    assert runner.credentials["harbor.site.internal"] == Credentials("robot", "robot-s3cret")
    assert runner.verify_for("10.200.0.2:5000") is False
    assert runner.verify_for("harbor.site.internal") is False  # skip_verify
    assert runner.verify_for("10.200.0.2:5443") == "/etc/site-ca.pem"
    # One host that does not validate certificates: the runner does not either.
    one_off = validating[:1] + [dataclasses.replace(validating[1], validate_certs=False)] + validating[2:]
    assert SiteSettings.from_hosts(one_off).verify_for("10.200.0.2:5443") is False
    assert SiteSettings.from_hosts(found.values()).verify_for("10.200.0.2:5443") is False


def test_a_download_items_own_credentials(tmp_path):
    extra = tmp_path / "downloads.yml"
    extra.write_text(yaml.safe_dump({"files_user": "dl", "files_pass": "dl-s3cret", "downloads": {"kubeadm": {
        "enabled": True, "file": True, "url": "https://files.site/kubeadm", "dest": "/tmp/releases/kubeadm",
        "checksum": "sha256:" + "0" * 64, "username": "{{ files_user }}", "password": "{{ files_pass }}",
        "groups": ["k8s_cluster"]}}}))
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    state = resolve([str(inventory)], str(kubespray_dir()), [f"@{extra}"])
    found = mirror_settings.resolve(state, [str(inventory)], str(kubespray_dir()), [f"@{extra}"])
    assert found["node3"].file_credentials == {"kubeadm": Credentials("dl", "dl-s3cret")}
    assert "dl-s3cret" not in str(state.to_json())


def test_a_mirror_variable_kubespray_cannot_use_errors_every_mirror_check_and_only_those(tmp_path):
    from kubespray_verify.mirrors.session import MirrorRun

    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"],
                                {"all": {"docker_insecure_registries": "10.200.0.2:5000"}})
    state = resolve([str(inventory)], str(kubespray_dir()))
    run = MirrorRun([str(inventory)], str(kubespray_dir()))
    run.begin(state)
    assert run.first_request("node1", state) == {} and run.second_requests(state, ["node1"]) == {}
    verdicts = run.finish(state, {}).verdicts
    assert verdicts and {v.status for v in verdicts.values()} == {"error"}
    assert {v.message for v in verdicts.values()} == {
        "host node1: variable docker_insecure_registries must be a list, not a string"}
