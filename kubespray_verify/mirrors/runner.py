"""Probing from the runner: every distinct probe once, `concurrency` at a time.

Files and repos go through `http.probe_file` (HEAD, or a one-byte GET where
HEAD is refused); images through `RegistryClient` (`GET /v2/` once per
endpoint, the auth challenge, then `registry.tags.resolve_tag`: `HEAD` of the
manifest with the Accept list, and a GET of the index document when it is
one, to list its platforms; never a blob). Clients and transports are shared
by the probes that use the same endpoint, so an endpoint's ping and token are
asked once.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Optional

from kubespray_verify import defaults, errors
from kubespray_verify.http.policy import RetryPolicy, Timeouts
from kubespray_verify.http.transport import probe_file, Transport
from kubespray_verify.mirrors.endpoints import Endpoint
from kubespray_verify.mirrors.outcomes import Attempt, ProbeResult
from kubespray_verify.mirrors.plan import ImageProbe, Probe, UrlProbe
from kubespray_verify.registry.client import RegistryClient
from kubespray_verify.registry.tags import resolve_tag



class RunnerProber:
    def __init__(self, concurrency: int = defaults.MIRROR_CONCURRENCY, timeout: Timeouts = Timeouts(),
                 retry: RetryPolicy = RetryPolicy()):
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.retry = retry
        self._lock = threading.Lock()
        self._transports: dict[tuple, Transport] = {}
        self._clients: dict[Endpoint, RegistryClient] = {}
        self._pings: dict[Endpoint, tuple[threading.Event, list]] = {}

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(t.sent for t in self._transports.values()) + sum(c.requests_sent for c in self._clients.values())

    def run(self, probes: Iterable[Probe]) -> dict[Probe, ProbeResult]:
        unique = list(dict.fromkeys(probes))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(unique))),
                                thread_name_prefix="mirrors") as pool:
            return dict(zip(unique, pool.map(self._one, unique)))

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        for client in self._clients.values():
            client.close()

    def _one(self, probe: Probe) -> ProbeResult:
        started = time.monotonic()
        result = self._url(probe) if isinstance(probe, UrlProbe) else self._image(probe)
        result.seconds = time.monotonic() - started
        return result

    # -- files and repos -------------------------------------------------------
    def _transport(self, probe: UrlProbe) -> Transport:
        key = (probe.verify, probe.proxies)
        with self._lock:
            if key not in self._transports:
                self._transports[key] = Transport(verify=probe.verify, proxies=probe.proxies, timeout=self.timeout,
                                                  retry=self.retry)
            return self._transports[key]

    def _url(self, probe: UrlProbe) -> ProbeResult:
        result = ProbeResult()
        try:
            transport = self._transport(probe)
        except errors.UsageError as exc:  # a CA bundle that does not exist
            result.attempts.append(Attempt.failed(probe.urls[0], errors.TLSVerificationFailed(str(exc))))
            return result
        for url in probe.urls:
            try:
                found = probe_file(transport, url, probe.credentials)
            except errors.EndpointError as exc:
                result.attempts.append(Attempt.failed(url, exc))
                continue
            # Named by the URL asked for: where a redirect led may carry a signed token.
            result.attempts.append(Attempt(url, info={"status": found.status, "size": found.size,
                                                            "method": found.method,
                                                            "content_type": found.content_type}))
            break
        return result

    # -- images ----------------------------------------------------------------
    def _client(self, endpoint: Endpoint, probe: ImageProbe) -> RegistryClient:
        with self._lock:
            if endpoint not in self._clients:
                self._clients[endpoint] = RegistryClient(
                    endpoint.api[: -len("/v2")] if endpoint.api.endswith("/v2") else endpoint.api,
                    credentials=endpoint.credentials, verify=endpoint.verify, proxies=probe.route.proxies,
                    timeout=self.timeout, retry=self.retry)
            return self._clients[endpoint]

    def _ping(self, endpoint: Endpoint, client: RegistryClient) -> Optional[errors.EndpointError]:
        """`GET /v2/` once per endpoint; the error it ended with, or None."""
        with self._lock:
            entry = self._pings.get(endpoint)
            owner = entry is None
            if owner:
                entry = self._pings[endpoint] = (threading.Event(), [])
        done, outcome = entry
        if owner:
            try:
                client.ping()
                outcome.append(None)
            except errors.EndpointError as exc:
                outcome.append(exc)
            done.set()
        else:
            done.wait()
        return outcome[0]

    def _image(self, probe: ImageProbe) -> ProbeResult:
        result = ProbeResult()
        for endpoint in probe.route.endpoints:
            try:
                client = self._client(endpoint, probe)
            except errors.UsageError as exc:
                result.attempts.append(Attempt.failed(endpoint.label, errors.TLSVerificationFailed(str(exc)),
                                                      endpoint.role))
                continue
            failure = self._ping(endpoint, client)
            if failure is not None:
                result.attempts.append(Attempt.failed(endpoint.label, failure, endpoint.role))
                continue
            try:
                info = resolve_tag(client, probe.repository, probe.tag)
            except errors.EndpointError as exc:
                result.attempts.append(Attempt.failed(endpoint.label, exc, endpoint.role))
                continue
            result.attempts.append(Attempt(endpoint.label, endpoint.role, info))
            break
        return result
