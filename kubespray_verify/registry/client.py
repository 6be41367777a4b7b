"""A client for the OCI distribution API (`/v2/`): what digest a registry or mirror serves for an image.

Every manifest request sends `Accept` with the OCI and Docker index and
manifest types (`oci.MANIFEST_ACCEPT`): without it a registry answers 404 for
OCI content and converts Docker schema2 manifests to schema1 (another digest).

Authentication follows the registry's `WWW-Authenticate` challenge: Basic with
the given credentials, or a Bearer token from the challenge's realm (with the
credentials, or anonymous), cached per scope for the client's life. Every
failure is an `errors.EndpointError`; credentials and tokens appear in no
message or repr.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Mapping, Optional, Union
from urllib.parse import urljoin, urlsplit

import requests

from kubespray_verify import errors, oci
from kubespray_verify.registry import auth
from kubespray_verify.http.policy import (
    Credentials,
    parse_retry_after,
    ProxySettings,
    RetryPolicy,
    split_userinfo,
    status_error,
    Timeouts,
    Verify,
)
from kubespray_verify.http.transport import Transport

DOCKER_HUB = "registry-1.docker.io"


def registry_base_url(registry: str) -> str:
    """`host[:port]` or a URL → the base URL of its API. No scheme means HTTPS; `docker.io` means Docker Hub's API host."""
    if "://" not in registry:
        registry = "https://" + registry
    parts = urlsplit(registry)
    host = parts.netloc
    if host in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class Ping:
    """The answer to `GET /v2/`."""

    url: str
    status: int
    api_version: Optional[str]  # Docker-Distribution-API-Version, e.g. "registry/2.0"
    auth_scheme: Optional[str]  # "basic" or "bearer" when the registry asked for credentials


@dataclass(frozen=True)
class ManifestInfo:
    """What a registry says of a manifest: its digest, media type and size."""

    digest: str
    media_type: Optional[str]
    size: Optional[int]

    @property
    def is_index(self) -> bool:
        return self.media_type in oci.INDEX_TYPES


@dataclass(frozen=True)
class Manifest:
    info: ManifestInfo
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


Pushable = Union[oci.Image, oci.Index]


