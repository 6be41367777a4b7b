"""The HTTP rules the runner and the nodes share, in one table: standard library only, pure.

The runner's transport (`http.policy`, `http.transport`) and each node's prober
(`nodes.probe.http_prober`, shipped with the probe) read their timeouts, retries, refused-HEAD
fallback, redirects and proxy bypass from here, so the two vantage points cannot drift apart. This
module is shipped to nodes as it is (Python 3.8 or newer): it imports nothing of the suite.
"""

import ipaddress

DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds; a dead link costs this much per attempt
DEFAULT_READ_TIMEOUT = 30.0  # seconds between bytes, not for the whole body
DEFAULT_ATTEMPTS = 3  # tries in all, for GET and HEAD
DEFAULT_BACKOFF = 0.5  # first wait; doubles on each retry
DEFAULT_BACKOFF_MAX = 8.0
DEFAULT_RETRY_AFTER_MAX = 30.0  # a longer Retry-After is not waited for: the error is raised at once
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT_METHODS = ("GET", "HEAD")
HEAD_REFUSED = (405, 501)  # a file server that refuses HEAD is asked with a one-byte ranged GET
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
USER_AGENT = "kubespray-verify"


def bypass_proxy(host, port, no_proxy):
    """Whether `no_proxy` (comma-separated) exempts host: `*`, exact names, domain suffixes
    (`example.com` and `.example.com` both match `a.example.com`), IPs, CIDRs, `host:port`."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in (no_proxy or "").split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None and "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and port is not None and str(port) != entry_port:
            continue
        name = name.lstrip(".").strip("[]")
        if host == name or (address is None and host.endswith("." + name)):
            return True
    return False


def _has_port(entry):
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (head.count(":") == 0 or head.endswith("]"))
