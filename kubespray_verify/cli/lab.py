"""`kubespray-verify lab deps|up|down|status|drift|heal`: the local air-gapped Kubespray site."""

from __future__ import annotations

import argparse
import json
import sys
import time

from kubespray_verify.lab.drift import KINDS
from kubespray_verify.lab.layout import RUNTIMES



def register(sub) -> None:
    lab = sub.add_parser("lab", help="the local air-gapped Kubespray site (needs root)",
                         description="A Kubespray site on this machine: registries, files_repo and nodes in "
                                     "network namespaces, with an inventory pointing Kubespray at them.")
    cmds = lab.add_subparsers(dest="lab_command", required=True)

    p = cmds.add_parser("deps", help="install the lab's Debian packages (skipped when all are present)")
    p.set_defaults(func=_deps)

    p = cmds.add_parser("up", help="bring a lab up (replacing one with the same prefix)")
    _prefix(p)
    p.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3: node1,node2 control plane "
                                                        "+ etcd, node3 worker)")
    p.add_argument("--runtimes", default=",".join(RUNTIMES),
                   help="container managers dealt round-robin to the nodes (default: %(default)s)")
    p.add_argument("--kubespray-dir", help="the Kubespray tree (default: $KUBESPRAY_DIR)")
    p.add_argument("--realistic-sizes", action="store_true",
                   help="serve files of about the real downloads' sizes (kubelet ~80 MB...) for benchmarks")
    p.add_argument("--pin-digests", action="store_true",
                   help="also pin three images' *_digest_checksum (index digest as bare hex, platform manifest "
                        "digest, single-arch digest as sha256:hex); Kubespray itself does not enforce pins")
    p.set_defaults(func=_up)

    p = cmds.add_parser("down", help="stop and remove a lab (also one a crashed `lab up` left)")
    _prefix(p)
    p.set_defaults(func=_down)

    p = cmds.add_parser("status", help="what runs for a lab")
    _prefix(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_status)

    p = cmds.add_parser("drift", help="make a node differ from the expected state",
                        epilog="drift kinds:\n" + "\n".join(f"  {k:20} {v}" for k, v in KINDS.items()),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _prefix(p)
    p.add_argument("node")
    p.add_argument("kind")
    p.add_argument("item", nargs="?", help="the download item (e.g. kubeadm, calico_node)")
    p.add_argument("--undo", action="store_true", help="undo this drift instead")
    p.set_defaults(func=_drift)

    p = cmds.add_parser("heal", help="undo recorded drifts (of one node, one item)")
    _prefix(p)
    p.add_argument("node", nargs="?")
    p.add_argument("item", nargs="?")
    p.set_defaults(func=_heal)


def _prefix(p) -> None:
    from kubespray_verify.lab.api import DEFAULT_PREFIX

    p.add_argument("--prefix", default=DEFAULT_PREFIX,
                   help="names every namespace, link and directory of the lab (default: %(default)s)")


def _deps(args) -> int:
    from kubespray_verify.lab import deps

    deps.install(log=lambda m: print(m, file=sys.stderr))
    return 0


def _up(args) -> int:
    from kubespray_verify.lab.api import Lab

    started = time.monotonic()
    lab = Lab.up(args.prefix, nodes=args.nodes, runtimes=args.runtimes, kubespray_dir=args.kubespray_dir,
                 realistic_sizes=args.realistic_sizes, pin_digests=args.pin_digests,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    reg = lab.registry
    print(f"lab {lab.prefix} up in {time.monotonic() - started:.1f} s")
    print(f"inventory:       {lab.inventory_dir}")
    print(f"registry_host:   {reg.host} (http)")
    print(f"secure registry: {reg.secure_host} (https, user {reg.username}, CA {reg.ca_file})")
    print(f"files_repo:      {reg.files_repo}")
    for node in lab.nodes:
        print(f"{node.name:8} {node.ip:15} {node.runtime:10} {','.join(node.groups):28} "
              f"ssh -i {node.ssh_key} {node.ssh_user}@{node.ip}")
    return 0


def _down(args) -> int:
    from kubespray_verify.lab.cleanup import teardown

    removed = teardown(args.prefix)
    print(f"lab {args.prefix}: " + (f"removed {removed.summary()}" if removed else "nothing to remove"))
    return 0


def _status(args) -> int:
    from kubespray_verify.lab.api import status

    report = status(args.prefix)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not report["processes"] and not report["namespaces"] and report["phase"] is None:
        print(f"lab {args.prefix}: not up")
        return 1
    print(f"lab {args.prefix}: {report['phase'] or 'no state file'}, subnet {report['subnet']}, "
          f"{report['processes']} processes, {len(report['namespaces'])} namespaces")
    for name, alive in report.get("mirrors", {}).items():
        print(f"  hub  {name:16} {'running' if alive else 'STOPPED'}")
    for node in report["nodes"]:
        procs = " ".join(f"{k}={'running' if v else 'STOPPED'}" for k, v in node["processes"].items())
        print(f"  {node['name']:8} {node['ip']:15} {node['runtime']:10} link {node['link']:4} {procs}")
    for d in report.get("drifts", []):
        print(f"  drift: {d['node']} {d['kind']} {d['item'] or ''}")
    return 0


def _drift(args) -> int:
    from kubespray_verify.lab.api import Lab

    lab = Lab.attach(args.prefix)
    if args.undo:
        healed = lab.heal(args.node, args.item, args.kind)
        print(f"{args.node}: undid {len(healed)} drift(s)")
        return 0 if healed else 1
    record = lab.drift(args.node, args.kind, args.item)
    print(f"{record.node}: {record.kind} {record.item or ''}".rstrip())
    return 0


def _heal(args) -> int:
    from kubespray_verify.lab.api import Lab

    healed = Lab.attach(args.prefix).heal(args.node, args.item)
    print(f"healed {len(healed)} drift(s)")
    return 0
