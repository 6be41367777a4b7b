"""Authentication and TLS against real registries: htpasswd over TLS, and token auth."""

import time

import pytest

from kubespray_verify import errors, oci
from kubespray_verify.http.policy import Credentials
from kubespray_verify.oci import Platform
from kubespray_verify.registry.client import RegistryClient
from kubespray_verify.lab.pki import make_ca
from tests.registries import OPERATOR, READER

IMAGE = oci.build_image({"bin/coredns": b"coredns"}, Platform("amd64"))
WRONG = Credentials(OPERATOR.username, "not-the-password")


@pytest.fixture(scope="module")
def tls_pushed(tls_registry):
    with tls_registry.client() as client:
        client.push("coredns/coredns", "v1.11.3", IMAGE)
    return tls_registry


def test_tls_with_ca_and_credentials(tls_pushed):
    with tls_pushed.client() as client:
        assert client.ping().auth_scheme == "basic"
        assert client.head_manifest("coredns/coredns", "v1.11.3").digest == IMAGE.digest


def test_basic_credentials_are_sent_up_front_once_the_registry_asked(tls_pushed):
    def challenges() -> int:
        return tls_pushed.log_text().count(' HTTP/1.1" 401 ')  # the access log

    with tls_pushed.client() as client:
        before = challenges()
        client.head_manifest("coredns/coredns", "v1.11.3")
        assert challenges() == before + 1
        for _ in range(3):
            client.head_manifest("coredns/coredns", "v1.11.3")
        assert challenges() == before + 1


def test_credentials_in_the_registry_url(tls_pushed):
    url = tls_pushed.url.replace("https://", f"https://{OPERATOR.username}:{OPERATOR.password}@")
    client = RegistryClient(url, verify=str(tls_pushed.ca))
    assert client.base_url == tls_pushed.url and OPERATOR.password not in repr(client)
    assert client.head_manifest("coredns/coredns", "v1.11.3").digest == IMAGE.digest


def test_no_credentials(tls_pushed):
    with tls_pushed.client(credentials=None) as client, pytest.raises(errors.AuthenticationRequired, match="requires credentials") as caught:
        client.head_manifest("coredns/coredns", "v1.11.3")
    assert caught.value.status == 401


def test_wrong_credentials(tls_pushed):
    with tls_pushed.client(credentials=WRONG) as client, pytest.raises(errors.AuthenticationFailed, match="rejected the credentials") as caught:
        client.head_manifest("coredns/coredns", "v1.11.3")
    assert WRONG.password not in str(caught.value) and WRONG.password not in repr(caught.value)


def test_system_trust_store_does_not_know_the_lab_ca(tls_pushed):
    host = tls_pushed.host
    with tls_pushed.client(verify=True) as client, pytest.raises(errors.TLSVerificationFailed) as caught:
        client.ping()
    assert caught.value.host == host and caught.value.ca == "the system trust store"
    assert f"TLS certificate of {host} not trusted" in str(caught.value)
    assert "unable to get local issuer certificate" in str(caught.value)


def test_another_ca_is_named(tls_pushed, tmp_path):
    other = make_ca(tmp_path, "some other CA")
    with tls_pushed.client(verify=str(other.cert)) as client, pytest.raises(errors.TLSVerificationFailed) as caught:
        client.ping()
    assert str(other.cert) in str(caught.value)


def test_missing_ca_file(tls_pushed, tmp_path):
    with pytest.raises(errors.UsageError, match="ca.pem does not exist"):
        tls_pushed.client(verify=str(tmp_path / "ca.pem"))


def test_certificate_not_valid_for_the_name_used(tls_pushed):
    """The certificate names IP:127.0.0.1 only; `localhost` resolves to it but is not in it."""
    url = tls_pushed.url.replace("127.0.0.1", "localhost")
    with pytest.raises(errors.TLSVerificationFailed, match="Hostname mismatch") as caught:
        RegistryClient(url, verify=str(tls_pushed.ca)).ping()
    assert caught.value.host.startswith("localhost:")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_skips_verification(tls_pushed):
    with tls_pushed.client(verify=False) as client:
        assert client.head_manifest("coredns/coredns", "v1.11.3").digest == IMAGE.digest


def test_plain_http_client_on_a_tls_port(tls_pushed):
    client = RegistryClient(tls_pushed.url.replace("https://", "http://"), credentials=OPERATOR)
    with pytest.raises(errors.UnexpectedStatus, match="HTTP 400"):
        client.ping()


def test_tls_client_on_a_plain_port(plain_registry, registry_ca):
    client = RegistryClient(plain_registry.url.replace("http://", "https://"), verify=str(registry_ca.cert))
    started = time.monotonic()
    with pytest.raises(errors.TLSHandshakeFailed, match="TLS handshake"):
        client.ping()
    assert time.monotonic() - started < 0.5  # not retried: the first backoff alone is 0.5 s


# --- token auth ---------------------------------------------------------------


@pytest.fixture(scope="module")
def token_pushed(token_registry):
    with token_registry.client() as client:
        client.push("private/etcd", "v3.5.16", IMAGE)
        client.push("public/pause", "3.10", IMAGE)
    return token_registry


def test_token_flow_with_credentials(token_pushed, token_issuer):
    before = len(token_issuer.requests)
    with token_pushed.client() as client:
        for _ in range(3):
            assert client.head_manifest("private/etcd", "v3.5.16").digest == IMAGE.digest
        client.get_manifest("private/etcd", "v3.5.16")
        assert client.ping().auth_scheme == "bearer"
    asked = token_issuer.requests[before:]
    # One token per scope for the client's life: the repository's, and /v2/'s (no scope).
    assert asked == [(OPERATOR.username, ("repository:private/etcd:pull",)), (OPERATOR.username, ())]


def test_anonymous_token_for_a_public_repository(token_pushed, token_issuer):
    before = len(token_issuer.requests)
    with token_pushed.client(credentials=None) as client:
        assert client.head_manifest("public/pause", "3.10").digest == IMAGE.digest
    assert token_issuer.requests[before:] == [(None, ("repository:public/pause:pull",))]


def test_anonymous_access_refused(token_pushed):
    with token_pushed.client(credentials=None) as client, pytest.raises(errors.AuthenticationRequired, match="no anonymous access to repository:private/etcd:pull"):
        client.head_manifest("private/etcd", "v3.5.16")


def test_wrong_credentials_at_the_token_service(token_pushed, token_issuer):
    with token_pushed.client(credentials=WRONG) as client, pytest.raises(errors.AuthenticationFailed, match="token service") as caught:
        client.head_manifest("private/etcd", "v3.5.16")
    assert caught.value.url.startswith(token_issuer.realm)
    assert WRONG.password not in str(caught.value)


def test_credentials_without_the_right(token_pushed):
    with token_pushed.client(credentials=READER) as client:
        assert client.head_manifest("private/etcd", "v3.5.16").digest == IMAGE.digest
        with pytest.raises(errors.AccessDenied, match=r"accepted but give no access to repository:private/etcd:(pull,push|push,pull)"):
            client.push("private/etcd", "v3.5.17", oci.build_image({"x": b"y"}))


def test_access_token_answers(token_pushed, token_issuer, monkeypatch):
    monkeypatch.setattr(token_issuer, "answer_key", "access_token")
    with token_pushed.client() as client:
        assert client.head_manifest("private/etcd", "v3.5.16").digest == IMAGE.digest
