"""HTTP values and rules, pure: timeouts, the retry policy, credentials, proxies, status → error.

No I/O: `http.transport` and the node's prober act on these values (their shared table is `http.rules`),
and the pure modules (plans, verdicts) can name them without importing a transport.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union
from urllib.parse import unquote, urlsplit, urlunsplit

from kubespray_verify import errors
from kubespray_verify.http.rules import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY_AFTER_MAX,
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    bypass_proxy,
)
from kubespray_verify.redact import redact_url


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
    statuses: frozenset = frozenset(RETRY_STATUSES)
    methods: frozenset = frozenset(IDEMPOTENT_METHODS)

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


def describe_verify(verify: Verify) -> str:
    if verify is False:
        return "no verification"
    if verify is True:
        return "the system trust store"
    return f"CA bundle {verify}"


def host_of(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


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
    host = host_of(url)
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
