"""Retries, timeouts and unreachable registries, against servers on 127.0.0.1 that misbehave on purpose."""

import json
import textwrap
import time

import pytest

from kubespray_verify import errors, oci
from kubespray_verify.http.policy import NO_RETRY, RetryPolicy, Timeouts
from kubespray_verify.registry.client import RegistryClient
from tests.isolation import in_empty_network_namespace
from tests.registries import ScriptedServer, refusing_port, unresponsive_port

DIGEST = "sha256:" + "a" * 64
FOUND = (200, {"Docker-Content-Digest": DIGEST, "Content-Type": oci.OCI_MANIFEST})
FAST = RetryPolicy(attempts=3, backoff=0.1, backoff_max=0.15, retry_after_max=2)
# Where a test shows that something is NOT retried: a retry would cost this wait, far above any jitter.
SLOW = RetryPolicy(attempts=3, backoff=3.0, backoff_max=3.0)


@pytest.fixture
def scripted(request):
    server = ScriptedServer(request.param)
    yield server
    server.stop()


def gaps(server: ScriptedServer) -> list[float]:
    return [b.at - a.at for a, b in zip(server.hits, server.hits[1:])]


@pytest.mark.parametrize("scripted", [[(503, {}), (502, {}), FOUND]], indirect=True)
def test_5xx_then_success_is_retried(scripted):
    info = RegistryClient(scripted.url, retry=FAST).head_manifest("pause", "3.10")
    assert info.digest == DIGEST
    assert [h.method for h in scripted.hits] == ["HEAD"] * 3
    first, second = gaps(scripted)
    assert 0.1 <= first < 1.0 and 0.15 <= second < 1.0  # backoff 0.1, then 0.2 capped at 0.15


@pytest.mark.parametrize("scripted", [[(503, {})]], indirect=True)
def test_5xx_gives_up_after_the_allowed_attempts(scripted):
    with pytest.raises(errors.ServerError, match=r"server error on 127\.0\.0\.1:\d+ \(HTTP 503 SCRIPTED\)") as caught:
        RegistryClient(scripted.url, retry=FAST).ping()
    assert caught.value.status == 503
    assert len(scripted.hits) == FAST.attempts


@pytest.mark.parametrize("scripted", [[(429, {"Retry-After": "1"}), FOUND]], indirect=True)
def test_429_waits_what_retry_after_says(scripted):
    assert RegistryClient(scripted.url, retry=FAST).head_manifest("pause", "3.10").digest == DIGEST
    assert len(scripted.hits) == 2
    assert 1.0 <= gaps(scripted)[0] < 2.5  # not the 0.1 s backoff


@pytest.mark.parametrize("scripted", [[(429, {"Retry-After": "3600"}), FOUND]], indirect=True)
def test_429_with_a_retry_after_beyond_the_bound_is_not_waited_for(scripted):
    started = time.monotonic()
    with pytest.raises(errors.RateLimited, match="Retry-After 3600 s") as caught:
        RegistryClient(scripted.url, retry=FAST).head_manifest("pause", "3.10")
    assert caught.value.retry_after == 3600
    assert len(scripted.hits) == 1 and time.monotonic() - started < 1


@pytest.mark.parametrize("scripted", [[(404, {}), (503, {})]], indirect=True)
def test_a_push_is_not_retried(scripted):
    """The blob HEAD (404: not there yet), then the upload POST: 503 once, not retried."""
    with pytest.raises(errors.ServerError):
        RegistryClient(scripted.url, retry=FAST).push_blob("pause", oci.build_image({}).config)
    assert [h.method for h in scripted.hits] == ["HEAD", "POST"]


@pytest.mark.parametrize("scripted", [[(403, {})]], indirect=True)
def test_403(scripted):
    with pytest.raises(errors.AccessDenied, match="access denied"):
        RegistryClient(scripted.url, retry=FAST).head_manifest("pause", "3.10")
    assert len(scripted.hits) == 1


@pytest.mark.parametrize("scripted", [[(401, {})]], indirect=True)
def test_401_without_a_challenge(scripted):
    with pytest.raises(errors.AuthenticationFailed, match="rejected the credentials"):
        RegistryClient(scripted.url, credentials=("u", "p")).ping()
    with pytest.raises(errors.AuthenticationRequired):
        RegistryClient(scripted.url).ping()


@pytest.mark.parametrize("scripted", [[(200, {"Docker-Content-Digest": "sha256:" + "b" * 64})]], indirect=True)
def test_content_not_matching_its_digest(scripted):
    with pytest.raises(errors.InvalidResponse, match="does not match"):
        RegistryClient(scripted.url).get_manifest("pause", "3.10")


