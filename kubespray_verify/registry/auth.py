"""Registry authentication, pure: `WWW-Authenticate` challenges, token scopes, token answers.

The flow itself (retry with Basic, fetch a token from the realm, cache it per
scope) lives in `registry.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?=\s|,|$)")
_TOKEN68 = re.compile(r"\s*[A-Za-z0-9._~+/-]+=*\s*(?=,|$)")


@dataclass(frozen=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header: scheme (lowercase) and parameters (keys lowercase)."""

    scheme: str
    params: dict = field(default_factory=dict)

    @property
    def realm(self) -> Optional[str]:
        return self.params.get("realm")

    @property
    def service(self) -> Optional[str]:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> Optional[str]:
        return self.params.get("error")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """All challenges of a header, in order. Quoted values may hold commas (`scope="repository:a:pull,push"`).

    Unreadable trailing text is ignored rather than raised: a registry with a
    slightly wrong header should still be reachable with the challenges that parse.
    """
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        if header[pos] in ", \t":
            pos += 1
            continue
        param = _PARAM.match(header, pos)
        if param and challenges:
            key, quoted, token = param.groups()
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
            challenges[-1].params[key.lower()] = value
            pos = param.end()
            continue
        scheme = _SCHEME.match(header, pos)
        if not scheme:
            break
        challenges.append(Challenge(scheme.group(1).lower(), {}))
        pos = scheme.end()
        token68 = _TOKEN68.match(header, pos)
        if token68 and not _PARAM.match(header, pos):
            pos = token68.end()
    return challenges


def preferred(challenges: list[Challenge]) -> Optional[Challenge]:
    """Bearer when offered (it is what the registry means), else Basic, else None."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme and (scheme == "basic" or challenge.realm):
                return challenge
    return None


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


def token_from_answer(body: bytes) -> Optional[str]:
    """The token of a token service's JSON answer (`token`, or OAuth2's `access_token`); None if it has neither."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("token", "access_token"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return None
