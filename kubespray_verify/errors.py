"""One exception tree for everything the suite reports as bad input or broken infrastructure.

Each error carries a message meant for an operator: it names the file, host,
variable or item at fault. The CLI and the pytest plugin print it as one line
and exit non-zero; nothing above this module needs a traceback. An exception
the suite did not raise on purpose reaches the operator as an `InternalError`:
one line saying what was being done, the exception, and where it was raised,
the traceback kept (as `__cause__`) for `-v`.
"""

import functools
import traceback


class VerifyError(Exception):
    """Base of every error the suite raises on purpose."""


class UsageError(VerifyError):
    """The command line or an option is wrong (missing file, bad pattern...)."""


class InventoryError(VerifyError):
    """The Ansible inventory or a vars file cannot be read or parsed."""


class KubesprayTreeError(VerifyError):
    """The Kubespray directory is missing or is not a Kubespray tree."""


class InternalError(VerifyError):
    """An exception the suite did not expect (a bug, or a library unlike every version the suite knows)."""

    @classmethod
    def of(cls, doing: str, exc: BaseException) -> "InternalError":
        reason = " ".join(str(exc).split()) or "(no message)"
        if len(reason) > 300:
            reason = reason[:297] + "..."
        return cls(f"internal error while {doing}: {type(exc).__name__}: {reason} (raised at {raised_at(exc)}); "
                   "run with -v for the traceback")

    def with_cause(self, cause: BaseException) -> "InternalError":
        self.__cause__ = cause
        return self


def raised_at(exc: BaseException) -> str:
    """Where `exc` was raised: `package/module.py:LINE in FUNCTION`, the path from its top-level package."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    frame = frames[-1]
    path = frame.filename
    for marker in ("/site-packages/", "/dist-packages/", "/kubespray_verify/"):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
            path = f"kubespray_verify/{path}" if marker == "/kubespray_verify/" else path
            break
    return f"{path}:{frame.lineno} in {frame.name}"


def traceback_text(exc: BaseException) -> str:
    """The traceback of what an InternalError reports (its cause), for `-v`."""
    cause = exc.__cause__ or exc
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


def reports_unexpected(doing: str):
    """Decorator: any exception but a VerifyError becomes an InternalError saying it happened while `doing`."""

    def wrap(function):
        @functools.wraps(function)
        def guarded(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except VerifyError:
                raise
            except Exception as exc:
                raise InternalError.of(doing, exc) from exc

        return guarded

    return wrap


class CheckError(VerifyError):
    """An item that cannot be checked on a node (unreachable, unreadable, unverifiable): an error, never a pass."""


# --- Registries, mirrors and file repos -------------------------------------
#
# Raised by `http.transport` and `registry.client`. Messages name the URL (never with
# credentials) and what the operator can act on; the original `requests` or
# `ssl` exception is kept as `__cause__`.


class EndpointError(VerifyError):
    """A registry, mirror or file repo did not give what was asked."""

    def __init__(self, message: str, *, url: str = "", **details):
        super().__init__(message)
        self.url = url
        for name, value in details.items():
            setattr(self, name, value)

    def __reduce__(self):
        details = {k: v for k, v in self.__dict__.items() if k != "url"}
        return (_rebuild, (type(self), str(self), self.url, details))


def _rebuild(cls, message, url, details):
    return cls(message, url=url, **details)


class TransportError(EndpointError):
    """No HTTP answer at all: name, connection, TLS or timeout."""


class NameResolutionFailed(TransportError):
    """The host name does not resolve (DNS)."""


class ConnectionRefused(TransportError):
    """Nothing listens on that address and port."""


class ConnectTimeout(TransportError):
    """The TCP connection was not established in time (host down, filtered, link down)."""


class ReadTimeout(TransportError):
    """Connected, but the server did not answer in time."""


class TLSVerificationFailed(TransportError):
    """The server's certificate is not trusted by the given CA, or does not name the host.

    Attributes: `host`, `ca` (the CA bundle used, or "system trust store").
    """


class TLSHandshakeFailed(TransportError):
    """TLS could not even start (plain HTTP on that port, no common protocol or cipher)."""


class ConnectionFailed(TransportError):
    """Any other failure to talk to the server (reset, no route, proxy refused...)."""


class HTTPStatusError(EndpointError):
    """The server answered, with a status the request cannot succeed with.

    Attributes: `status` (int), `codes` (the registry's error codes, e.g. MANIFEST_UNKNOWN).
    """


class AuthenticationRequired(HTTPStatusError):
    """401 and no credentials were given (or anonymous access was refused)."""


class AuthenticationFailed(HTTPStatusError):
    """401 although credentials were given: they were rejected."""


class AccessDenied(HTTPStatusError):
    """403, or credentials accepted without the right to the repository."""


class NotFound(HTTPStatusError):
    """404."""


class ManifestUnknown(NotFound):
    """The repository exists but has no manifest for that tag or digest."""


class PlatformUnknown(ManifestUnknown):
    """The index was found but lists no image for the node's platform (`status` is None)."""


class RepositoryUnknown(NotFound):
    """The registry has no repository of that name."""


class BlobUnknown(NotFound):
    """A layer or config blob is missing."""


class RateLimited(HTTPStatusError):
    """429, still after the allowed retries. Attribute: `retry_after` (seconds or None)."""


class ServerError(HTTPStatusError):
    """5xx, still after the allowed retries."""


class UnexpectedStatus(HTTPStatusError):
    """Any other status."""


class InvalidResponse(EndpointError):
    """An answer that breaks the protocol: bad JSON, a digest that does not match the content..."""


class WrongMediaType(EndpointError):
    """The manifest is of another kind than the question needs (an index where an image manifest is needed)."""
