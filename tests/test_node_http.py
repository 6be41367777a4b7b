"""The node's own HTTP probes (node_http.py) against real registries, nginx and misbehaving servers on 127.0.0.1.

They run here in-process, as the node runs them, and once as the shipped script
under an isolated `python3` with no access to this package.
"""

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from kubespray_verify import errors, oci
from kubespray_verify.nodes.probe import http_prober as node_http
from kubespray_verify.nodes.probe.command import probe_command
from kubespray_verify.http.policy import NO_RETRY, ProxySettings, RetryPolicy, Timeouts
from kubespray_verify.mirrors import endpoints, node_side
from kubespray_verify.mirrors.plan import ImageProbe, UrlProbe
from kubespray_verify.oci import Platform
from tests.registries import (FILES, OPERATOR, READER, ScriptedServer, refusing_port, start_file_server,
                              unresponsive_port)

AMD64 = oci.build_image({"bin/node": b"calico node amd64"}, Platform("amd64"))
ARM64 = oci.build_image({"bin/node": b"calico node arm64"}, Platform("arm64", variant="v8"))
INDEX = oci.build_index([AMD64, ARM64])
FAST = RetryPolicy(attempts=3, backoff=0.05, backoff_max=0.1)


def run(probes, proxies=ProxySettings(), retry=NO_RETRY, timeout=Timeouts(connect=2, read=5)):
    """As the node: the request's mirrors section, run by node_http, read back by the runner."""
    section, keys = node_side.request(probes, proxies, timeout, retry, concurrency=4)
    answer = node_http.run(json.loads(json.dumps(section)))  # what travels is JSON
    results, requests, _ = node_side.results(json.loads(json.dumps(answer)), keys)
    return results, requests


def hosts_file(tmp_path, registry, text):
    path = tmp_path / "certs.d" / registry / "hosts.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path), text


def containerd_probe(tmp_path, registry, text, repository="calico/node", tag="v3"):
    files = {registry: hosts_file(tmp_path, registry, text)}
    route = endpoints.containerd_route(registry, files, ProxySettings())
    return ImageProbe(repository, tag, route)


def basic(creds):
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


@pytest.fixture(scope="module")
def plain(plain_registry):
    with plain_registry.client() as client:
        client.push("calico/node", "v3", INDEX)
        client.push("pause", "3.10", AMD64)
    return plain_registry


@pytest.fixture(scope="module")
def secure(tls_registry):
    with tls_registry.client() as client:
        client.push("calico/node", "v3", INDEX)
    return tls_registry


@pytest.fixture(scope="module")
def token(token_registry):
    with token_registry.client() as client:
        client.push("private/calico/node", "v3", INDEX)
        client.push("public/pause", "3.10", AMD64)
    return token_registry


# -- registries ----------------------------------------------------------------------


def test_an_index_at_the_server_with_its_platforms(tmp_path, plain):
    probe = containerd_probe(tmp_path, plain.host, f'server = "{plain.url}"\n')
    results, requests = run([probe])
    served = results[probe].served
    assert (served.where, served.info["digest"]) == (f"server {plain.url}", INDEX.digest)
    assert served.info["platforms"] == {"linux/amd64": AMD64.digest, "linux/arm64/v8": ARM64.digest}


def test_a_dead_mirror_then_the_server(tmp_path, plain):
    with refusing_port() as port:
        text = f'server = "{plain.url}"\n\n[host."http://127.0.0.1:{port}"]\n  capabilities = ["pull", "resolve"]\n'
        probe = containerd_probe(tmp_path, plain.host, text)
        results, _ = run([probe])
    dead, served = results[probe].attempts
    assert dead.is_a(errors.ConnectionRefused) and dead.where == f"mirror http://127.0.0.1:{port}"
    assert "refused: nothing listens there" in dead.error
    assert served.info["digest"] == INDEX.digest


def test_one_ping_per_endpoint_whatever_the_number_of_images(tmp_path, plain):
    probes = [containerd_probe(tmp_path, plain.host, f'server = "{plain.url}"\n', repo, tag)
              for repo, tag in (("calico/node", "v3"), ("pause", "3.10"), ("pause", "3.10"))]
    results, requests = run(probes)
    assert len(results) == 2  # equal probes are one
    assert requests == 1 + 2 + 1  # ping, a HEAD each, the index document


