"""HTTP for registries, mirrors and file repos: timeouts, retries, proxies, errors.

`Transport` is the one place the suite sends HTTP. It never reads the runner's
environment (`trust_env=False`): proxies are what the caller passes (a node's
`http_proxy` / `https_proxy` / `no_proxy`), and `verify` is passed on every
request, so `REQUESTS_CA_BUNDLE` cannot override it. Idempotent requests (GET,
HEAD) are retried with capped backoff, honouring a bounded `Retry-After`;
everything else is sent once. `requests` exceptions are translated once, here,
into the `errors.EndpointError` tree.

`probe_file` answers "can this files_repo URL be downloaded?" without
downloading it.
"""

from __future__ import annotations

import email.utils
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from kubespray_verify import errors
from kubespray_verify.node_http import bypass_proxy  # noqa: F401  (one no_proxy rule for runner and nodes)
from kubespray_verify.redact import redact_url  # noqa: F401  (part of this module's interface)

DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds; a dead link costs this much per attempt
DEFAULT_READ_TIMEOUT = 30.0  # seconds between bytes, not for the whole body
DEFAULT_ATTEMPTS = 3  # tries in all, for GET and HEAD
DEFAULT_BACKOFF = 0.5  # first wait; doubles on each retry
DEFAULT_BACKOFF_MAX = 8.0
DEFAULT_RETRY_AFTER_MAX = 30.0  # a longer Retry-After is not waited for: the error is raised at once
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})

Verify = Union[bool, str]


@dataclass(frozen=True)
class Timeouts:
    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again. Immutable; `delay` is the whole policy."""

    attempts: int = DEFAULT_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX
    statuses: frozenset = RETRY_STATUSES
    methods: frozenset = IDEMPOTENT_METHODS

    def delay(self, method: str, attempt: int, retry_after: Optional[float] = None) -> Optional[float]:
        """Seconds to wait after failed try number `attempt` (1-based), or None: do not retry."""
        if method.upper() not in self.methods or attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_after_max else None
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"

    @classmethod
    def of(cls, value: Union["Credentials", tuple, None]) -> Optional["Credentials"]:
        if value is None or isinstance(value, Credentials):
            return value
        username, password = value
        return cls(username, password)


@dataclass(frozen=True)
class ProxySettings:
    """A node's proxy variables, as Kubespray names them (`http_proxy`, `https_proxy`, `no_proxy`)."""

    http: Optional[str] = None
    https: Optional[str] = None
    no_proxy: str = ""

    @classmethod
    def of(cls, value: Union["ProxySettings", Mapping, None]) -> "ProxySettings":
        if value is None:
            return cls()
        if isinstance(value, ProxySettings):
            return value
        return cls(value.get("http_proxy") or None, value.get("https_proxy") or None, value.get("no_proxy") or "")

    def for_url(self, url: str) -> dict:
        """The `proxies=` for one request: the scheme's proxy unless `no_proxy` matches the host."""
        parts = urlsplit(url)
        proxy = self.https if parts.scheme == "https" else self.http
        if not proxy or bypass_proxy(parts.hostname or "", parts.port, self.no_proxy):
            return {}
        return {parts.scheme: proxy}

    def __repr__(self) -> str:
        return f"ProxySettings(http={redact_url(self.http or '')!r}, https={redact_url(self.https or '')!r}, no_proxy={self.no_proxy!r})"


