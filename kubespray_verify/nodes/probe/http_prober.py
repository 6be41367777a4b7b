"""HTTP probes a node makes itself: files, repos and registries, as the node reaches them.

Standard library only, Python 3.8 or newer: the probe script ships this
module (and `http.rules`, which it reads) with the node probe in the same SSH command. It reports raw facts
(status, a few headers, small bodies, or the kind of failure); the runner
turns them into the suite's errors and verdicts (`mirrors/outcomes.py`), so
the wording is the same from every vantage point.

- proxies: the node's `http_proxy` / `https_proxy` / `no_proxy`, as Kubespray
  sets them for its downloads (`http.rules`, the runner's rules too);
- TLS: verified against the system trust store plus the CA files named for
  the endpoint (containerd's `ca`, docker's and containers' `certs.d`), or not
  at all (`skip_verify`, `download_validate_certs: false`);
- timeouts and retries: the runner's named defaults, sent with the request
  (idempotent requests only, honouring a bounded `Retry-After`);
- registries: `GET /v2/`, then `HEAD` of the manifest with the `Accept`
  list, answering a Basic or Bearer challenge; a header the node's own
  hosts.toml holds (credentials) is read back from that file on the node,
  so it never travels in the request. An index is fetched (GET of the index
  document only, never a blob) when its platforms are asked for.
"""

import base64
import errno
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urljoin, urlsplit

# The rules the runner uses too; shipped with this module by the probe script.
from kubespray_verify.http.rules import HEAD_REFUSED, MAX_REDIRECTS, REDIRECTS, RETRY_STATUSES, USER_AGENT, bypass_proxy

KEPT_HEADERS = ("docker-content-digest", "content-type", "content-length", "content-range", "www-authenticate",
                "retry-after", "docker-distribution-api-version")
MAX_BODY = 256 * 1024  # an index or error document; anything larger is cut
MAX_ERROR_BODY = 4096
RETRIED_FAILURES = ("refused", "read-timeout", "unreachable", "proxy", "other")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


# -- one session: timeouts, retries, proxies, TLS, counting -----------------------