def test_read_timeout():
    server = ScriptedServer([FOUND], delay=1.0)
    try:
        client = RegistryClient(server.url, timeout=Timeouts(connect=1, read=0.2), retry=FAST)
        with pytest.raises(errors.ReadTimeout, match="did not answer in time"):
            client.head_manifest("pause", "3.10")
        assert len(server.hits) == FAST.attempts  # a HEAD may be sent again
    finally:
        server.stop()


def test_connect_timeout_is_bounded_and_not_retried():
    with unresponsive_port() as port:
        client = RegistryClient(f"http://127.0.0.1:{port}", timeout=Timeouts(connect=0.5, read=5), retry=SLOW)
        started = time.monotonic()
        with pytest.raises(errors.ConnectTimeout, match=f"connection to 127.0.0.1:{port} timed out"):
            client.ping()
        assert 0.5 <= time.monotonic() - started < SLOW.backoff


def test_connection_refused_is_retried_then_reported():
    with refusing_port() as port:
        started = time.monotonic()
        with pytest.raises(errors.ConnectionRefused, match="nothing listens there") as caught:
            RegistryClient(f"http://127.0.0.1:{port}", retry=FAST).ping()
        assert time.monotonic() - started >= 0.1 + 0.15  # two waits: three attempts
    assert isinstance(caught.value.__cause__, Exception)  # the requests exception is kept


RAISED = textwrap.dedent("""
    import json, time
    from kubespray_verify import errors
    from kubespray_verify.http.transport import RetryPolicy
    from kubespray_verify.registry.client import RegistryClient
    started = time.monotonic()
    try:
        {call}
    except errors.VerifyError as exc:
        print(json.dumps({{"type": type(exc).__name__, "message": str(exc), "url": getattr(exc, "url", ""),
                          "seconds": time.monotonic() - started}}))
""")


def test_name_that_does_not_resolve():
    out = json.loads(in_empty_network_namespace(RAISED.format(
        call='RegistryClient("registry.kubespray-verify.invalid:5000", '
             'retry=RetryPolicy(attempts=3, backoff=5.0)).ping()')))
    assert out["type"] == "NameResolutionFailed"
    assert "cannot resolve host registry.kubespray-verify.invalid" in out["message"]
    assert out["url"] == "https://registry.kubespray-verify.invalid:5000/v2/"
    assert out["seconds"] < 5.0  # not retried


# --- proxies: only what the caller gives ---------------------------------------


@pytest.mark.parametrize("scripted", [[(200, {"Docker-Distribution-API-Version": "registry/2.0"})]], indirect=True)
def test_proxy_from_the_callers_settings(scripted):
    """The registry name never resolves: only the proxy (here the scripted server) is reached."""
    client = RegistryClient("http://mirror.kubespray-verify.invalid:5000", proxies={"http_proxy": scripted.url})
    assert client.ping().api_version == "registry/2.0"
    assert [h.path for h in scripted.hits] == ["http://mirror.kubespray-verify.invalid:5000/v2/"]


def test_no_proxy_goes_direct():
    """A name under no_proxy is looked up directly, not sent to the proxy (which would fail otherwise)."""
    out = json.loads(in_empty_network_namespace(RAISED.format(
        call='RegistryClient("http://mirror.kubespray-verify.invalid:5000", proxies={"http_proxy": '
             '"http://127.0.0.1:9", "no_proxy": "localhost,.kubespray-verify.invalid"}, '
             'retry=RetryPolicy(attempts=1)).ping()')))
    assert out["type"] == "NameResolutionFailed"


def test_the_runners_proxy_environment_is_ignored():
    """With http_proxy in the environment, the client still looks the name up itself."""
    code = "import os; os.environ['http_proxy'] = os.environ['HTTP_PROXY'] = 'http://127.0.0.1:9'\n" + RAISED.format(
        call='RegistryClient("http://mirror.kubespray-verify.invalid:5000", retry=RetryPolicy(attempts=1)).ping()')
    out = json.loads(in_empty_network_namespace(code))
    assert out["type"] == "NameResolutionFailed"


def test_proxy_refusing():
    with refusing_port() as port:
        proxies = {"https_proxy": f"http://user:proxy-pw@127.0.0.1:{port}"}
        with pytest.raises(errors.ConnectionFailed, match="proxy failed") as caught:
            RegistryClient("registry.kubespray-verify.invalid", proxies=proxies, retry=NO_RETRY).ping()
    assert "proxy-pw" not in str(caught.value)
