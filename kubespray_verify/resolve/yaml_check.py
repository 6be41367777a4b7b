"""Find YAML syntax errors before Ansible does, and name the file and line.

Ansible reports a broken group_vars file without its path and a broken YAML
inventory as "failed to parse". Parsing each file first with PyYAML (Ansible's
own tags such as `!vault` and `!unsafe` accepted) gives one precise message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import yaml

from kubespray_verify.errors import InventoryError

YAML_SUFFIXES = (".yml", ".yaml", ".json")


class _AnyTagLoader(yaml.SafeLoader):
    """SafeLoader that accepts Ansible's local tags (`!vault`, `!unsafe`) without interpreting them."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def check_file(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            yaml.load(fh, Loader=_AnyTagLoader)  # noqa: S506 (safe loader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "syntax error"
        raise InventoryError(f"{path}: YAML syntax error at {where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: YAML error: {exc}") from None
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror}") from None


def check_inventory_tree(sources: Iterable[str]) -> None:
    """Every YAML inventory file, and every group_vars/host_vars file Ansible would read beside it."""
    for src in sources:
        path = Path(src)
        if not path.exists():
            continue
        roots = [path] if path.is_dir() else [path.parent / "group_vars", path.parent / "host_vars"]
        if path.is_file() and path.suffix in YAML_SUFFIXES:
            check_file(path)
        for root in roots:
            if not root.is_dir():
                continue
            for candidate in sorted(root.rglob("*")):
                in_vars_dir = any(part in ("group_vars", "host_vars") for part in candidate.relative_to(root.parent).parts)
                if candidate.is_file() and candidate.suffix in YAML_SUFFIXES and (in_vars_dir or root == path):
                    if path.is_dir() and not in_vars_dir and candidate.suffix == ".json":
                        continue
                    check_file(candidate)
