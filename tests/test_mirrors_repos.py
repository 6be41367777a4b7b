"""Offline repo variables: where each applies, the path that proves a repo, facts from os-release (pure)."""

import pytest

from kubespray_verify.kubespray import OsFacts, facts_from_os_release
from kubespray_verify.mirrors.repos import applies, probe_for, roots

BOOKWORM = OsFacts("Debian", "Debian", "bookworm", "12", "x86_64", "node")
JAMMY = OsFacts("Ubuntu", "Debian", "jammy", "22", "x86_64", "node")
ROCKY9 = OsFacts("Rocky", "RedHat", "Blue Onyx", "9", "aarch64", "node")
FEDORA40 = OsFacts("Fedora", "RedHat", "", "40", "x86_64", "inventory")
UNKNOWN = OsFacts(architecture="x86_64")


@pytest.mark.parametrize("var, url, facts, urls, assumed", [
    ("docker_rh_repo_base_url", "http://yum.site/docker-ce/$releasever/$basearch", ROCKY9,
     ("http://yum.site/docker-ce/9/aarch64/repodata/repomd.xml",),
     ("$releasever=9 (major version, node facts of node2)", "$basearch=aarch64 (architecture aarch64 of node2)")),
    ("docker_rh_repo_base_url", "http://yum.site/docker-ce/${releasever}/${basearch}/", ROCKY9,
     ("http://yum.site/docker-ce/9/aarch64/repodata/repomd.xml",), None),
    ("crio_rhel_repo_base_url", "http://yum.site/crio/", ROCKY9, ("http://yum.site/crio/repodata/repomd.xml",), ()),
    ("docker_debian_repo_base_url", "http://deb.site/docker-ce", BOOKWORM,
     ("http://deb.site/docker-ce/dists/bookworm/InRelease", "http://deb.site/docker-ce/dists/bookworm/Release"),
     ("suite bookworm (node facts of node2)",)),
    ("ubuntu_repo", "http://deb.site/ubuntu/", JAMMY,
     ("http://deb.site/ubuntu/dists/jammy/InRelease", "http://deb.site/ubuntu/dists/jammy/Release"), None),
    ("pyrepo_index", "https://pypi.site/simple", UNKNOWN, ("https://pypi.site/simple/",), ()),
    ("helm_stable_repo_url", "https://charts.site/stable/", UNKNOWN, ("https://charts.site/stable/index.yaml",), ()),
    ("docker_debian_repo_gpgkey", "http://deb.site/docker-ce/gpg", UNKNOWN, ("http://deb.site/docker-ce/gpg",), ()),
])
def test_repo_proving_paths(var, url, facts, urls, assumed):
    probe = probe_for(var, url, facts, "node2")
    assert probe.missing is None and probe.urls == urls
    if assumed is not None:
        assert probe.assumed == assumed


def test_pypi_index_must_answer_as_a_simple_index():
    assert "text/html" in probe_for("pyrepo_index", "https://pypi.site/simple", UNKNOWN, "n").accept_types


@pytest.mark.parametrize("var, url, says", [
    ("yum_repo", "http://yum.site/$releasever/os", "$releasever of node2 unknown (the node was not asked"),
    ("debian_repo", "http://deb.site/debian", "the release codename of node2 is unknown (the node was not asked"),
])
def test_a_fact_the_path_needs_is_unknown(var, url, says):
    probe = probe_for(var, url, UNKNOWN, "node2")
    assert probe.urls == () and says in probe.missing


@pytest.mark.parametrize("var, facts, manager, why_not", [
    ("yum_repo", ROCKY9, "containerd", None),
    ("yum_repo", BOOKWORM, "containerd", "yum_repo serves RedHat hosts, not Debian 12"),
    ("yum_repo", UNKNOWN, "containerd", None),  # unknown OS: probed, facts said unknown
    ("debian_repo", JAMMY, "containerd", "debian_repo serves Debian hosts, not Ubuntu 22"),
    ("ubuntu_repo", JAMMY, "containerd", None),
    ("docker_rh_repo_base_url", FEDORA40, "docker", "docker_rh_repo_base_url serves RedHat hosts, not Fedora 40"),
    ("docker_fedora_repo_base_url", FEDORA40, "docker", None),
    ("docker_debian_repo_base_url", BOOKWORM, "containerd",
     "docker_debian_repo_base_url serves container_manager docker, not containerd"),
    ("containerd_debian_repo_base_url", BOOKWORM, "containerd", None),
    ("crio_rhel_repo_base_url", ROCKY9, "docker", "crio_rhel_repo_base_url serves container_manager crio, not docker"),
    ("pyrepo_index", ROCKY9, "crio", None),
])
def test_which_hosts_a_repo_serves(var, facts, manager, why_not):
    assert applies(var, facts, manager) == why_not


def test_a_root_var_under_which_repos_live_is_not_a_repo_itself():
    values = {"yum_repo": "http://repo.site/yum", "docker_rh_repo_base_url": "http://repo.site/yum/docker-ce/$releasever",
              "docker_rh_repo_gpgkey": "http://repo.site/yum/docker-ce/gpg", "debian_repo": "http://repo.site/debian"}
    assert roots(values) == {"yum_repo": ["docker_rh_repo_base_url", "docker_rh_repo_gpgkey"]}


@pytest.mark.parametrize("text, facts", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
     ("Debian", "Debian", "bookworm", "12")),
    ('NAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n',
     ("Ubuntu", "Debian", "jammy", "22")),
    ('NAME="Rocky Linux"\nVERSION_ID="9.3"\nID="rocky"\nID_LIKE="rhel centos fedora"\n', ("Rocky", "RedHat", "", "9")),
    ('NAME="Red Hat Enterprise Linux"\nVERSION_ID="8.9"\nID="rhel"\n', ("RedHat", "RedHat", "", "8")),
    ("ID=fedora\nVERSION_ID=40\n", ("Fedora", "RedHat", "", "40")),
    ("ID=someos\nNAME='Some OS'\nID_LIKE=debian\nVERSION_CODENAME=x\n", ("Some OS", "Debian", "x", "")),
    ("# comment only\n", ("", "", "", "")),
])
def test_facts_from_os_release(text, facts):
    found = facts_from_os_release(text, "x86_64")
    assert (found.distribution, found.os_family, found.release, found.major_version) == facts
