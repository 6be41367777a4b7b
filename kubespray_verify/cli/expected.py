"""`kubespray-verify expected`: print the per-node expected downloads without touching any node."""

from __future__ import annotations

import json
import sys

from kubespray_verify.model import ExpectedState
from kubespray_verify.redact import redact_url


def register(sub) -> None:
    p = sub.add_parser(
        "expected",
        help="print the per-node expected downloads (no node is contacted)",
        description="Resolve Kubespray's downloads for every host of the inventory, as Ansible would.",
    )
    add_resolution_arguments(p)
    p.add_argument("--format", choices=("json", "table"), default="json")
    p.add_argument("-v", "--verbose", "--debug", dest="debug", action="store_true",
                   help="on an internal error, print its traceback too")
    p.set_defaults(func=run)


def add_resolution_arguments(p) -> None:
    p.add_argument("--inventory", "-i", action="append", required=True, metavar="PATH",
                   help="Ansible inventory (file or directory); repeatable, as ansible-playbook -i")
    p.add_argument("--kubespray-dir", metavar="PATH",
                   help="Kubespray checkout (default: $KUBESPRAY_DIR, else found above the inventory)")
    p.add_argument("--extra-vars", "-e", action="append", default=[], metavar="VARS",
                   help="as ansible-playbook -e: key=value, JSON/YAML, or @file.yml; repeatable")
    p.add_argument("--limit", "-l", metavar="PATTERN", help="Ansible host pattern")


def run(args) -> int:
    from kubespray_verify.resolve.cache import resolve_cached

    state = resolve_cached(args.inventory, args.kubespray_dir, args.extra_vars, args.limit)
    # What is printed never carries credentials a URL may hold (files_repo with user:password@).
    if args.format == "json":
        sys.stdout.write(redact_url(json.dumps(state.to_json(), indent=2)) + "\n")
    else:
        sys.stdout.write(redact_url(render_table(state)))
    for note in state.notes:
        print(f"note: {note}", file=sys.stderr)
    return 1 if any(h.errors for h in state.hosts.values()) else 0


def render_table(state: ExpectedState) -> str:
    lines = [f"Kubespray {state.kubespray_version} at {state.kubespray_dir}"]
    if state.download.run_once:
        lines.append(f"download_run_once: delegate {state.download.host}")
    for name, host in state.hosts.items():
        lines.append("")
        lines.append(f"{name}  arch={host.arch} (facts: {host.facts_source})  "
                     f"{len(host.items)} items, {len(host.errors)} errors")
        for item in host.items:
            mark = " (as download_delegate)" if item.delegate else ""
            if item.kind == "file":
                lines.append(f"  file   {item.name:<28} {item.dest}  {item.checksum or '-'}{mark}")
            else:
                lines.append(f"  image  {item.name:<28} {item.repo}:{item.tag}  {item.digest or '-'}{mark}")
        for err in host.errors:
            lines.append(f"  ERROR  {err.name:<28} {err.error}")
    return "\n".join(lines) + "\n"