class RegistryClient:
    def __init__(
        self,
        registry: str,
        credentials: Union[Credentials, tuple, None] = None,
        verify: Verify = True,
        proxies: Union[ProxySettings, Mapping, None] = None,
        timeout: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
    ):
        bare, from_url = split_userinfo(registry_base_url(registry))
        self.base_url = bare
        self._credentials = Credentials.of(credentials) or from_url
        self._transport = Transport(verify=verify, proxies=proxies, timeout=timeout, retry=retry)
        self._basic = False  # the registry asked for Basic: send it up front from now on
        self._bearer: Optional[auth.Challenge] = None  # realm and service of the registry's token service
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._auth_lock = threading.RLock()  # threads share one client: one token fetch per scope

    @property
    def requests_sent(self) -> int:
        """HTTP requests this client has sent (retries, token fetches and auth round trips included)."""
        return self._transport.sent

    def __repr__(self) -> str:
        creds = "<set>" if self._credentials else None
        return f"RegistryClient({self.base_url!r}, credentials={creds}, verify={self._transport.verify!r})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- questions -------------------------------------------------------

    def ping(self) -> Ping:
        """`GET /v2/`: is this a registry, and do the credentials work."""
        response = self._send("GET", "/v2/", scope=None, subject="registry API")
        self._raise_unless_ok(response, "registry API")
        scheme = "bearer" if self._bearer else "basic" if self._basic else None
        return Ping(self.base_url, response.status_code, response.headers.get("Docker-Distribution-API-Version"), scheme)

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo:
        """The digest, media type and size the registry serves for `repository:tag` or `repository@digest`."""
        subject = _subject(repository, reference)
        response = self._send("HEAD", _manifest_path(repository, reference), scope=repository, headers=_ACCEPT, subject=subject)
        self._raise_for_manifest(response, repository, reference)
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:  # some registries leave it out of HEAD answers
            return self.get_manifest(repository, reference).info
        length = response.headers.get("Content-Length")
        return ManifestInfo(digest, _content_type(response), int(length) if length and length.isdigit() else None)

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest or index itself. A digest reference is checked against the content."""
        subject = _subject(repository, reference)
        response = self._send("GET", _manifest_path(repository, reference), scope=repository, headers=_ACCEPT, subject=subject)
        self._raise_for_manifest(response, repository, reference)
        body = response.content
        digest = oci.sha256_digest(body)
        served = response.headers.get("Docker-Content-Digest")
        for claimed in (reference if oci.is_digest(reference) else None, served):
            if claimed and claimed.startswith("sha256:") and claimed != digest:
                raise errors.InvalidResponse(
                    f"{subject}: content digest {digest} does not match {claimed} ({self.base_url})", url=response.url
                )
        return Manifest(ManifestInfo(digest, oci.media_type_of(body, _content_type(response)), len(body)), body)

    def platform_manifest(self, repository: str, reference: str, arch: str, os: str = "linux", variant: Optional[str] = None) -> ManifestInfo:
        """The image manifest a node of that platform pulls: the index's child, or the manifest itself when it is not an index.

        The child is asked for too: a mirror that copied only some platforms answers `ManifestUnknown` here.
        """
        manifest = self.get_manifest(repository, reference)
        if not manifest.info.is_index:
            return manifest.info
        platform = oci.Platform(arch, os, variant)
        child = oci.select_platform(manifest.json, platform)
        if child is None:
            raise errors.PlatformUnknown(
                f"{_subject(repository, reference)}: index {manifest.info.digest} has no {platform} image "
                f"(it has {', '.join(oci.index_platforms(manifest.json)) or 'none'})",
                url=self._url(_manifest_path(repository, reference)), status=None, codes=(),
            )
        return self.head_manifest(repository, child["digest"])

    def config_digest(self, repository: str, manifest_digest: str) -> str:
        """The config digest (a node's image ID) of an image manifest."""
        manifest = self.get_manifest(repository, manifest_digest)
        if manifest.info.is_index:
            raise errors.WrongMediaType(
                f"{_subject(repository, manifest_digest)} is an index ({manifest.info.media_type}): "
                "ask for a platform's manifest first (platform_manifest)",
                url=self._url(_manifest_path(repository, manifest_digest)),
            )
        try:
            return manifest.json["config"]["digest"]
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.InvalidResponse(
                f"{_subject(repository, manifest_digest)}: manifest has no config digest", url=self._url(_manifest_path(repository, manifest_digest))
            ) from exc

    # --- pushing (the lab and the tests) --------------------------------------

    def push(self, repository: str, tag: str, artifact: Pushable) -> str:
        """Push an image or an index (children first) and tag it. Returns the pushed digest."""
        images = artifact.images if isinstance(artifact, oci.Index) else (artifact,)
        for image in images:
            for blob in image.blobs():
                self.push_blob(repository, blob)
            if isinstance(artifact, oci.Index):
                self.push_manifest(repository, image.digest, image.manifest)
        return self.push_manifest(repository, tag, artifact.manifest)

    def push_blob(self, repository: str, blob: oci.Blob) -> None:
        scope = auth.repository_scope(repository, "pull,push")
        subject = f"blob {repository}@{blob.digest}"
        head = self._send("HEAD", f"/v2/{repository}/blobs/{blob.digest}", scope=scope, subject=subject)
        if head.status_code == 200:
            return
        start = self._send("POST", f"/v2/{repository}/blobs/uploads/", scope=scope, subject=subject)
        self._raise_unless_ok(start, subject)
        location = urljoin(self.base_url + "/", start.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self._send(
            "PUT", f"{location}{separator}digest={blob.digest}", scope=scope, subject=subject,
            headers={"Content-Type": "application/octet-stream"}, data=blob.data,
        )
        self._raise_unless_ok(done, subject)

    def push_manifest(self, repository: str, reference: str, manifest: oci.Blob) -> str:
        subject = _subject(repository, reference)
        response = self._send(
            "PUT", _manifest_path(repository, reference), scope=auth.repository_scope(repository, "pull,push"),
            subject=subject, headers={"Content-Type": manifest.media_type}, data=manifest.data,
        )
        self._raise_unless_ok(response, subject)
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    # --- authentication and errors -------------------------------------------

    def _url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.base_url + path_or_url

    def _send(self, method: str, path: str, *, scope: Optional[str], subject: str, headers=None, data=None) -> requests.Response:
        """One request, answering the registry's auth challenge once if it makes one.

        `scope` is a token scope (`repository:name:pull`) or a bare repository name (pull).
        """
        if scope and not scope.startswith("repository:"):
            scope = auth.repository_scope(scope)
        url = self._url(path)
        headers = dict(headers or {})
        with self._auth_lock:
            sent = self._known_authorization(scope, subject)
        if sent:
            headers["Authorization"] = sent
        response = self._transport.request(method, url, headers=headers, data=data)
        if response.status_code != 401:
            return response
        challenge = auth.preferred(auth.parse_www_authenticate(response.headers.get("WWW-Authenticate", "")))
        if challenge is None:
            raise self._auth_error(response, subject, challenge=None)
        with self._auth_lock:
            authorization = self._answer(challenge, scope, rejected=sent, subject=subject)
        headers["Authorization"] = authorization
        response = self._transport.request(method, url, headers=headers, data=data)
        if response.status_code == 401:
            retry = auth.preferred(auth.parse_www_authenticate(response.headers.get("WWW-Authenticate", "")))
            raise self._auth_error(response, subject, challenge=retry)
        return response

    def _known_authorization(self, scope: Optional[str], subject: str) -> Optional[str]:
        """What to send before any challenge: once the registry has shown its scheme, no round trip is wasted."""
        if self._bearer is not None:
            key = self._token_key(self._bearer, scope)
            if key not in self._tokens:
                self._tokens[key] = self._fetch_token(self._bearer, key[2], subject)
            return f"Bearer {self._tokens[key]}"
        if self._basic and self._credentials:
            return _basic_header(self._credentials)
        return None

    def _answer(self, challenge: auth.Challenge, scope: Optional[str], *, rejected: Optional[str], subject: str) -> str:
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise errors.AuthenticationRequired(
                    f"{subject}: {self.base_url} requires credentials (Basic) and none were given",
                    url=self.base_url, status=401, codes=(),
                )
            if rejected and rejected.startswith("Basic "):
                raise errors.AuthenticationFailed(
                    f"{subject}: {self.base_url} rejected the credentials (Basic)", url=self.base_url, status=401, codes=()
                )
            self._basic = True
            return _basic_header(self._credentials)
        # The scope this client needs (pull, or pull,push) rather than the
        # challenge's, which may name less (a blob HEAD on the way to a push).
        self._bearer = challenge
        key = self._token_key(challenge, scope or " ".join(challenge.scopes))
        cached = self._tokens.get(key)
        if cached and f"Bearer {cached}" != rejected:
            return f"Bearer {cached}"
        self._tokens[key] = self._fetch_token(challenge, key[2], subject)
        return f"Bearer {self._tokens[key]}"

    @staticmethod
    def _token_key(challenge: auth.Challenge, scope: Optional[str]) -> tuple[str, str, str]:
        return (challenge.realm or "", challenge.service or "", scope or "")

    def _fetch_token(self, challenge: auth.Challenge, scope: str, subject: str) -> str:
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params.extend(("scope", s) for s in scope.split())
        realm = challenge.realm or ""
        response = self._transport.request("GET", realm, params=params, auth=self._credentials)
        with response:
            if response.status_code != 200:
                raise status_error(
                    response.status_code,
                    subject=f"{subject}: token service",
                    url=realm,
                    had_credentials=self._credentials is not None,
                    codes=oci.distribution_error_codes(response.content),
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            token = auth.token_from_answer(response.content)
        if token is None:
            raise errors.InvalidResponse(f"{subject}: token service {realm} answered without a token", url=realm)
        return token

    def _auth_error(self, response: requests.Response, subject: str, challenge: Optional[auth.Challenge]) -> errors.HTTPStatusError:
        has_creds = self._credentials is not None
        codes = oci.distribution_error_codes(response.content)
        if challenge is not None and challenge.error == "insufficient_scope":
            scope = " ".join(challenge.scopes) or "this repository"
            if has_creds:
                return errors.AccessDenied(
                    f"{subject}: the credentials were accepted but give no access to {scope} on {self.base_url} (HTTP 401 insufficient_scope)",
                    url=response.url, status=401, codes=codes,
                )
            return errors.AuthenticationRequired(
                f"{subject}: {self.base_url} allows no anonymous access to {scope}; credentials are needed (HTTP 401)",
                url=response.url, status=401, codes=codes,
            )
        return status_error(401, subject=subject, url=response.url, had_credentials=has_creds, codes=codes)

    def _raise_unless_ok(self, response: requests.Response, subject: str) -> None:
        if response.status_code < 400:
            return
        raise status_error(
            response.status_code,
            subject=subject,
            url=response.url,
            had_credentials=self._credentials is not None,
            codes=oci.distribution_error_codes(response.content),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _raise_for_manifest(self, response: requests.Response, repository: str, reference: str) -> None:
        if response.status_code != 404:
            return self._raise_unless_ok(response, _subject(repository, reference))
        # HEAD answers carry no error body, and distribution says MANIFEST_UNKNOWN
        # even for a repository it does not have: its tag list tells them apart.
        codes = oci.distribution_error_codes(response.content)
        missing = "NAME_UNKNOWN" in codes or not self._repository_exists(repository)
        raise status_error(
            404,
            subject=_subject(repository, reference),
            url=response.url,
            had_credentials=self._credentials is not None,
            codes=codes,
            not_found=errors.RepositoryUnknown if missing else errors.ManifestUnknown,
            explanation=f"no repository {repository} on {self.base_url}" if missing
            else f"repository {repository} has no manifest {reference} on {self.base_url}",
        )

    def _repository_exists(self, repository: str) -> bool:
        try:
            response = self._send("GET", f"/v2/{repository}/tags/list", scope=repository, subject=f"repository {repository}")
        except errors.EndpointError:
            return True  # cannot tell: do not claim the repository is missing
        with response:
            return not (response.status_code == 404 and "NAME_UNKNOWN" in oci.distribution_error_codes(response.content))


_ACCEPT = {"Accept": oci.MANIFEST_ACCEPT}


def _manifest_path(repository: str, reference: str) -> str:
    return f"/v2/{repository}/manifests/{reference}"


def _subject(repository: str, reference: str) -> str:
    return f"manifest {repository}{'@' if oci.is_digest(reference) else ':'}{reference}"


def _content_type(response: requests.Response) -> Optional[str]:
    value = response.headers.get("Content-Type")
    return value.split(";")[0].strip() if value else None


def _basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
