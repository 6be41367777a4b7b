"""Removing a lab completely, from its state file and by its prefix.

What a lab makes is found two ways, so that a `lab up` killed at any point
is still cleaned up: the PIDs in its state file, and every process inside a
network namespace named `<prefix>-...` (all of the lab's processes run in
one). Then its namespaces, its root-namespace link and its directory go.
Nothing without the prefix is touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kubespray_verify.lab import netns, processes, state
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import check_prefix, lab_home


@dataclass
class Leftovers:
    processes: list[processes.ProcessRecord] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    home: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.processes or self.namespaces or self.links or self.home)

    def summary(self) -> str:
        return (f"{len(self.processes)} processes, {len(self.namespaces)} namespaces, "
                f"{len(self.links)} links" + (f", {self.home}" if self.home else ""))


def find(prefix: str) -> Leftovers:
    check_prefix(prefix)
    found = Leftovers()
    try:
        recorded = state.load(prefix)
    except LabError:
        recorded = None
    by_pid = {r.pid: r for r in (recorded.processes if recorded else []) if processes.alive(r)}
    found.namespaces = netns.lab_namespaces(prefix)
    for ns in found.namespaces:
        for pid in netns.namespace_pids(ns):
            record = processes.record_of(f"{ns}/pid", pid)
            if record and pid not in by_pid:
                by_pid[pid] = record
    found.processes = list(by_pid.values())
    found.links = netns.lab_links(prefix)
    home = lab_home(prefix)
    found.home = home if home.exists() else None
    return found


def teardown(prefix: str) -> Leftovers:
    """Stop every process of lab `prefix`, delete its namespaces and link, remove its directory."""
    found = find(prefix)
    processes.stop(found.processes)
    # A process may have started in a namespace while we were stopping (a shell on a node): once more.
    for ns in found.namespaces:
        processes.stop(r for r in (processes.record_of(ns, p) for p in netns.namespace_pids(ns)) if r)
    for ns in sorted(found.namespaces, key=lambda n: n.endswith("-hub")):
        netns.delete_namespace(ns)
    for link in found.links:
        netns.delete_link(link)
    if found.home:
        _remove_home(found.home)
    return found


def _remove_home(home: Path) -> None:
    mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
               if line.split()[4].startswith(str(home) + "/") or line.split()[4] == str(home)]
    if mounted:
        raise LabError(f"{home} still has mounts ({', '.join(mounted[:3])}); not removing it")
    shutil.rmtree(home)