class Session:
    def __init__(self, spec):
        timeouts = spec.get("timeouts") or {}
        retry = spec.get("retry") or {}
        self.connect_timeout = float(timeouts.get("connect", 5.0))
        self.read_timeout = float(timeouts.get("read", 30.0))
        self.attempts = int(retry.get("attempts", 3))
        self.backoff = float(retry.get("backoff", 0.5))
        self.backoff_max = float(retry.get("backoff_max", 8.0))
        self.retry_after_max = float(retry.get("retry_after_max", 30.0))
        self.proxies = spec.get("proxies") or {}
        self.requests = 0
        self._lock = threading.Lock()
        self._contexts = {}
        self._pings = {}
        self._tokens = {}

    # -- plain requests --------------------------------------------------------
    def request(self, method, url, headers=None, verify=None, want_body=False):
        """Send, retrying what may be retried; the record of the last try."""
        attempt = 0
        while True:
            attempt += 1
            record = self._follow(method, url, dict(headers or {}), verify or {}, want_body)
            delay = self._delay(method, attempt, record)
            if delay is None:
                return record
            time.sleep(delay)

    def _delay(self, method, attempt, record):
        if method not in ("GET", "HEAD") or attempt >= self.attempts:
            return None
        failure = record.get("error")
        if failure:
            if failure["kind"] not in RETRIED_FAILURES:
                return None
        elif record.get("status") not in RETRY_STATUSES:
            return None
        after = (record.get("headers") or {}).get("retry-after", "")
        if after.strip().isdigit():
            after = float(after)
            return after if after <= self.retry_after_max else None
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)

    def _follow(self, method, url, headers, verify, want_body):
        """Redirects followed; the record names the URL asked for (a redirect's may carry a signed token)."""
        asked = _redact(url)
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            record = self._send(method, url, headers, verify, want_body)
            location = record.pop("location", "") if record.get("status") in REDIRECTS else ""
            record.pop("location", None)
            if not location:
                record["url"] = asked
                return record
            url = urljoin(url, location)
            if urlsplit(url).netloc != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if record["status"] == 303:
                method = "GET"
        record["url"] = asked
        return record

    def _send(self, method, url, headers, verify, want_body):
        with self._lock:
            self.requests += 1
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers.setdefault("User-Agent", USER_AGENT)
        proxy = self._proxy_for(parts.scheme, parts.hostname or "", port)
        record = {"url": _redact(url), "method": method}
        phase = "connect"
        conn = None
        try:
            context = self._context(verify) if secure else None
            if proxy:
                proxy_parts = urlsplit(proxy)
                proxy_headers = {}
                if proxy_parts.username:
                    raw = "%s:%s" % (proxy_parts.username, proxy_parts.password or "")
                    proxy_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
                if secure:
                    conn = http.client.HTTPSConnection(proxy_parts.hostname, proxy_parts.port or 3128,
                                                       timeout=self.connect_timeout, context=context)
                    conn.set_tunnel(parts.hostname, port, headers=proxy_headers)
                else:
                    conn = http.client.HTTPConnection(proxy_parts.hostname, proxy_parts.port or 3128,
                                                      timeout=self.connect_timeout)
                    target = url
                    headers.update(proxy_headers)
            elif secure:
                conn = http.client.HTTPSConnection(parts.hostname, port, timeout=self.connect_timeout, context=context)
            else:
                conn = http.client.HTTPConnection(parts.hostname, port, timeout=self.connect_timeout)
            conn.connect()
            phase = "read"
            conn.sock.settimeout(self.read_timeout)
            conn.request(method, target, headers=headers)
            response = conn.getresponse()
            record["status"] = response.status
            record["headers"] = {k.lower(): v for k, v in response.getheaders() if k.lower() in KEPT_HEADERS}
            location = response.getheader("Location")
            if location:
                record["location"] = location
            if method != "HEAD":
                limit = MAX_BODY if (want_body and response.status < 300) else MAX_ERROR_BODY
                if "range" in {k.lower() for k in headers}:
                    limit = 1
                body = response.read(limit)
                if want_body or response.status >= 400:
                    record["body"] = body.decode("utf-8", "replace")
                    record["truncated"] = len(body) >= limit and limit > 1
        except Exception as exc:  # every failure is a record, never a crash of the probe
            record["error"] = classify(exc, phase)
        finally:
            if conn is not None:
                conn.close()
        return record

    def _proxy_for(self, scheme, host, port):
        proxy = self.proxies.get("https" if scheme == "https" else "http")
        if not proxy or bypass_proxy(host, port, self.proxies.get("no_proxy", "")):
            return None
        return proxy if "://" in proxy else "http://" + proxy

    def _context(self, verify):
        key = (verify.get("mode", "system"), tuple(verify.get("ca") or ()))
        with self._lock:
            if key not in self._contexts:
                if key[0] == "none":
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                else:
                    context = ssl.create_default_context()
                    for path in key[1]:
                        if os.path.exists(path):
                            context.load_verify_locations(cafile=path)
                self._contexts[key] = context
            return self._contexts[key]

    # -- registries ------------------------------------------------------------
    def registry(self, method, endpoint, path, scope, extra_headers=None, want_body=False):
        """A request to a registry endpoint, answering its challenge once: (record, token record or None)."""
        headers = dict(endpoint.get("_headers") or {})
        headers.update(extra_headers or {})
        url = endpoint["api"].rstrip("/") + path
        if endpoint.get("ns") and path != "/":
            url += ("&" if "?" in url else "?") + urlencode({"ns": endpoint["ns"]})
        verify = endpoint.get("verify") or {}
        cached = self._cached_token(endpoint["api"], scope)
        if cached:
            _set_header(headers, "Authorization", "Bearer " + cached)
        record = self.request(method, url, headers, verify, want_body)
        if record.get("status") != 401 or cached:
            return record, None
        challenge = parse_challenge((record.get("headers") or {}).get("www-authenticate", ""))
        if challenge.get("scheme") != "bearer" or not challenge.get("realm"):
            return record, None
        token, token_record = self._token(endpoint, challenge, scope)
        if token is None:
            return record, token_record
        _set_header(headers, "Authorization", "Bearer " + token)
        return self.request(method, url, headers, verify, want_body), token_record

    def _cached_token(self, api, scope):
        with self._lock:
            return self._tokens.get((api, scope))

    def _token(self, endpoint, challenge, scope):
        params = []
        if challenge.get("service"):
            params.append(("service", challenge["service"]))
        if scope:
            params.append(("scope", scope))
        realm = challenge["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
        headers = {k: v for k, v in (endpoint.get("_headers") or {}).items() if k.lower() == "authorization"
                   and v.lower().startswith("basic ")}
        record = self.request("GET", url, headers, endpoint.get("verify") or {}, want_body=True)
        body = record.pop("body", "")
        record.pop("truncated", None)
        token = None
        if record.get("status") == 200:
            try:
                answer = json.loads(body)
                token = answer.get("token") or answer.get("access_token")
            except ValueError:
                token = None
            if not token:
                record["error"] = {"kind": "other", "detail": "the token service answered without a token"}
        elif record.get("status", 0) >= 400:
            record["body"] = body[:MAX_ERROR_BODY]
        if token:
            with self._lock:
                self._tokens[(endpoint["api"], scope)] = token
        return token, record

    def ping(self, endpoint):
        """`GET /v2/` once per endpoint for the whole run."""
        key = endpoint["api"]
        with self._lock:
            event = self._pings.get(key)
            owner = event is None
            if owner:
                event = self._pings[key] = {"done": threading.Event()}
        if not owner:
            event["done"].wait()
            return dict(event["record"], shared=True)
        record, token = self.registry("GET", endpoint, "/", scope="")
        if token is not None:
            record["token"] = token
        event["record"] = record
        event["done"].set()
        return record


# -- the probes ------------------------------------------------------------------

def probe_url(session, spec):
    """The first of `urls` that answers: HEAD, or a one-byte GET where HEAD is refused."""
    tries = []
    for url in spec["urls"]:
        record = session.request("HEAD", url, verify=spec.get("verify"))
        if record.get("status") in HEAD_REFUSED:
            record = session.request("GET", url, {"Range": "bytes=0-0"}, spec.get("verify"))
            record["method"] = "GET bytes=0-0"
        tries.append(record)
        if not record.get("error") and record.get("status", 999) < 400:
            break
    return {"tries": tries}


def probe_image(session, spec):
    """The endpoints in order until one gives the manifest: ping, HEAD (and GET of an index when asked)."""
    scope = "repository:%s:pull" % spec["repository"]
    path = "/%s/manifests/%s" % (spec["repository"], spec["reference"])
    accept = {"Accept": spec["accept"]}
    tries = []
    for index, endpoint in enumerate(spec["endpoints"]):
        endpoint = dict(endpoint, _headers=read_headers(endpoint.get("headers") or []))
        one = {"endpoint": endpoint["api"], "index": index, "missing_headers": endpoint["_headers"].pop("_missing", [])}
        tries.append(one)
        one["ping"] = session.ping(endpoint)
        if one["ping"].get("error") or one["ping"].get("status", 999) >= 400:
            continue
        one["head"], one["token"] = session.registry("HEAD", endpoint, path, scope, accept)
        head = one["head"]
        if head.get("error") or head.get("status") != 200:
            continue
        head_headers = head.get("headers") or {}
        media_type = head_headers.get("content-type", "").split(";")[0].strip()
        # The index lists its platforms; without Docker-Content-Digest the document gives the digest.
        if spec.get("index_body") and (media_type in INDEX_TYPES or not head_headers.get("docker-content-digest")):
            one["get"], _ = session.registry("GET", endpoint, path, scope, accept, want_body=True)
        break
    return {"tries": tries}


PROBES = {"url": probe_url, "image": probe_image}


def run(spec):
    """Every probe of the request, `concurrency` at a time: {"results", "requests", "seconds"}."""
    session = Session(spec)
    started = time.time()
    probes = spec.get("probes") or {}

    def one(item):
        key, probe = item
        handler = PROBES.get(probe.get("kind"))
        if handler is None:
            return key, {"error": "unknown probe kind %r" % probe.get("kind")}
        try:
            return key, handler(session, probe)
        except Exception as exc:  # a bug here must not lose the other probes' answers
            return key, {"error": "%s: %s" % (type(exc).__name__, exc)}

    workers = max(1, min(int(spec.get("concurrency", 8)), len(probes) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = dict(pool.map(one, sorted(probes.items())))
    return {"results": results, "requests": session.requests, "seconds": round(time.time() - started, 4)}


# -- helpers ---------------------------------------------------------------------

def classify(exc, phase):
    """A failure without an HTTP answer → {"kind", "detail"} (kinds: see mirrors/outcomes.py)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return {"kind": "tls-verify", "detail": getattr(exc, "verify_message", None) or str(exc)}
    if isinstance(exc, ssl.SSLError):
        return {"kind": "tls-handshake", "detail": getattr(exc, "reason", None) or str(exc)}
    if isinstance(exc, socket.gaierror):
        return {"kind": "dns", "detail": str(exc)}
    if isinstance(exc, ConnectionRefusedError):
        return {"kind": "refused", "detail": str(exc)}
    if isinstance(exc, socket.timeout):
        return {"kind": "connect-timeout" if phase == "connect" else "read-timeout", "detail": str(exc)}
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return {"kind": "unreachable", "detail": exc.strerror or str(exc)}
    if isinstance(exc, OSError) and "tunnel connection failed" in str(exc).lower():
        return {"kind": "proxy", "detail": str(exc)}
    return {"kind": "other", "detail": "%s: %s" % (type(exc).__name__, exc)}


_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')


def parse_challenge(header):
    """The first challenge of a WWW-Authenticate header: {"scheme", "realm", "service", ...}."""
    header = header.strip()
    if not header:
        return {}
    scheme, _, rest = header.partition(" ")
    found = {"scheme": scheme.lower()}
    for match in _PARAM.finditer(rest):
        found[match.group(1).lower()] = match.group(2) if match.group(2) is not None else match.group(3)
    return found


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'')


def read_headers(refs):
    """Header values read back from the node's own file, by line and sha256; `_missing` lists those not found."""
    headers, missing, cache = {}, [], {}
    for ref in refs:
        path, line = ref.get("path"), int(ref.get("line") or 0)
        value = None
        if path and line > 0:
            if path not in cache:
                try:
                    with open(path, "r") as fh:
                        cache[path] = fh.read().splitlines()
                except OSError:
                    cache[path] = []
            lines = cache[path]
            if line <= len(lines):
                for match in _QUOTED.finditer(lines[line - 1]):
                    candidate = match.group(1) if match.group(1) is not None else match.group(2)
                    if hashlib.sha256(candidate.encode()).hexdigest() == ref.get("sha256"):
                        value = candidate
                        break
        if value is None:
            missing.append(ref.get("name"))
        else:
            name = ref["name"]
            headers[name] = headers[name] + ", " + value if name in headers else value
    headers["_missing"] = missing
    return headers


def _set_header(headers, name, value):
    """Set a header, replacing it under any spelling (hosts.toml may write `authorization`)."""
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def _redact(url):
    return re.sub(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@", r"\g<scheme>***@", url)
