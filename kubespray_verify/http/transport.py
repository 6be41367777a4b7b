"""HTTP for registries, mirrors and file repos: timeouts, retries, proxies, errors.

`Transport` is the one place the suite sends HTTP. It never reads the runner's
environment (`trust_env=False`): proxies are what the caller passes (a node's
`http_proxy` / `https_proxy` / `no_proxy`), and `verify` is passed on every
request, so `REQUESTS_CA_BUNDLE` cannot override it. Idempotent requests (GET,
HEAD) are retried with capped backoff, honouring a bounded `Retry-After`;
everything else is sent once. `requests` exceptions are translated once, here,
into the `errors.EndpointError` tree.

`probe_file` answers "can this files_repo URL be downloaded?" without
downloading it. The values it acts on (timeouts, retry policy, credentials,
proxies, the status → error rule) are pure and live in `http.policy` and `http.rules`.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Union
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from kubespray_verify import errors
from kubespray_verify.http.rules import HEAD_REFUSED
from kubespray_verify.http.policy import (
    Credentials,
    describe_verify,
    host_of,
    parse_retry_after,
    ProxySettings,
    RetryPolicy,
    split_userinfo,
    status_error,
    Timeouts,
    Verify,
)
from kubespray_verify.redact import redact_url


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
    host = host_of(url)
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
