"""The lab network: a hub namespace with a bridge, one namespace per node, one link to the runner.

    root ns  <prefix>-rt 10.A.B.254 ──veth── up0 ┐
    <prefix>-hub     br0 10.A.B.2 (registries, files_repo)
    <prefix>-node1   eth0 10.A.B.11 ──veth── n1 ┘ (no default route)

Node veths are created inside the hub namespace, so their names never meet
another lab's. Nothing here routes anywhere but the lab's own /24.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
from contextlib import contextmanager
from pathlib import Path

from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import LAB_ROOT, Layout, subnet_candidates
from kubespray_verify.lab.processes import run

NETNS_DIR = Path("/run/netns")
BRIDGE = "br0"
HUB_UPLINK = "up0"
NODE_LINK = "eth0"


def netns_path(name: str) -> str:
    return str(NETNS_DIR / name)


def pick_subnet(prefix: str) -> ipaddress.IPv4Network:
    """The first candidate /24 that no address or route of the root namespace overlaps.

    Call it holding `subnet_lock()` until the runner link carries the subnet, so
    that two labs starting at once cannot pick the same one.
    """
    used = _used_networks()
    for candidate in subnet_candidates(prefix):
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise LabError("no free /24 left in 10.200.0.0-10.249.255.255 for the lab")


@contextmanager
def subnet_lock():
    LAB_ROOT.mkdir(parents=True, exist_ok=True)
    with open(LAB_ROOT / ".subnet.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def create_hub(layout: Layout) -> None:
    hub = layout.hub_netns
    _ip("netns", "add", hub)
    _ip("-n", hub, "link", "set", "lo", "up")
    _ip("-n", hub, "link", "add", BRIDGE, "type", "bridge")
    _ip("-n", hub, "addr", "add", f"{layout.hub_ip}/24", "dev", BRIDGE)
    _ip("-n", hub, "link", "set", BRIDGE, "up")
    _ip("link", "add", layout.runner_link, "type", "veth", "peer", "name", HUB_UPLINK, "netns", hub)
    _ip("-n", hub, "link", "set", HUB_UPLINK, "master", BRIDGE, "up")
    _ip("addr", "add", f"{layout.runner_ip}/24", "dev", layout.runner_link)
    _ip("link", "set", layout.runner_link, "up")


def create_node(layout: Layout, node: str, index: int) -> None:
    ns, hub, port = layout.node_netns(node), layout.hub_netns, f"n{index + 1}"
    _ip("netns", "add", ns)
    _ip("-n", ns, "link", "set", "lo", "up")
    _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", NODE_LINK, "netns", ns)
    _ip("-n", hub, "link", "set", port, "master", BRIDGE, "up")
    _ip("-n", ns, "addr", "add", f"{layout.node_ip(index)}/24", "dev", NODE_LINK)
    _ip("-n", ns, "link", "set", NODE_LINK, "up")


def set_node_link(layout: Layout, node: str, up: bool) -> None:
    _ip("-n", layout.node_netns(node), "link", "set", NODE_LINK, "up" if up else "down")


def node_link_up(layout: Layout, node: str) -> bool:
    out = run(["ip", "-j", "-n", layout.node_netns(node), "link", "show", NODE_LINK]).stdout
    return "UP" in json.loads(out)[0].get("flags", [])


# -- discovery and removal, by prefix ---------------------------------

def lab_namespaces(prefix: str) -> list[str]:
    """Namespaces named `<prefix>-...` (hub and nodes)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix + "-"))


def lab_links(prefix: str) -> list[str]:
    """Links of the root namespace named `<prefix>-...`."""
    links = json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")
    return sorted(link["ifname"] for link in links if link["ifname"].startswith(prefix + "-"))


def namespace_pids(name: str) -> list[int]:
    proc = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in proc.stdout.split()]


def delete_namespace(name: str) -> None:
    run(["ip", "netns", "delete", name], check=False)
    if (NETNS_DIR / name).exists():
        raise LabError(f"network namespace {name} could not be deleted")


def delete_link(name: str) -> None:
    run(["ip", "link", "delete", name], check=False)


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for route in json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default" and route.get("type", "unicast") in ("unicast", "local"):
            used.append(ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False))
    for link in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        for addr in link.get("addr_info", []):
            used.append(ipaddress.IPv4Network(f"{addr['local']}/{addr['prefixlen']}", strict=False))
    return used


def _ip(*args: str) -> None:
    run(["ip", *args])
