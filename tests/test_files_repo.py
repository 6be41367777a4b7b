"""probe_file against nginx serving a files_repo on 127.0.0.1."""

import pytest

from tests.isolation import in_empty_network_namespace

from kubespray_verify import errors
from kubespray_verify.http.policy import Credentials, NO_RETRY
from kubespray_verify.http.transport import probe_file, Transport
from tests.registries import FILES, OPERATOR, start_file_server

WRONG = Credentials(OPERATOR.username, "wrong-Passw0rd")


@pytest.fixture
def transport():
    with Transport(retry=NO_RETRY) as t:
        yield t


def probe_file_at(transport, base, path):
    return probe_file(transport, f"{base}/{path}")


def _with_userinfo(url: str, creds: Credentials) -> str:
    return url.replace("http://", f"http://{creds.username}:{creds.password}@")


def test_present(transport, file_server):
    probe = probe_file_at(transport, file_server.url, "kubernetes/v1.31.0/kubeadm")
    assert (probe.status, probe.size, probe.method) == (200, len(FILES["kubernetes/v1.31.0/kubeadm"]), "HEAD")


def test_head_refused_falls_back_to_a_one_byte_get(transport, file_server):
    probe = probe_file_at(transport, file_server.url, "head-refused/crictl.tar.gz")
    assert (probe.status, probe.size, probe.method) == (206, len(FILES["head-refused/crictl.tar.gz"]), "GET bytes=0-0")


def test_missing(transport, file_server):
    with pytest.raises(errors.NotFound, match=r"file http://127.0.0.1:\d+/kubernetes/v1.31.1/kubeadm: not found") as caught:
        probe_file_at(transport, file_server.url, "kubernetes/v1.31.1/kubeadm")
    assert caught.value.status == 404


def test_forbidden(transport, file_server):
    with pytest.raises(errors.AccessDenied):
        probe_file_at(transport, file_server.url, "forbidden/anything")


def test_private_without_credentials(transport, file_server):
    with pytest.raises(errors.AuthenticationRequired):
        probe_file_at(transport, file_server.url, "private/etcd.tar.gz")


@pytest.mark.parametrize("where", ["url", "argument"])
def test_private_with_credentials(transport, file_server, where):
    url = f"{file_server.url}/private/etcd.tar.gz"
    if where == "url":
        probe = probe_file(transport, _with_userinfo(url, OPERATOR))
    else:
        probe = probe_file(transport, url, (OPERATOR.username, OPERATOR.password))
    assert probe.size == len(FILES["private/etcd.tar.gz"])
    assert OPERATOR.password not in repr(probe) and OPERATOR.username not in probe.url


def test_private_with_wrong_credentials_in_the_url(transport, file_server):
    url = _with_userinfo(f"{file_server.url}/private/etcd.tar.gz", WRONG)
    with pytest.raises(errors.AuthenticationFailed) as caught:
        probe_file(transport, url)
    assert WRONG.password not in str(caught.value) and WRONG.password not in caught.value.url
    assert "***@127.0.0.1" in str(caught.value)


def test_stopped_server_refuses(transport, tmp_path):
    server = start_file_server(tmp_path, {"kubeadm": b"x"}, OPERATOR)
    assert probe_file_at(transport, server.url, "kubeadm").status == 200
    server.stop()
    with pytest.raises(errors.ConnectionRefused):
        probe_file_at(transport, server.url, "kubeadm")


def test_host_that_does_not_resolve():
    out = in_empty_network_namespace("""
from kubespray_verify import errors
from kubespray_verify.http.transport import Transport, probe_file
try:
    probe_file(Transport(), "https://files.kubespray-verify.invalid/kubeadm")
except errors.VerifyError as exc:
    print(type(exc).__name__)
""")
    assert out == "NameResolutionFailed"
