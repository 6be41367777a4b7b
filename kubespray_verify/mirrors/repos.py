"""Kubespray's offline repo variables: where each applies and which path proves it is a repo (pure).

A repo is probed where a package manager would first look, so that a
directory listing or a web server's front page is not taken for a repo:

- yum/dnf: `<baseurl>/repodata/repomd.xml`, with `$releasever` and `$basearch`
  taken from the host's facts;
- apt: `<base>/dists/<suite>/InRelease`, else `Release` (what apt asks for),
  with the suite from the host's facts (Kubespray writes `deb <base> <release> stable`);
- a PyPI simple index: the index page itself, answered as HTML or PEP 691 JSON;
- a Helm repo: `<url>/index.yaml`;
- GPG keys: the key file.

`yum_repo`, `debian_repo` and `ubuntu_repo` are often only the root of the
`docker_*`/`containerd_*` repos (Kubespray's sample offline.yml writes them
so); such a root is not a repo itself and is left to those repos' checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from kubespray_verify.kubespray import FEDORA, OsFacts, REDHAT, REPO_VARS, ROOT_VARS

PYPI_TYPES = ("text/html", "application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+json")


def applies(var: str, facts: OsFacts, manager: Optional[str]) -> Optional[str]:
    """None when the repo variable serves this host; else why not (for a skip message)."""
    spec = REPO_VARS[var]
    if spec.managers and manager and manager not in spec.managers:
        return f"{var} serves container_manager {' or '.join(spec.managers)}, not {manager}"
    if not spec.systems or not (facts.distribution or facts.os_family):
        return None
    if facts.distribution in spec.systems:
        return None
    # RedHat stands for the family (RHEL, CentOS, Rocky, Alma...) but Fedora, which has its own repos.
    if REDHAT in spec.systems and facts.os_family == REDHAT and facts.distribution != FEDORA:
        return None
    host_os = " ".join(p for p in (facts.distribution or facts.os_family, facts.major_version) if p)
    return f"{var} serves {' or '.join(spec.systems)} hosts, not {host_os}"


def roots(values: Mapping[str, str]) -> dict[str, list[str]]:
    """Root vars (yum_repo...) → the set repo vars whose URL lies under them."""
    found: dict[str, list[str]] = {}
    for root in ROOT_VARS:
        base = (values.get(root) or "").rstrip("/")
        if not base:
            continue
        under = sorted(v for v, url in values.items() if v != root and url.startswith(base + "/"))
        if under:
            found[root] = under
    return found


@dataclass(frozen=True)
class RepoProbe:
    """The URLs that prove a repo (tried in order until one answers), or why none can be built."""

    var: str
    urls: tuple[str, ...] = ()
    accept_types: tuple[str, ...] = ()  # the answer's Content-Type must be one of these, when given
    assumed: tuple[str, ...] = ()  # what was taken from facts, said in the verdict
    missing: Optional[str] = None  # why the URL cannot be built (unknown fact)
    notes: tuple[str, ...] = field(default=())


_YUM_VAR = re.compile(r"\$(\{)?(releasever|basearch|arch)(?(1)\})")
_BASEARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
             "ppc64le": "ppc64le", "s390x": "s390x", "armv7l": "armhfp", "i686": "i386", "i386": "i386"}


def probe_for(var: str, url: str, facts: OsFacts, host: str) -> RepoProbe:
    """The repo-proving URLs of `var` (value `url`) for `host`."""
    kind = REPO_VARS[var].kind
    base = url.rstrip("/")
    if kind == "yum":
        base, assumed, missing = substitute_yum_vars(base, facts, host)
        if missing:
            return RepoProbe(var, missing=missing)
        return RepoProbe(var, (f"{base}/repodata/repomd.xml",), assumed=tuple(assumed))
    if kind == "apt":
        if not facts.release:
            return RepoProbe(var, missing=f"the release codename of {host} is unknown ({_why_unknown(facts, host)}; "
                                          "set ansible_distribution_release in the inventory)")
        assumed = (f"suite {facts.release} ({facts.source} facts of {host})",)
        return RepoProbe(var, (f"{base}/dists/{facts.release}/InRelease", f"{base}/dists/{facts.release}/Release"),
                         assumed=assumed)
    if kind == "pypi":
        return RepoProbe(var, (base + "/",), accept_types=PYPI_TYPES)
    if kind == "helm":
        return RepoProbe(var, (f"{base}/index.yaml",))
    return RepoProbe(var, (url,))


def substitute_yum_vars(url: str, facts: OsFacts, host: str) -> tuple[str, list[str], Optional[str]]:
    """`$releasever`, `$basearch` (and `$arch`) replaced from the host's facts; what was assumed; what is missing."""
    assumed: list[str] = []
    missing: list[str] = []

    def value(match: re.Match) -> str:
        name = match.group(2)
        if name == "releasever":
            if not facts.major_version:
                missing.append("$releasever")
                return match.group(0)
            note = f"$releasever={facts.major_version} (major version, {facts.source} facts of {host})"
            answer = facts.major_version
        else:
            arch = facts.architecture
            if not arch:
                missing.append(f"${name}")
                return match.group(0)
            answer = _BASEARCH.get(arch, arch) if name == "basearch" else arch
            note = f"${name}={answer} (architecture {arch} of {host})"
        if note not in assumed:
            assumed.append(note)
        return answer

    substituted = _YUM_VAR.sub(value, url)
    if missing:
        return url, assumed, (f"{' and '.join(dict.fromkeys(missing))} of {host} unknown ({_why_unknown(facts, host)}; "
                              "set ansible_distribution_major_version in the inventory)")
    return substituted, assumed, None


def _why_unknown(facts: OsFacts, host: str) -> str:
    return "the node was not asked" if facts.source == "unknown" else f"{facts.source} facts of {host} lack it"
