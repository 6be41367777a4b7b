"""Which inventory variable sets each download item's checksum, read from Kubespray's raw `downloads:`.

From Kubespray v2.28 the `<name>_checksums` tables are role vars: an
inventory cannot override them. The per-item variables the items read
(`kubeadm_binary_checksum`, `containerd_checksum`, `calico_node_digest_checksum`...)
are role defaults, so an inventory can. The raw item's `checksum:` (`sha256:`
before v2.28) template names the variable, e.g. "{{ kubeadm_binary_checksum }}".
An item whose template reads a table directly (calico_crds, gateway_api_crds...)
has no such variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import jinja2
import jinja2.meta
import yaml

from kubespray_verify.resolve.tree import locate
from kubespray_verify.lab.errors import LabError


@dataclass(frozen=True)
class ChecksumVars:
    file_var: Optional[str]  # e.g. kubeadm_binary_checksum
    digest_var: Optional[str]  # e.g. calico_node_digest_checksum
    prefixed: bool  # the tree's checksums carry "sha256:" (v2.28 `checksum:` schema)


def checksum_vars(kubespray_dir: str) -> dict[str, ChecksumVars]:
    """Item name → the variables its checksum template reads."""
    downloads = _raw_downloads(locate(kubespray_dir, []).defaults_role)
    env = jinja2.Environment()
    found = {}
    for name, raw in downloads.items():
        if not isinstance(raw, dict):
            continue
        key = "checksum" if "checksum" in raw else "sha256"
        template = raw.get(key)
        names = jinja2.meta.find_undeclared_variables(env.parse(template)) if isinstance(template, str) else set()
        file_vars = sorted(n for n in names if n.endswith("_checksum") and not n.endswith("_digest_checksum"))
        digest_vars = sorted(n for n in names if n.endswith("_digest_checksum"))
        found[name] = ChecksumVars(file_vars[0] if len(file_vars) == 1 else None,
                                   digest_vars[0] if len(digest_vars) == 1 else None,
                                   prefixed=key == "checksum")
    return found


def _raw_downloads(role: Path) -> dict:
    for path in sorted((role / "defaults").rglob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        if isinstance(data, dict) and isinstance(data.get("downloads"), dict):
            return data["downloads"]
    raise LabError(f"no `downloads:` in {role / 'defaults'}")
