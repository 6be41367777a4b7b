"""The runner's mirror probes against real registries and nginx on 127.0.0.1: auth flows, TLS, dedup, counts."""

import pytest

from kubespray_verify import errors, oci
from kubespray_verify.http.policy import Credentials, NO_RETRY, ProxySettings
from kubespray_verify.mirrors import endpoints
from kubespray_verify.mirrors.plan import ImageProbe, UrlProbe
from kubespray_verify.mirrors.runner import RunnerProber
from kubespray_verify.oci import Platform
from tests.registries import FILES, OPERATOR, READER

AMD64 = oci.build_image({"bin/coredns": b"coredns amd64"}, Platform("amd64"))
ARM64 = oci.build_image({"bin/coredns": b"coredns arm64"}, Platform("arm64"))
INDEX = oci.build_index([AMD64, ARM64], flavour="oci")
WRONG = Credentials(OPERATOR.username, "wrong-Passw0rd")


@pytest.fixture(scope="module")
def token(token_registry):
    with token_registry.client() as client:
        client.push("private/coredns", "v1", INDEX)
        client.push("public/pause", "3.10", AMD64)
    return token_registry


@pytest.fixture(scope="module")
def secure(tls_registry):
    with tls_registry.client() as client:
        client.push("coredns/coredns", "v1", INDEX)
    return tls_registry


def image(server, repository, tag, creds=None, ca=None, insecure=()):
    route = endpoints.runner_route(server.host, set(insecure), creds, ca, ProxySettings())
    return ImageProbe(repository, tag, route)


def probe_all(probes):
    prober = RunnerProber(concurrency=4, retry=NO_RETRY)
    try:
        return prober.run(probes), prober.requests
    finally:
        prober.close()


def test_bearer_token_flow_with_credentials(token, token_issuer):
    probe = ImageProbe("private/coredns", "v1", endpoints.Route(token.host, "test", (
        endpoints.Endpoint(f"{token.url}/v2", "registry", token.url, credentials=OPERATOR),)))
    asked = len(token_issuer.requests)
    results, _ = probe_all([probe])
    served = results[probe].served
    assert (served.info["digest"], sorted(served.info["platforms"])) == (INDEX.digest, ["linux/amd64", "linux/arm64"])
    users = {user for user, _ in token_issuer.requests[asked:]}
    assert users == {"operator"}


def test_bearer_token_flow_anonymous_and_refused(token):
    def at(repository, tag):
        return ImageProbe(repository, tag, endpoints.Route(token.host, "test", (
            endpoints.Endpoint(f"{token.url}/v2", "registry", token.url),)))

    public, private = at("public/pause", "3.10"), at("private/coredns", "v1")
    results, _ = probe_all([public, private])
    assert results[public].served.info["digest"] == AMD64.digest
    (denied,) = results[private].attempts
    assert denied.is_a(errors.AuthenticationRequired) and "allows no anonymous access" in denied.error


@pytest.mark.parametrize("creds, ca, error, says", [
    (OPERATOR, True, None, None),
    (WRONG, True, errors.AuthenticationFailed, "rejected the credentials"),
    (None, True, errors.AuthenticationRequired, "requires credentials (Basic) and none were given"),
    (OPERATOR, False, errors.TLSVerificationFailed, "not trusted"),
])
def test_tls_registry_with_basic_auth(secure, creds, ca, error, says):
    probe = image(secure, "coredns/coredns", "v1", creds, str(secure.ca) if ca else None)
    results, _ = probe_all([probe])
    if error is None:
        assert results[probe].served.info["digest"] == INDEX.digest
    else:
        (attempt,) = results[probe].attempts
        assert attempt.is_a(error) and says in attempt.error
        assert OPERATOR.password not in attempt.error and WRONG.password not in attempt.error


def test_each_distinct_probe_once_and_one_ping_per_registry(plain_registry):
    with plain_registry.client() as client:
        client.push("calico/cni", "v1", INDEX)
        client.push("calico/node", "v1", AMD64)
    probes = [image(plain_registry, repo, "v1", insecure=[plain_registry.host])
              for repo in ("calico/cni", "calico/node", "calico/cni", "calico/node")]
    results, requests = probe_all(probes)
    assert len(results) == 2
    # unverified HTTPS refused at the handshake once, a plain-HTTP ping, a HEAD each, the index document
    assert requests == 1 + 1 + 2 + 1


@pytest.mark.parametrize("path, error", [
    ("kubernetes/v1.31.0/kubeadm", None),
    ("head-refused/crictl.tar.gz", None),
    ("kubernetes/v1.31.1/kubeadm", errors.NotFound),
    ("private/etcd.tar.gz", errors.AuthenticationRequired),
])
def test_files_from_the_runner(file_server, path, error):
    probe = UrlProbe((f"{file_server.url}/{path}",), True, ProxySettings())
    (attempt,) = probe_all([probe])[0][probe].attempts
    if error is None:
        assert attempt.ok and attempt.info["size"] == len(FILES[path])
    else:
        assert attempt.is_a(error)


def test_file_credentials_from_the_item(file_server):
    probe = UrlProbe((f"{file_server.url}/private/etcd.tar.gz",), True, ProxySettings(), credentials=OPERATOR)
    wrong = UrlProbe((f"{file_server.url}/private/etcd.tar.gz",), True, ProxySettings(), credentials=READER)
    results, _ = probe_all([probe, wrong])
    assert results[probe].served is not None
    assert results[wrong].attempts[0].is_a(errors.AuthenticationFailed)
