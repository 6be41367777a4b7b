"""Finding a Kubespray tree and what it says about itself (role name, version, Ansible pin)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from kubespray_verify.errors import KubesprayTreeError

# `kubespray-defaults` up to v2.27, `kubespray_defaults` from v2.28.
DEFAULTS_ROLE_NAMES = ("kubespray_defaults", "kubespray-defaults")

# The Ansible community package Kubespray pins in requirements.txt → the ansible-core it brings.
_ANSIBLE_TO_CORE = {
    "7": "2.14",
    "8": "2.15",
    "9": "2.16",
    "10": "2.17",
    "11": "2.18",
    "12": "2.19",
}


@dataclass(frozen=True)
class KubesprayTree:
    root: Path
    defaults_role: Path

    @property
    def version(self) -> str:
        return _version_of(self.root)

    @property
    def ansible_core_required(self) -> Optional[str]:
        """The ansible-core major.minor this Kubespray asks for, when its requirements say."""
        req = self.root / "requirements.txt"
        try:
            text = req.read_text()
        except OSError:
            return None
        m = re.search(r"^\s*ansible-core\s*==\s*(\d+\.\d+)", text, re.M)
        if m:
            return m.group(1)
        m = re.search(r"^\s*ansible\s*==\s*(\d+)\.", text, re.M)
        return _ANSIBLE_TO_CORE.get(m.group(1)) if m else None

    @property
    def group_mappings(self) -> Optional[dict[str, tuple[str, ...]]]:
        """The groups Kubespray's boilerplate derives before anything else runs, as this tree writes them.

        Kubespray's `dynamic_groups` role maps old group names and defines `k8s_cluster` as
        kube_control_plane + kube_node + calico_rr; older Kubespray has plays in
        playbooks/boilerplate.yml that only map old names (`k8s-cluster` -> `k8s_cluster`), so an
        inventory must declare `k8s_cluster` itself. None when the tree says neither (a tree of role
        defaults only).
        """
        role_tasks = self.root / "roles" / "dynamic_groups" / "tasks" / "main.yml"
        if role_tasks.is_file():
            for task in _yaml_list(role_tasks):
                mappings = (task.get("vars") or {}).get("group_mappings") if "group_by" in task else None
                if isinstance(mappings, dict):
                    return {str(k): tuple(map(str, v)) for k, v in mappings.items()}
        boilerplate = self.root / "playbooks" / "boilerplate.yml"
        if boilerplate.is_file():
            return _legacy_group_plays(boilerplate) or None
        return None

    def content_files(self) -> Iterable[Path]:
        """Every file whose content decides the expected state (for cache keys)."""
        for sub in ("defaults", "vars"):
            base = self.defaults_role / sub
            if base.is_dir():
                yield from sorted(p for p in base.rglob("*") if p.is_file())
        for extra in ("roles/dynamic_groups/tasks/main.yml", "playbooks/boilerplate.yml"):
            if (self.root / extra).is_file():
                yield self.root / extra


def find_defaults_role(root: Path) -> Optional[Path]:
    for name in DEFAULTS_ROLE_NAMES:
        candidate = root / "roles" / name
        if (candidate / "defaults").is_dir():
            return candidate
    return None


def locate(explicit: Optional[str], inventories: Iterable[str]) -> KubesprayTree:
    """`--kubespray-dir`, else `$KUBESPRAY_DIR`, else walk up from each inventory."""
    looked_for = " or ".join(f"roles/{n}/defaults" for n in DEFAULTS_ROLE_NAMES)
    given = explicit or os.environ.get("KUBESPRAY_DIR")
    if given:
        source = "--kubespray-dir" if explicit else "$KUBESPRAY_DIR"
        root = Path(given).expanduser()
        if not root.is_dir():
            raise KubesprayTreeError(f"{source} {given}: no such directory")
        role = find_defaults_role(root)
        if role is None:
            raise KubesprayTreeError(f"{source} {given} is not a Kubespray tree: it holds no {looked_for}")
        return KubesprayTree(root.resolve(), role.resolve())
    searched = []
    for inv in inventories:
        start = Path(inv).expanduser().resolve()
        for parent in [start, *start.parents]:
            if parent in searched:
                continue
            searched.append(parent)
            role = find_defaults_role(parent)
            if role is not None:
                return KubesprayTree(parent, role)
    raise KubesprayTreeError(
        "cannot find Kubespray: give --kubespray-dir or set KUBESPRAY_DIR; "
        f"no directory above the inventory holds {looked_for}"
    )


def _yaml_list(path: Path) -> list[dict]:
    import yaml  # only resolution reads the tree's YAML; a cached run does not

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise KubesprayTreeError(f"{path}: {exc}") from None
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _legacy_group_plays(boilerplate: Path) -> dict[str, tuple[str, ...]]:
    """`hosts: kube-master` + `group_by: key: kube_control_plane` plays -> {kube_control_plane: (kube-master,)}."""
    mappings: dict[str, list[str]] = {}
    for play in _yaml_list(boilerplate):
        tasks = [t for t in play.get("tasks") or [] if isinstance(t, dict)]
        if not tasks or not all("group_by" in t for t in tasks):
            continue
        for task in tasks:
            key = str((task["group_by"] or {}).get("key", "")).strip()
            if key and "{" not in key:
                mappings.setdefault(key, []).append(str(play.get("hosts", "")).strip())
    return {k: tuple(v) for k, v in mappings.items()}


def _version_of(root: Path) -> str:
    galaxy = root / "galaxy.yml"
    if galaxy.is_file():
        m = re.search(r"^version:\s*['\"]?([^'\"\s]+)", galaxy.read_text(), re.M)
        if m:
            return "v" + m.group(1).lstrip("v")
    described = _git_tag_or_commit(root)
    if described:
        return described
    return "unknown"


def _git_tag_or_commit(root: Path) -> Optional[str]:
    """The tag at the checkout's HEAD (`v2.28.0`), else its commit (`git 46dbdd3994b3`), read from the
    repository's files as git keeps them (no git command is run); None outside a git checkout."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            git = (root / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        common = git / "commondir"
        common = (git / common.read_text().strip()).resolve() if common.is_file() else git
        refs = _packed_refs(common)
        commit = head
        if head.startswith("ref: "):
            name = head[5:]
            loose = common / name
            commit = loose.read_text().strip() if loose.is_file() else refs.get(name, ("", ""))[0]
        tags_dir = common / "refs" / "tags"
        for path in sorted(tags_dir.rglob("*")) if tags_dir.is_dir() else ():
            if path.is_file():
                target = path.read_text().strip()
                refs.setdefault(str(path.relative_to(common)), (target, _peeled(common, target)))
    except (OSError, IndexError):
        return None
    if not re.fullmatch(r"[0-9a-f]{40}", commit or ""):
        return None
    tags = sorted(name[len("refs/tags/"):] for name, (target, peeled) in refs.items()
                  if name.startswith("refs/tags/") and commit in (target, peeled))
    return tags[-1] if tags else f"git {commit[:12]}"


def _packed_refs(git: Path) -> dict[str, tuple[str, str]]:
    """refs/... → (object, the commit an annotated tag points at, or "")."""
    refs: dict[str, tuple[str, str]] = {}
    packed = git / "packed-refs"
    if not packed.is_file():
        return refs
    last = None
    for line in packed.read_text().splitlines():
        if line.startswith("^") and last:
            refs[last] = (refs[last][0], line[1:].strip())
        elif line and not line.startswith("#"):
            sha, _, name = line.partition(" ")
            refs[name.strip()] = (sha, "")
            last = name.strip()
    return refs


def _peeled(git: Path, sha: str) -> str:
    """The commit an annotated tag object points at ("" for a commit, or an object packed away)."""
    import zlib

    try:
        raw = zlib.decompress((git / "objects" / sha[:2] / sha[2:]).read_bytes())
    except (OSError, zlib.error):
        return ""
    header, _, body = raw.partition(b"\0")
    if not header.startswith(b"tag "):
        return ""
    first = body.split(b"\n", 1)[0].decode("ascii", "replace")
    return first[len("object "):] if first.startswith("object ") else ""
