"""Retry policy, proxies, redaction and status classification, pure."""

import pickle

import pytest

from kubespray_verify import errors
from kubespray_verify.http.rules import bypass_proxy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from kubespray_verify.http.policy import (
    Credentials,
    parse_retry_after,
    ProxySettings,
    RetryPolicy,
    split_userinfo,
    status_error,
    Timeouts,
)
from kubespray_verify.redact import redact_url


def test_timeouts_default_to_the_named_constants():
    assert Timeouts().as_requests() == (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)


POLICY = RetryPolicy(attempts=4, backoff=0.5, backoff_max=1.5, retry_after_max=10)


@pytest.mark.parametrize(
    "method, attempt, retry_after, delay",
    [
        ("GET", 1, None, 0.5),
        ("GET", 2, None, 1.0),
        ("HEAD", 3, None, 1.5),  # capped
        ("GET", 4, None, None),  # attempts used up
        ("get", 1, None, 0.5),
        ("GET", 1, 3.0, 3.0),  # Retry-After wins over backoff
        ("GET", 1, 0.0, 0.0),
        ("GET", 1, 11.0, None),  # longer than allowed: give up at once
        ("POST", 1, None, None),  # not idempotent
        ("PUT", 1, 1.0, None),
        ("PATCH", 1, None, None),
    ],
)
def test_retry_policy_delay(method, attempt, retry_after, delay):
    assert POLICY.delay(method, attempt, retry_after) == delay


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),  # `now` is 40
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # delta-seconds are whole numbers
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=40.0) == seconds


@pytest.mark.parametrize(
    "host, port, no_proxy, bypass",
    [
        ("registry.local", 5000, "registry.local", True),
        ("registry.local", 5000, "REGISTRY.local", True),
        ("a.registry.local", 443, "registry.local", True),
        ("a.registry.local", 443, ".registry.local", True),
        ("registry.local", 443, ".registry.local", True),
        ("notregistry.local", 443, "registry.local", False),
        ("registry.local", 5000, "registry.local:5000", True),
        ("registry.local", 443, "registry.local:5000", False),
        ("10.0.3.7", 443, "10.0.0.0/16", True),
        ("10.1.3.7", 443, "10.0.0.0/16", False),
        ("10.0.3.7", 443, "10.0.3.7", True),
        ("10.0.3.70", 443, "10.0.3.7", False),
        ("::1", 443, "::1", True),
        ("fd00::5", 443, "fd00::/8", True),
        ("anything", 80, "*", True),
        ("anything", 80, "", False),
        ("anything", 80, " , ,", False),
        ("registry.local", 80, "localhost, registry.local ,127.0.0.1", True),
    ],
)
def test_bypass_proxy(host, port, no_proxy, bypass):
    assert bypass_proxy(host, port, no_proxy) is bypass


def test_proxy_settings_from_kubespray_vars():
    proxies = ProxySettings.of({"http_proxy": "http://proxy:3128", "https_proxy": "http://u:pw@proxy:3129", "no_proxy": "mirror.local"})
    assert proxies.for_url("https://quay.io/v2/") == {"https": "http://u:pw@proxy:3129"}
    assert proxies.for_url("http://files.example/kubeadm") == {"http": "http://proxy:3128"}
    assert proxies.for_url("https://mirror.local:5000/v2/") == {}
    assert ProxySettings.of(None).for_url("https://quay.io/") == {}
    assert "pw" not in repr(proxies)


@pytest.mark.parametrize(
    "text, redacted",
    [
        ("https://user:pw@files.local/a", "https://***@files.local/a"),
        ("see http://u@h/x and https://a:b@c/d", "see http://***@h/x and https://***@c/d"),
        ("https://files.local/a@b", "https://files.local/a@b"),
        ("no url", "no url"),
    ],
)
def test_redact_url(text, redacted):
    assert redact_url(text) == redacted


@pytest.mark.parametrize(
    "url, bare, creds",
    [
        ("https://files.local/k", "https://files.local/k", None),
        ("https://op:p%40ss@files.local:8443/k?x=1", "https://files.local:8443/k?x=1", ("op", "p@ss")),
        ("http://op@[::1]:80/k", "http://[::1]:80/k", ("op", "")),
    ],
)
def test_split_userinfo(url, bare, creds):
    got_bare, got_creds = split_userinfo(url)
    assert got_bare == bare
    assert (got_creds.username, got_creds.password) == creds if creds else got_creds is None


def test_credentials_never_show():
    creds = Credentials("operator", "hunter2")
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds)
    assert "operator" not in repr(creds)


URL = "https://mirror.local:5000/v2/library/pause/manifests/3.10"


@pytest.mark.parametrize(
    "status, had_credentials, cls, words",
    [
        (401, False, errors.AuthenticationRequired, "requires credentials"),
        (401, True, errors.AuthenticationFailed, "rejected the credentials"),
        (403, True, errors.AccessDenied, "access denied"),
        (404, False, errors.NotFound, "not found"),
        (429, False, errors.RateLimited, "rate limited"),
        (500, False, errors.ServerError, "server error"),
        (503, False, errors.ServerError, "server error"),
        (418, False, errors.UnexpectedStatus, "unexpected answer"),
        (400, False, errors.UnexpectedStatus, "unexpected answer"),
    ],
)
def test_status_error(status, had_credentials, cls, words):
    error = status_error(status, subject="manifest library/pause:3.10", url=URL, had_credentials=had_credentials, codes=("X",))
    assert type(error) is cls
    assert isinstance(error, errors.HTTPStatusError) and isinstance(error, errors.VerifyError)
    assert error.status == status and error.codes == ("X",)
    assert str(error).startswith("manifest library/pause:3.10: ") and words in str(error)
    assert f"HTTP {status} X" in str(error) and "mirror.local:5000" in str(error)


def test_status_error_details():
    error = status_error(429, subject="s", url=URL, had_credentials=False, retry_after=120.0)
    assert error.retry_after == 120.0 and "Retry-After 120 s" in str(error)
    missing = status_error(404, subject="s", url=URL, had_credentials=False, not_found=errors.ManifestUnknown, explanation="no tag")
    assert type(missing) is errors.ManifestUnknown and str(missing) == "s: no tag (HTTP 404)"


def test_status_error_strips_credentials_from_urls():
    error = status_error(404, subject="file https://op:pw@files.local/k", url="https://op:pw@files.local/k", had_credentials=True)
    assert "pw" not in str(error) and "pw" not in error.url


def test_errors_survive_pickling():
    error = status_error(429, subject="s", url=URL, had_credentials=False, retry_after=3.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.url, copy.status, copy.retry_after) == (type(error), str(error), error.url, 429, 3.0)