def test_tls_with_the_nodes_ca_and_its_hosts_toml_header(tmp_path, secure):
    text = (f'server = "{secure.url}"\nca = "{secure.ca}"\n[header]\n  authorization = "{basic(OPERATOR)}"\n')
    probe = containerd_probe(tmp_path, secure.host, text)
    assert basic(OPERATOR) not in json.dumps(node_side.request([probe], ProxySettings(), Timeouts(), NO_RETRY, 1)[0])
    results, _ = run([probe])
    assert results[probe].served.info["digest"] == INDEX.digest


@pytest.mark.parametrize("header, ca, error, says", [
    ("wrong", True, errors.AuthenticationFailed, "rejected the credentials"),
    (None, True, errors.AuthenticationRequired, "requires credentials and none were given"),
    ("right", False, errors.TLSVerificationFailed, "not trusted"),
])
def test_tls_registry_failures(tmp_path, secure, header, ca, error, says):
    creds = {"right": OPERATOR, "wrong": READER}.get(header)
    text = f'server = "{secure.url}"\n' + (f'ca = "{secure.ca}"\n' if ca else "")
    if creds:
        text += f'[header]\n  authorization = "{basic(creds)}"\n'
    probe = containerd_probe(tmp_path, secure.host, text)
    (attempt,) = run([probe])[0][probe].attempts
    assert attempt.is_a(error) and says in attempt.error, attempt.error


def test_bearer_token_with_the_nodes_credentials(tmp_path, token, token_issuer):
    text = f'server = "{token.url}"\n[header]\n  authorization = "{basic(OPERATOR)}"\n'
    probe = containerd_probe(tmp_path, token.host, text, "private/calico/node")
    asked = len(token_issuer.requests)
    results, _ = run([probe])
    assert results[probe].served.info["digest"] == INDEX.digest
    assert ("operator", ("repository:private/calico/node:pull",)) in token_issuer.requests[asked:]


def test_bearer_token_anonymous(tmp_path, token, token_issuer):
    public = containerd_probe(tmp_path, token.host, f'server = "{token.url}"\n', "public/pause", "3.10")
    private = containerd_probe(tmp_path, token.host, f'server = "{token.url}"\n', "private/calico/node")
    results, _ = run([public, private])
    assert results[public].served.info["digest"] == AMD64.digest
    (denied,) = results[private].attempts
    assert denied.is_a(errors.AuthenticationRequired), denied.error


def test_docker_insecure_registry_unverified_https_then_http(plain):
    route = endpoints.docker_route(plain.host, (plain.host,), (), ProxySettings())
    probe = ImageProbe("pause", "3.10", route)
    tls, served = run([probe])[0][probe].attempts
    assert tls.is_a(errors.TLSHandshakeFailed) and served.where == f"http://{plain.host}"


# -- files -----------------------------------------------------------------------------


@pytest.mark.parametrize("path, ok, info, error", [
    ("kubernetes/v1.31.0/kubeadm", True, {"status": 200, "method": "HEAD", "size": len(FILES["kubernetes/v1.31.0/kubeadm"])}, None),
    ("head-refused/crictl.tar.gz", True, {"status": 206, "method": "GET bytes=0-0", "size": len(FILES["head-refused/crictl.tar.gz"])}, None),
    ("kubernetes/v1.31.1/kubeadm", False, None, errors.NotFound),
    ("private/etcd.tar.gz", False, None, errors.AuthenticationRequired),
    ("forbidden/x", False, None, errors.AccessDenied),
])
def test_files_from_the_node(file_server, path, ok, info, error):
    probe = UrlProbe((f"{file_server.url}/{path}",), True, ProxySettings())
    (attempt,) = run([probe])[0][probe].attempts
    if ok:
        assert {k: attempt.info[k] for k in info} == info
    else:
        assert attempt.is_a(error)


