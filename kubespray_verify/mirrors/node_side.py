"""A node's share of the mirror checks: the request its probe carries, and its answer read back (pure).

The request holds URLs, endpoints, CA file paths and where in the node's own
hosts.toml a header stands; never a credential from the runner (the node
uses what it holds itself). Proxy URLs go as the inventory writes them,
since the node must use them. The answer holds raw records; `outcomes`
turns them into the suite's errors, so a node's verdicts read like the
runner's.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional

from kubespray_verify import oci
from kubespray_verify.http.policy import ProxySettings, RetryPolicy, Timeouts
from kubespray_verify.mirrors.endpoints import Endpoint
from kubespray_verify.mirrors.outcomes import Attempt, ProbeResult, node_error
from kubespray_verify.mirrors.plan import ImageProbe, Probe, UrlProbe


def request(probes: list[Probe], proxies: ProxySettings, timeout: Timeouts, retry: RetryPolicy,
            concurrency: int) -> tuple[dict, dict[str, Probe]]:
    """The `mirrors` section of a node probe request, and which key stands for which probe."""
    keys: dict[str, Probe] = {}
    specs = {}
    for number, probe in enumerate(dict.fromkeys(probes), 1):
        key = f"p{number}"
        keys[key] = probe
        specs[key] = _spec(probe)
    section = {
        "timeouts": {"connect": timeout.connect, "read": timeout.read},
        "retry": {"attempts": retry.attempts, "backoff": retry.backoff, "backoff_max": retry.backoff_max,
                  "retry_after_max": retry.retry_after_max},
        "concurrency": concurrency,
        "proxies": {"http": proxies.http, "https": proxies.https, "no_proxy": proxies.no_proxy},
        "probes": specs,
    }
    return section, keys


def _spec(probe: Probe) -> dict:
    if isinstance(probe, UrlProbe):
        return {"kind": "url", "urls": list(probe.urls),
                "verify": {"mode": "none" if probe.verify is False else "system", "ca": list(probe.ca_files)}}
    return {"kind": "image", "repository": probe.repository, "reference": probe.tag, "accept": oci.MANIFEST_ACCEPT,
            "index_body": True, "endpoints": [e.node_json() for e in probe.route.endpoints]}


def spec_key(probe: Probe, proxies: ProxySettings) -> str:
    """Equal for probes the node would run alike: what is sent, not how the runner names it."""
    return json.dumps([_spec(probe), proxies.http, proxies.https, proxies.no_proxy], sort_keys=True)


def raw_results(answer: Optional[Mapping], keys: Mapping[str, Probe],
                proxies: ProxySettings) -> tuple[dict[str, Mapping], int, float]:
    """The node's raw answers by `spec_key`; its HTTP request count and seconds."""
    answer = answer or {}
    found = answer.get("results") or {}
    raw = {spec_key(probe, proxies): found.get(key) or {"error": "the node gave no answer for it"}
           for key, probe in keys.items()}
    return raw, int(answer.get("requests", 0)), float(answer.get("seconds", 0.0))


def translate(raw: Optional[Mapping], probe: Probe) -> ProbeResult:
    """One raw answer as a probe result, named after `probe`'s endpoints."""
    if raw is None or raw.get("error"):
        why = (raw or {}).get("error") or "the node gave no answer for it"
        return ProbeResult(notes=[f"the node probe failed: {why}"])
    return _url(raw, probe) if isinstance(probe, UrlProbe) else _image(raw, probe)


def results(answer: Optional[Mapping], keys: Mapping[str, Probe]) -> tuple[dict[Probe, ProbeResult], int, float]:
    """The node's answers as probe results; the node's HTTP request count and seconds."""
    found = (answer or {}).get("results") or {}
    out = {probe: translate(found.get(key), probe) for key, probe in keys.items()}
    return out, int((answer or {}).get("requests", 0)), float((answer or {}).get("seconds", 0.0))


def _url(raw: Mapping, probe: UrlProbe) -> ProbeResult:
    result = ProbeResult()
    for record in raw.get("tries") or []:
        url = record.get("url", "")
        error = node_error(record, f"file {url}", url)
        if error is not None:
            result.attempts.append(Attempt.failed(url, error))
            continue
        headers = record.get("headers") or {}
        result.attempts.append(Attempt(url, info={
            "status": record.get("status"), "size": _size(record), "method": record.get("method", "HEAD"),
            "content_type": (headers.get("content-type") or "").split(";")[0].strip() or None}))
    return result


def _size(record: Mapping) -> Optional[int]:
    headers = record.get("headers") or {}
    total = (headers.get("content-range") or "").rpartition("/")[2]
    if record.get("status") == 206 and total.isdigit():
        return int(total)
    length = headers.get("content-length") or ""
    return int(length) if length.isdigit() else None


def _image(raw: Mapping, probe: ImageProbe) -> ProbeResult:
    result = ProbeResult()
    planned = probe.route.endpoints
    subject = f"manifest {probe.repository}:{probe.tag}"
    for one in raw.get("tries") or []:
        index = one.get("index")
        endpoint = planned[index] if isinstance(index, int) and 0 <= index < len(planned) else None
        label = endpoint.label if endpoint else one.get("endpoint", "?")
        role = endpoint.role if endpoint else "registry"
        authorized = _sends_authorization(endpoint) and "authorization" not in [
            m.lower() for m in one.get("missing_headers") or []]
        if one.get("missing_headers"):
            result.notes.append(f"{label}: header {', '.join(one['missing_headers'])} of the node's hosts.toml "
                                "could not be read back")
        steps = [("ping", "registry API"), ("token", f"{subject}: token service"), ("head", subject)]
        failure = None
        for step, what in steps:
            record = one.get(step)
            if record is None:
                continue
            failure = node_error(record, what, record.get("url", ""), had_credentials=authorized)
            if failure is not None:
                break
        if failure is not None:
            result.attempts.append(Attempt.failed(label, failure, role))
            continue
        head = one.get("head") or {}
        headers = head.get("headers") or {}
        body = (one.get("get") or {}).get("body")
        digest = headers.get("docker-content-digest") or (oci.sha256_digest(body.encode()) if body else None)
        info = {"digest": digest, "media_type": (headers.get("content-type") or "").split(";")[0].strip() or None,
                "size": int(headers["content-length"]) if (headers.get("content-length") or "").isdigit() else None}
        if body:
            info["media_type"] = oci.media_type_of(body.encode(), info["media_type"])
            info["platforms"] = _platforms(body)
        result.attempts.append(Attempt(label, role, info))
    return result


def _sends_authorization(endpoint: Optional[Endpoint]) -> bool:
    return bool(endpoint) and any(ref.name.lower() == "authorization" for _, ref in endpoint.headers)


def _platforms(body: str) -> dict[str, str]:
    try:
        return oci.index_platforms(json.loads(body))
    except (ValueError, AttributeError, TypeError, KeyError):
        return {}
