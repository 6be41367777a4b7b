"""What a probe found, as plain JSON-able data, whichever side asked (pure).

A probe tries one or more places in order (a repo's InRelease then Release,
a containerd node's mirrors then its server) and stops at the first that
answers. Each try is an `Attempt`: where (a URL without credentials), and
either what it answered or the `errors.EndpointError` it ended with. The
runner builds attempts from `http.transport`/`registry.client` answers and exceptions;
`node_error` builds the same from the node probe's raw records, with the same
error classes and messages, so verdicts read alike from every vantage point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional

from kubespray_verify import errors

# The node probe's names for failures that got no HTTP answer → the suite's error classes.
TRANSPORT_KINDS: dict[str, type[errors.TransportError]] = {
    "dns": errors.NameResolutionFailed,
    "refused": errors.ConnectionRefused,
    "connect-timeout": errors.ConnectTimeout,
    "read-timeout": errors.ReadTimeout,
    "tls-verify": errors.TLSVerificationFailed,
    "tls-handshake": errors.TLSHandshakeFailed,
    "unreachable": errors.ConnectionFailed,
    "proxy": errors.ConnectionFailed,
    "other": errors.ConnectionFailed,
}


@dataclass
class Attempt:
    where: str  # URL or endpoint, never with credentials
    role: str = "url"  # url | registry | mirror | server
    info: dict = field(default_factory=dict)  # status, size, method, digest, media_type, platforms...
    error_type: Optional[str] = None  # an errors.EndpointError class name
    error: Optional[str] = None  # its message
    status: Optional[int] = None  # the HTTP status of the error, if any

    @property
    def ok(self) -> bool:
        return self.error_type is None

    @classmethod
    def failed(cls, where: str, exc: errors.EndpointError, role: str = "url", info: Optional[dict] = None) -> "Attempt":
        return cls(where, role, dict(info or {}), type(exc).__name__, str(exc), getattr(exc, "status", None))

    def is_a(self, cls: type) -> bool:
        """Whether the error is of class `cls` (or a subclass), by name."""
        found = getattr(errors, self.error_type or "", None)
        return isinstance(found, type) and issubclass(found, cls)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping) -> "Attempt":
        return cls(**data)


@dataclass
class ProbeResult:
    attempts: list[Attempt] = field(default_factory=list)
    requests: int = 0  # HTTP requests sent, retries and auth round trips included
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def served(self) -> Optional[Attempt]:
        return next((a for a in self.attempts if a.ok), None)

    def to_json(self) -> dict:
        return {"attempts": [a.to_json() for a in self.attempts], "requests": self.requests,
                "seconds": round(self.seconds, 4), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping) -> "ProbeResult":
        return cls([Attempt.from_json(a) for a in data.get("attempts", [])], int(data.get("requests", 0)),
                   float(data.get("seconds", 0.0)), list(data.get("notes", [])))


# -- the node probe's records ----------------------------------------------------


def node_error(record: Mapping, subject: str, url: str, had_credentials: bool = False) -> Optional[errors.EndpointError]:
    """The error a node's raw request record ends with, or None when it got an answer below 400."""
    from kubespray_verify.http.policy import status_error
    from kubespray_verify.redact import redact_url

    url = redact_url(url)
    host = url.split("://", 1)[-1].split("/", 1)[0]
    failure = record.get("error")
    if failure:
        kind = failure.get("kind", "other")
        detail = failure.get("detail", "")
        cls = TRANSPORT_KINDS.get(kind, errors.ConnectionFailed)
        return cls(f"{subject}: {_transport_message(kind, host, detail)}", url=url, host=host)
    status = record.get("status")
    if status is None or status < 400:
        return None
    headers = record.get("headers") or {}
    retry_after = headers.get("retry-after")
    return status_error(
        status, subject=subject, url=url, had_credentials=had_credentials,
        codes=_codes(record.get("body") or ""),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _transport_message(kind: str, host: str, detail: str) -> str:
    return {
        "dns": f"cannot resolve host {host.rsplit(':', 1)[0]}",
        "refused": f"connection to {host} refused: nothing listens there",
        "connect-timeout": f"connection to {host} timed out",
        "read-timeout": f"{host} accepted the connection but did not answer in time",
        "tls-verify": f"TLS certificate of {host} not trusted: {detail}",
        "tls-handshake": f"TLS handshake with {host} failed: {detail} (plain HTTP on that port?)",
        "unreachable": f"no route to {host}: {detail}",
        "proxy": f"proxy failed for {host}: {detail}",
    }.get(kind, f"cannot talk to {host}: {detail}")


def _codes(body: str) -> tuple[str, ...]:
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return ()
    items = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(e["code"] for e in items if isinstance(e, dict) and isinstance(e.get("code"), str))
