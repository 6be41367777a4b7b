"""Resolve once, reuse everywhere: a cache of expected states keyed by the content of every input.

`pytest -n` collects in every worker; with this cache the first worker
resolves and the others read its answer (a file lock keeps them from
resolving side by side). A change to any inventory file, vars file, extra
vars file, Kubespray default, option, the ansible-core version or Ansible's
own configuration (ansible.cfg, ANSIBLE_* variables) gives a new key.
A dynamic inventory (a script, an inventory plugin's config) answers what its
content cannot tell: it is resolved every run, and nothing made from it is kept.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

from kubespray_verify import __version__
from kubespray_verify.errors import reports_unexpected
from kubespray_verify.cache import cache_root, keep, not_kept
from kubespray_verify.resolve import ansible_env  # noqa: F401  (its ANSIBLE_* settings are part of every key)
from kubespray_verify.resolve.tree import locate
from kubespray_verify.model import ExpectedState


def cache_dir() -> Path:
    return cache_root() / "expected"


def input_key(
    inventory: Sequence[str],
    kubespray_dir: Optional[str],
    extra_vars: Iterable[str],
    limit: Optional[str],
    node_facts: Optional[Mapping] = None,
) -> str:
    from ansible.release import __version__ as ansible_core

    tree = locate(kubespray_dir, inventory)
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + b"\0" + hashlib.sha256(data).digest())

    add("versions", f"{__version__} {ansible_core}".encode())
    add("tree", str(tree.root).encode())
    for path in tree.content_files():
        add(str(path), path.read_bytes())
    for src in inventory:
        for path in _inventory_files(Path(src).expanduser()):
            add(str(path), path.read_bytes())
        add("source", os.path.abspath(src).encode())
    for ev in extra_vars:
        add("extra", ev.encode())
        if ev.startswith("@") and os.path.isfile(ev[1:]):
            add(ev, Path(ev[1:]).read_bytes())
    add("limit", (limit or "").encode())
    add("facts", json.dumps(node_facts or {}, sort_keys=True).encode())
    for path in ansible_config_candidates():
        add(f"ansible.cfg {path}", path.read_bytes())
    add("ansible env", json.dumps(sorted((k, v) for k, v in os.environ.items() if k.startswith("ANSIBLE_"))).encode())
    return h.hexdigest()


def ansible_config_candidates() -> list[Path]:
    """Every ansible.cfg ansible-core may read in this process (ANSIBLE_CONFIG, ./ansible.cfg,
    ~/.ansible.cfg, /etc/ansible/ansible.cfg), not only the first it uses: hash_behaviour,
    inventory_ignore_extensions, vars plugins and the like change what the inventory says."""
    candidates = []
    from_env = os.environ.get("ANSIBLE_CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        candidates.append(path / "ansible.cfg" if path.is_dir() else path)
    try:
        candidates.append(Path.cwd() / "ansible.cfg")
    except OSError:  # a working directory that no longer exists: ansible-core skips it too
        pass
    candidates += [Path("~/.ansible.cfg").expanduser(), Path("/etc/ansible/ansible.cfg")]
    found = []
    for path in candidates:
        try:
            if path.is_file() and os.access(path, os.R_OK):
                found.append(path)
        except OSError:
            continue
    return found


def _inventory_files(src: Path) -> list[Path]:
    """The inventory and the group_vars/host_vars Ansible reads beside it."""
    roots = [src] if src.is_dir() else [src, src.parent / "group_vars", src.parent / "host_vars"]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files.extend(sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts))
    return files


def dynamic_source(inventory: Sequence[str]) -> Optional[str]:
    """The first inventory source whose hosts come from elsewhere (a script, an inventory plugin's
    config), or None. Its content does not say what it answers, so nothing made from it is kept."""
    for src in inventory:
        path = Path(src).expanduser()
        if not path.exists():
            continue  # Ansible's host list form ("node1,node2,"): the string is the inventory
        sources = [path] if path.is_file() else sorted(
            p for p in path.rglob("*")
            if p.is_file() and not {"group_vars", "host_vars", ".git"} & set(p.relative_to(path).parts))
        for source in sources:
            if os.access(source, os.X_OK):
                return str(source)
            if source.suffix in (".yml", ".yaml", ".json") and _names_a_plugin(source):
                return str(source)
    return None


def _names_a_plugin(path: Path) -> bool:
    """An inventory plugin's config: a YAML/JSON mapping with a top-level `plugin:` key."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    # A top-level YAML key starts its line; a JSON key may be anywhere (a false match only costs the cache).
    return any(line.startswith(b"plugin:") or b'"plugin"' in line for line in head.splitlines())


def _cache_key(inventory: Sequence[str], kubespray_dir: Optional[str], extra_vars: list, limit: Optional[str],
               node_facts: Optional[Mapping] = None) -> Optional[str]:
    """The key of what these inputs give, or None when their content cannot vouch for it (a dynamic
    inventory). A missing inventory is an error before anything is read."""
    from kubespray_verify.resolve.sources import check_sources

    check_sources(inventory)
    if dynamic_source(inventory):
        return None
    return input_key(inventory, kubespray_dir, extra_vars, limit, node_facts)


@reports_unexpected("resolving the expected state")
def resolve_cached(
    inventory: Sequence[str],
    kubespray_dir: Optional[str] = None,
    extra_vars: Iterable[str] = (),
    limit: Optional[str] = None,
    node_facts: Optional[Mapping] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ExpectedState:
    """The expected state, from the cache when its inputs are unchanged; `progress` as `expected.resolve`'s
    (never called on a cache hit)."""
    extra_vars = list(extra_vars)

    def fresh() -> ExpectedState:
        from kubespray_verify.resolve.expected import resolve  # ansible-core: imported only to resolve

        return resolve(inventory, kubespray_dir, extra_vars, limit, node_facts, progress)

    key = _cache_key(inventory, kubespray_dir, extra_vars, limit, node_facts)
    if key is None:
        return fresh()
    directory = cache_dir()
    try:
        # Private to the user, like the inventory it is made from (a files_repo URL may carry credentials).
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = open(directory / f"{key}.lock", "w")
    except OSError as exc:
        not_kept(directory, exc)
        return fresh()
    target = directory / f"{key}.json"
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            try:
                return ExpectedState.from_json(json.loads(target.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                target.unlink(missing_ok=True)
        state = fresh()
        if not state.outside_input:
            keep(target, json.dumps(state.to_json()))
    return state


@reports_unexpected("reading the hosts' connection variables")
def connection_specs_cached(
    inventory: Sequence[str],
    kubespray_dir: Optional[str] = None,
    extra_vars: Iterable[str] = (),
    limit: Optional[str] = None,
) -> dict[str, dict]:
    """Each host's connection variables, kept beside the expected state when the inventory writes them
    literally (no templating, no password): the same inventory content then gives the same values,
    and a run whose expected state is cached needs no ansible-core at all."""
    from kubespray_verify.resolve.connection_vars import CONNECTION_VARS, connection_specs

    extra_vars = list(extra_vars)
    key = _cache_key(inventory, kubespray_dir, extra_vars, limit)
    if key is None:
        return connection_specs(inventory, extra_vars, limit)[0]
    target = cache_dir() / f"{key}.connections.json"
    try:
        kept = json.loads(target.read_text())
        if kept.get("vars") == list(CONNECTION_VARS):  # read with the variables this version reads
            return kept["hosts"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    specs, literal = connection_specs(inventory, extra_vars, limit)
    if literal:
        keep(target, json.dumps({"vars": list(CONNECTION_VARS), "hosts": specs}, sort_keys=True))
    return specs