def test_a_stopped_file_server(tmp_path):
    server = start_file_server(tmp_path / "files", {"a": b"a"}, OPERATOR)
    probe = UrlProbe((f"{server.url}/a",), True, ProxySettings())
    assert run([probe])[0][probe].served is not None
    server.stop()
    (attempt,) = run([probe])[0][probe].attempts
    assert attempt.is_a(errors.ConnectionRefused)


def test_retry_after_is_honoured_and_counted():
    server = ScriptedServer([(429, {"Retry-After": "1"}), (200, {})])
    try:
        probe = UrlProbe((f"{server.url}/kubeadm",), True, ProxySettings())
        started = time.monotonic()
        results, requests = run([probe], retry=FAST)
        assert results[probe].served is not None and requests == 2
        assert server.hits[1].at - server.hits[0].at >= 0.9
        assert time.monotonic() - started < 5
    finally:
        server.stop()


def test_a_server_error_after_the_retries():
    server = ScriptedServer([(503, {})])
    try:
        probe = UrlProbe((f"{server.url}/kubeadm",), True, ProxySettings())
        results, requests = run([probe], retry=FAST)
        (attempt,) = results[probe].attempts
        assert attempt.is_a(errors.ServerError) and requests == 3 and len(server.hits) == 3
    finally:
        server.stop()


def test_a_connect_timeout_is_not_retried():
    with unresponsive_port() as port:
        probe = UrlProbe((f"http://127.0.0.1:{port}/kubeadm",), True, ProxySettings())
        started = time.monotonic()
        results, requests = run([probe], retry=FAST, timeout=Timeouts(connect=0.5, read=1))
    (attempt,) = results[probe].attempts
    assert attempt.is_a(errors.ConnectTimeout) and requests == 1 and time.monotonic() - started < 3


def test_through_the_nodes_proxy_and_past_it_for_no_proxy():
    proxy = ScriptedServer([(200, {"Content-Length": "7"})])
    try:
        via = UrlProbe(("http://mirror.kubespray-verify.invalid:8080/kubeadm",), True, ProxySettings())
        results, _ = run([via], proxies=ProxySettings(http=proxy.url))
        assert results[via].served is not None
        assert [h.path for h in proxy.hits] == ["http://mirror.kubespray-verify.invalid:8080/kubeadm"]
        with refusing_port() as port:
            past = UrlProbe((f"http://127.0.0.1:{port}/kubeadm",), True, ProxySettings())
            results, _ = run([past], proxies=ProxySettings(http=proxy.url, no_proxy="127.0.0.1"))
        assert results[past].attempts[0].is_a(errors.ConnectionRefused) and len(proxy.hits) == 1
    finally:
        proxy.stop()


# -- the shipped script ------------------------------------------------------------------


def test_the_shipped_probe_runs_without_this_package(tmp_path, plain, file_server):
    text = f'server = "{plain.url}"\n'
    hosts_file(tmp_path, plain.host, text)
    probe = containerd_probe(tmp_path, plain.host, text)
    section, keys = node_side.request([probe, UrlProbe((f"{file_server.url}/kubernetes/v1.31.0/kubeadm",), True,
                                                       ProxySettings())], ProxySettings(), Timeouts(), NO_RETRY, 2)
    command = probe_command({"mirrors": section, "registry_hosts": {"dir": str(tmp_path / "certs.d")}})
    # -I: no user site, no cwd; -S: no site-packages, so no installed kubespray_verify either.
    proc = subprocess.run(["bash", "-c", command.replace("python3 ", f"{sys.executable} -I -S ", 1)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60, env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["registry_hosts"]["files"][plain.host]["text"] == text
    results, requests, _ = node_side.results(answer["mirrors"], keys)
    assert results[probe].served.info["digest"] == INDEX.digest and requests == 4


def test_a_redirect_is_followed_and_the_verdict_names_the_url_asked_for():
    server = ScriptedServer([(302, {"Location": "/signed/kubeadm?X-Amz-Signature=token"}), (200, {})])
    try:
        probe = UrlProbe((f"{server.url}/kubeadm",), True, ProxySettings())
        results, requests = run([probe])
        assert results[probe].served.where == f"{server.url}/kubeadm" and requests == 2
        assert [h.path for h in server.hits] == ["/kubeadm", "/signed/kubeadm?X-Amz-Signature=token"]
    finally:
        server.stop()
