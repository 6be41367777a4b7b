"""Image references and digests: one parser, one normal form.

Runtimes print the same image under different spellings (`pause:3.10`,
`docker.io/library/pause:3.10`, `index.docker.io/library/pause:3.10`); the
suite only ever compares normal forms, never display strings. The grammar is
the one of the distribution reference (what docker, containerd and
containers-storage accept):

- no registry means `docker.io`; `index.docker.io` is `docker.io`;
- on `docker.io`, a single path component gets `library/`;
- the first component is a registry when it has a `.` or a `:`, or is
  `localhost`: `host:5000/name` has a port, not a tag;
- a name with neither tag nor digest means `:latest`;
- `name@sha256:...` and `name:tag@sha256:...` carry a digest.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from kubespray_verify.digests import normalize_digest

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRIES = frozenset({"index.docker.io"})
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?\Z")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}\Z")
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Reference:
    """A normalised image reference. Equal references name the same thing.

    Built by `parse_reference`, or directly: the constructor normalises the
    registry (`index.docker.io` -> `docker.io`, lowercase), adds `library/`
    on docker.io and normalises the digest, and rejects what no runtime
    would accept. `tag` and `digest` may both be None for a bare repository
    name (`parse_reference` never returns one: it adds `latest`).
    """

    registry: str
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    def __post_init__(self) -> None:
        registry = self.registry.lower()
        if registry in LEGACY_REGISTRIES:
            registry = DEFAULT_REGISTRY
        if not _REGISTRY_RE.match(registry):
            raise ValueError(f"image registry {self.registry!r} is not a valid host[:port]")
        repository = self.repository
        if repository != repository.lower():
            raise ValueError(f"image repository {repository!r} must be lowercase")
        if not _REPOSITORY_RE.match(repository):
            raise ValueError(f"image repository {repository!r} is not a valid repository name")
        if registry == DEFAULT_REGISTRY and "/" not in repository:
            repository = "library/" + repository
        if self.tag is not None and not _TAG_RE.match(self.tag):
            raise ValueError(f"image tag {self.tag!r} is not a valid tag")
        digest = normalize_digest(self.digest) if self.digest is not None else None
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "digest", digest)
        if len(self.name) > MAX_NAME_LENGTH:
            raise ValueError(f"image name {self.name!r} is longer than {MAX_NAME_LENGTH} characters")

    @property
    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def path(self) -> str:
        """The repository without the `library/` that docker.io adds: what a mirror is usually asked for."""
        if self.registry == DEFAULT_REGISTRY and self.repository.startswith("library/"):
            return self.repository[len("library/") :]
        return self.repository

    @property
    def normalized(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return self.normalized


def parse_reference(text: str) -> Reference:
    """Parse `[registry/]repository[:tag][@digest]` into its normal form.

    Raises ValueError naming the text when it is not a valid reference.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"image reference {text!r} is empty")
    raw = text.strip()
    rest, at, digest = raw.partition("@")
    if at and ":" not in digest:
        raise ValueError(f"image reference {text!r}: the digest after '@' must read 'sha256:<hex>'")
    first, slash, remainder = rest.partition("/")
    if slash and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        registry, path = first, remainder
    else:
        registry, path = DEFAULT_REGISTRY, rest
    repository, colon, tag = path.rpartition(":")
    if not colon:
        repository, tag = path, None
    elif "/" in tag:
        raise ValueError(f"image reference {text!r}: {tag!r} is not a tag")
    if not repository:
        raise ValueError(f"image reference {text!r} has no repository name")
    if tag is None and not at:
        tag = DEFAULT_TAG
    try:
        return Reference(registry, repository, tag, digest if at else None)
    except ValueError as exc:
        raise ValueError(f"image reference {text!r}: {exc}") from None
