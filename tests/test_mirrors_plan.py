"""Which mirror checks a run has, and how many probes they share (pure)."""

from kubespray_verify.http.policy import Credentials, ProxySettings
from kubespray_verify.mirrors import endpoints
from kubespray_verify.mirrors.plan import RUNNER, ImageProbe, UrlProbe, build, check_id, labels
from kubespray_verify.kubespray import OsFacts
from kubespray_verify.resolve.host_settings import HostSettings
from kubespray_verify.model import DownloadDelegate, ExpectedState, FileItem, HostExpectation, ImageItem

REG = "10.0.0.2:5000"


def file_item(name, arch="amd64", url=None):
    return FileItem(name, url or f"http://files.site/{name}-{arch}", f"/tmp/releases/{name}", None, False, "root",
                    "0755", ("k8s_cluster",))


def image_item(name, repo, digest=None):
    return ImageItem(name, f"{REG}/{repo}", "v1", digest, ("k8s_cluster",))


def state(run_once=None):
    hosts = {
        "node1": HostExpectation("node1", "amd64", "node", [file_item("kubeadm"), image_item("calico_node", "calico/node"),
                                                           image_item("pause", "pause")],
                                 container_manager="containerd", mirror_vars=("debian_repo",)),
        "node2": HostExpectation("node2", "amd64", "node", [file_item("kubeadm"), image_item("calico_node", "calico/node")],
                                 container_manager="docker", mirror_vars=("debian_repo", "docker_debian_repo_base_url")),
        "node3": HostExpectation("node3", "arm64", "node", [file_item("kubeadm", "arm64"),
                                                           image_item("calico_node", "calico/node")],
                                 container_manager="crio"),
    }
    delegate = DownloadDelegate(True, run_once) if run_once else DownloadDelegate(False, None)
    return ExpectedState("/k", "master", hosts, download=delegate)


def settings(creds=None):
    debian = OsFacts("Debian", "Debian", "bookworm", "12", "x86_64", "node")
    found = {}
    for host, exp in state().hosts.items():
        s = HostSettings(host, debian, exp.container_manager, ProxySettings("http://proxy:3128", None, "localhost"))
        s.repos = {v: f"http://deb.site/{v}" for v in exp.mirror_vars}
        if creds:
            s.registry_credentials[REG] = creds
        found[host] = s
    return found


def runner_route(registry, s):
    return endpoints.runner_route(registry, s.insecure, s.registry_credentials.get(registry), None, s.proxies)


def test_ids_are_known_before_any_node_is_reached():
    pairs = labels(state(), from_nodes=True)
    ids = [check_id(v, label) for v, label in pairs]
    assert ids[:6] == ["runner::files:kubeadm", f"runner::registry:{REG}/calico/node:v1", f"runner::registry:{REG}/pause:v1",
                       "runner::repo:debian_repo", "runner::repo:docker_debian_repo_base_url", "node1::files:kubeadm"]
    assert f"node3::registry:{REG}/calico/node:v1" in ids and "node3::repo:debian_repo" not in ids
    assert [v for v, _ in labels(state(), from_nodes=False)] == [RUNNER] * 5


def test_under_download_run_once_only_the_delegate_fetches():
    nodes = {(v, label) for v, label in labels(state(run_once="node1"), from_nodes=True) if v != RUNNER}
    assert {label for v, label in nodes if v == "node2"} == {"repo:debian_repo", "repo:docker_debian_repo_base_url"}
    assert ("node1", f"registry:{REG}/pause:v1") in nodes
    assert not [v for v, _ in labels(state(run_once="localhost"), True) if v != RUNNER and "files:" in _]


def test_the_runner_probes_each_distinct_target_once():
    checks = build(state(), settings(), RUNNER, runner_route, verify_files=lambda s: True, send_credentials=True)
    probes = [p.probe for c in checks.values() for p in c.parts]
    kubeadm = checks["files:kubeadm"]
    assert [p.context["hosts"] for p in kubeadm.parts] == [["node1", "node2"], ["node3"]]  # amd64 URL, arm64 URL
    calico = checks[f"registry:{REG}/calico/node:v1"]
    assert len(calico.parts) == 1 and [n["arch"] for n in calico.parts[0].context["needs"]] == ["amd64", "amd64", "arm64"]
    assert len(set(probes)) == len(probes) == 6  # 2 kubeadm URLs, 2 images, 2 repos (debian_repo shared)


def test_the_runner_keeps_the_credentials_a_node_never_gets():
    creds = Credentials("operator", "s3cret")
    runner = build(state(), settings(creds), RUNNER, runner_route, verify_files=lambda s: True, send_credentials=True)
    node = build(state(), settings(creds), "node2", runner_route, verify_files=lambda s: True, send_credentials=False)
    image = runner[f"registry:{REG}/calico/node:v1"].parts[0]
    assert image.probe.route.endpoints[0].credentials == creds and image.context["credentialed"]
    url_probes = [p.probe for c in node.values() for p in c.parts if isinstance(p.probe, UrlProbe)]
    assert url_probes and all(p.credentials is None for p in url_probes)
    assert "s3cret" not in repr(runner) and "s3cret" not in repr(node)


def test_a_node_checks_its_own_targets_with_its_facts():
    node = build(state(), settings(), "node2", runner_route, verify_files=lambda s: True, send_credentials=False)
    assert sorted(node) == ["files:kubeadm", f"registry:{REG}/calico/node:v1", "repo:debian_repo",
                            "repo:docker_debian_repo_base_url"]
    repo = node["repo:docker_debian_repo_base_url"].parts[0]
    assert repo.probe.urls[0] == "http://deb.site/docker_debian_repo_base_url/dists/bookworm/InRelease"
    assert isinstance(node[f"registry:{REG}/calico/node:v1"].parts[0].probe, ImageProbe)


def test_a_repo_for_another_os_is_a_skip_with_the_reason():
    s = settings()
    s["node2"].facts = OsFacts("Rocky", "RedHat", "", "9", "x86_64", "node")
    node = build(state(), s, "node2", runner_route, verify_files=lambda s: True, send_credentials=False)
    assert node["repo:debian_repo"].skip == "node2: debian_repo serves Debian hosts, not Rocky 9"
    assert node["repo:debian_repo"].parts == []


def test_a_variable_that_does_not_template_is_an_error_of_that_check():
    s = settings()
    s["node1"].errors["yum_repo"] = "'site_repo' is undefined"
    node = build(state(), s, "node1", runner_route, verify_files=lambda s: True, send_credentials=False)
    (part,) = node["repo:yum_repo"].parts
    assert part.error == "host node1: variable yum_repo does not template: 'site_repo' is undefined"
