"""Inventory sources as Ansible takes them, checked before anything reads them (no ansible-core import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from kubespray_verify.errors import InventoryError, UsageError


def check_sources(sources: Sequence[str]) -> list[str]:
    """Inventory paths as Ansible takes them; a path that does not exist is an error, not a warning."""
    if not sources:
        raise UsageError("no inventory given: pass --inventory PATH (an Ansible inventory file or directory)")
    checked = []
    for src in sources:
        if "," in src and not os.path.exists(src):
            checked.append(src)  # Ansible's host list form: "node1,node2,"
            continue
        path = Path(src).expanduser()
        if not path.exists():
            raise InventoryError(f"inventory {src}: no such file or directory")
        if not os.access(path, os.R_OK):
            raise InventoryError(f"inventory {src}: not readable")
        checked.append(str(path.resolve()))
    return checked
