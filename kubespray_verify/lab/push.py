"""Pushing built images to a lab registry over the distribution API (requests).

Blobs first (HEAD, then POST an upload and PUT it with `?digest=`), then
platform manifests by digest, then the index or single manifest by tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import requests

from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.images import Blob, BuiltImage

HTTP_TIMEOUT = 15.0  # seconds per request


@dataclass(frozen=True)
class RegistryEndpoint:
    url: str  # "http://10.200.0.2:5000"
    auth: Optional[tuple[str, str]] = None
    ca_file: Optional[str] = None  # verify TLS against this CA (never the system bundle)


class Pusher:
    def __init__(self, endpoint: RegistryEndpoint):
        self.endpoint = endpoint
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE: the lab is its own world
        self.session.auth = endpoint.auth
        self._verify = endpoint.ca_file or True

    def push(self, image: BuiltImage, tag: Optional[str] = None) -> None:
        repo = image.repository
        for blob in image.blobs():
            self._push_blob(repo, blob)
        for manifest in image.manifests()[:-1]:
            self._put_manifest(repo, manifest.digest, manifest)
        self._put_manifest(repo, tag or image.tag, image.top)

    def _push_blob(self, repo: str, blob: Blob) -> None:
        if self._request("HEAD", f"/v2/{repo}/blobs/{blob.digest}", ok=(200, 404)).status_code == 200:
            return
        started = self._request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.endpoint.url + location
        sep = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{sep}digest={blob.digest}", ok=(201,), data=blob.data,
                      headers={"Content-Type": "application/octet-stream"})

    def _put_manifest(self, repo: str, reference: str, manifest: Blob) -> None:
        self._request("PUT", f"/v2/{repo}/manifests/{reference}", ok=(201,), data=manifest.data,
                      headers={"Content-Type": manifest.media_type})

    def _request(self, method: str, path: str, ok: tuple[int, ...], **kwargs) -> requests.Response:
        url = path if path.startswith("http") else self.endpoint.url + path
        try:
            resp = self.session.request(method, url, timeout=HTTP_TIMEOUT, verify=self._verify, **kwargs)
        except requests.RequestException as exc:
            raise LabError(f"registry {self.endpoint.url}: {method} {path} failed: {exc}") from exc
        if resp.status_code not in ok:
            raise LabError(f"registry {self.endpoint.url}: {method} {path} answered {resp.status_code}: "
                           f"{resp.text.strip()[:200]}")
        return resp