def split_userinfo(url: str) -> tuple[str, Optional[Credentials]]:
    """The URL without its `user:password@`, and those credentials (None if it had none)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, Credentials(unquote(parts.username), unquote(parts.password or ""))


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def system_ca_bundle() -> Verify:
    """The operating system's trust store, as the nodes' runtimes use it (requests alone would use certifi's)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    for candidate in (paths.capath, paths.openssl_capath):
        if candidate and os.path.isdir(candidate):
            return candidate
    return True


def describe_verify(verify: Verify) -> str:
    if verify is False:
        return "no verification"
    if verify is True:
        return "the system trust store"
    return f"CA bundle {verify}"


def _host_of(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and everything it wraps (`reason`, `args`, `__cause__`, `__context__`)."""
    seen: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return seen


def transport_error(exc: BaseException, method: str, url: str, verify: Verify = True) -> errors.TransportError:
    """Translate a `requests` exception into the suite's tree, with a message an operator can act on."""
    chain = _exception_chain(exc)
    host = _host_of(url)
    where = f"{method} {redact_url(url)}"

    def has(*types) -> Optional[BaseException]:
        return next((e for e in chain if isinstance(e, types)), None)

    if cert := has(ssl.SSLCertVerificationError):
        reason = getattr(cert, "verify_message", None) or str(cert)
        return errors.TLSVerificationFailed(
            f"TLS certificate of {host} not trusted: {reason} (trusted: {describe_verify(verify)}; {where})",
            url=redact_url(url), host=host, ca=describe_verify(verify),
        )
    if has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError):
        return errors.ConnectionFailed(f"proxy failed for {host}: {_reason(chain)} ({where})", url=redact_url(url), host=host)
    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return errors.NameResolutionFailed(f"cannot resolve host {urlsplit(url).hostname} ({where})", url=redact_url(url), host=host)
    if has(ConnectionRefusedError):
        return errors.ConnectionRefused(f"connection to {host} refused: nothing listens there ({where})", url=redact_url(url), host=host)
    # urllib3's NewConnectionError (refused, unreachable...) subclasses ConnectTimeoutError: not a timeout.
    if has(requests.exceptions.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError) and not isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain
    ):
        return errors.ConnectTimeout(f"connection to {host} timed out ({where})", url=redact_url(url), host=host)
    if has(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
        return errors.ReadTimeout(f"{host} accepted the connection but did not answer in time ({where})", url=redact_url(url), host=host)
    if tls := has(ssl.SSLError):
        return errors.TLSHandshakeFailed(
            f"TLS handshake with {host} failed: {getattr(tls, 'reason', None) or tls} (plain HTTP on that port?) ({where})",
            url=redact_url(url), host=host,
        )
    return errors.ConnectionFailed(f"cannot talk to {host}: {_reason(chain)} ({where})", url=redact_url(url), host=host)


def _reason(chain: list[BaseException]) -> str:
    innermost = chain[-1] if chain else None
    return redact_url(f"{type(innermost).__name__}: {innermost}") if innermost else "unknown error"


_STATUS_ERRORS: dict[int, type[errors.HTTPStatusError]] = {403: errors.AccessDenied, 404: errors.NotFound, 429: errors.RateLimited}


def status_error(
    status: int,
    *,
    subject: str,
    url: str,
    had_credentials: bool,
    codes: tuple[str, ...] = (),
    retry_after: Optional[float] = None,
    not_found: type[errors.NotFound] = errors.NotFound,
    explanation: str = "",
) -> errors.HTTPStatusError:
    """The error for an HTTP status a request cannot succeed with (pure)."""
    host = _host_of(url)
    if status == 401:
        cls = errors.AuthenticationFailed if had_credentials else errors.AuthenticationRequired
        default = f"{host} rejected the credentials" if had_credentials else f"{host} requires credentials and none were given"
    elif status == 404:
        cls, default = not_found, f"not found on {host}"
    elif status >= 500:
        cls, default = errors.ServerError, f"server error on {host}"
    else:
        cls = _STATUS_ERRORS.get(status, errors.UnexpectedStatus)
        default = {
            errors.AccessDenied: f"access denied by {host}",
            errors.RateLimited: f"rate limited by {host}",
        }.get(cls, f"unexpected answer from {host}")
    codes = tuple(dict.fromkeys(codes))
    detail = f"HTTP {status}" + (f" {','.join(codes)}" if codes else "")
    if retry_after is not None:
        detail += f", Retry-After {retry_after:g} s"
    message = f"{subject}: {explanation or default} ({detail})"
    return cls(redact_url(message), url=redact_url(url), status=status, codes=tuple(codes), retry_after=retry_after)


class Transport:
    """One `requests` session with the suite's timeouts, retries, proxies and TLS trust."""

    def __init__(
        self,
        verify: Verify = True,
        proxies: Union[ProxySettings, Mapping, None] = None,
        timeout: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
    ):
        if isinstance(verify, str) and not os.path.exists(verify):
            raise errors.UsageError(f"CA bundle {verify} does not exist")
        self.verify = verify
        self._verify_arg = system_ca_bundle() if verify is True else verify
        self.proxies = ProxySettings.of(proxies)
        self.timeout = timeout
        self.retry = retry
        self._session = requests.Session()
        self._session.trust_env = False
        self.sent = 0  # requests sent, retries included
        self._count = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport(verify={self.verify!r}, proxies={self.proxies!r}, timeout={self.timeout!r})"

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping] = None,
        data: Optional[bytes] = None,
        auth: Optional[Credentials] = None,
        stream: bool = False,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send, retrying what may be retried. Returns the last response whatever its status;
        raises `errors.TransportError` when no response came."""
        attempt = 0
        while True:
            attempt += 1
            with self._count:
                self.sent += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    params=params,
                    data=data,
                    auth=(auth.username, auth.password) if auth else None,
                    verify=self._verify_arg,
                    proxies=self.proxies.for_url(url),
                    timeout=self.timeout.as_requests(),
                    stream=stream,
                    allow_redirects=allow_redirects,
                )
            except requests.RequestException as exc:
                error = transport_error(exc, method, url, self.verify)
                delay = self.retry.delay(method, attempt) if _worth_retrying(error) else None
                if delay is None:
                    raise error from exc
                time.sleep(delay)
                continue
            if response.status_code not in self.retry.statuses:
                return response
            delay = self.retry.delay(method, attempt, parse_retry_after(response.headers.get("Retry-After")))
            if delay is None:
                return response
            response.close()
            time.sleep(delay)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _worth_retrying(error: errors.TransportError) -> bool:
    # A name that does not resolve or a TLS failure will not change in a second;
    # a connect timeout already cost its full timeout.
    return isinstance(error, (errors.ConnectionRefused, errors.ReadTimeout, errors.ConnectionFailed))


# --- files_repo --------------------------------------------------------------

HEAD_REFUSED = frozenset({405, 501})


@dataclass(frozen=True)
class FileProbe:
    """A downloadable file: its URL (without credentials), final status, size if known, how it was asked."""

    url: str
    status: int
    size: Optional[int]
    method: str  # "HEAD", or "GET bytes=0-0" where the server refuses HEAD
    content_type: Optional[str] = None


def probe_file(transport: Transport, url: str, credentials: Union[Credentials, tuple, None] = None) -> FileProbe:
    """Whether `url` can be downloaded, without downloading it.

    HEAD first; where the server refuses HEAD (405, 501), a GET of one byte.
    Credentials come from the URL's `user:password@` or from `credentials`; they
    are sent as Basic auth and appear in no message. Raises `errors.EndpointError`.
    """
    bare, from_url = split_userinfo(url)
    creds = Credentials.of(credentials) or from_url
    subject = f"file {redact_url(url)}"

    response = transport.request("HEAD", bare, auth=creds)
    method = "HEAD"
    if response.status_code in HEAD_REFUSED:
        method = "GET bytes=0-0"
        response = transport.request("GET", bare, auth=creds, headers={"Range": "bytes=0-0"}, stream=True)
    with response:
        if response.status_code >= 400:
            raise status_error(
                response.status_code,
                subject=subject,
                url=bare,
                had_credentials=creds is not None,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip() or None
        return FileProbe(url=redact_url(response.url or bare), status=response.status_code, size=_size(response),
                         method=method, content_type=content_type)


def _size(response: requests.Response) -> Optional[int]:
    content_range = response.headers.get("Content-Range", "")
    if response.status_code == 206 and "/" in content_range:
        total = content_range.rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None
