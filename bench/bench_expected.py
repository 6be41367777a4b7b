"""Resolve 3, 50 and 500-host inventories with the suite and with ansible-playbook, side by side.

    python3 bench/bench_expected.py [--sizes 3,50,500] [--out results.json]
    python3 bench/bench_expected.py --pythons VENV1/bin/python,VENV2/bin/python [--kubespray-dir TREE]
                                    [--sizes 3,50,500] [--repeat 3]

For each size: the suite without cache (a fresh cache directory), the suite
with its cache, and `ansible-playbook` rendering the same downloads
(tests/parity_playbook.yml). The outputs are compared host by host; a
difference fails the benchmark.

With --pythons: the suite without cache under each interpreter (each with its own ansible-core, the
project importable), side by side, the fastest of --repeat runs each, in turns; the outputs must be equal
(but the note naming the running ansible-core) and the ratios are each one's time over the first one's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kubespray_fixtures import kubespray_dir, with_k8s_cluster, write_inventory  # noqa: E402
from tests.test_expected_parity import (  # noqa: E402
    comparable_from_ansible,
    comparable_from_suite,
    render_with_ansible,
)


def inventory_of(size: int, root: Path, tree: Path | None = None) -> Path:
    control = max(1, min(3, size - 1))
    hosts = {}
    for i in range(1, size + 1):
        hv = {"ansible_host": f"127.0.{i // 250}.{i % 250 + 1}", "ip": f"10.1.{i // 250}.{i % 250 + 1}"}
        if i > control and i % 10 == 0:
            hv["ansible_architecture"] = "aarch64"
        hosts[f"node{i}"] = hv
    names = list(hosts)
    groups = {"kube_control_plane": names[:control], "etcd": names[:control], "kube_node": names[control:]}
    return write_inventory(root, hosts, with_k8s_cluster(groups, tree), tree=tree)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def suite(inventory: Path, cache: Path, python: str = sys.executable, tree: Path | None = None):
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(cache), KUBESPRAY_DIR=str(tree or kubespray_dir()),
               PYTHONPATH=str(ROOT))
    proc = subprocess.run([python, "-m", "kubespray_verify", "expected", "-i", str(inventory)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,50,500")
    parser.add_argument("--out")
    parser.add_argument("--pythons", help="interpreters to compare, comma-separated (the first is the reference)")
    parser.add_argument("--kubespray-dir", type=Path, help="the Kubespray tree (default: $KUBESPRAY_DIR)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.pythons:
        return versions(args)
    from kubespray_verify.model import ExpectedState

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            inventory = inventory_of(size, tmp / "inv")
            t_cold, ours = timed(lambda: suite(inventory, tmp / "cache"))
            t_warm, _ = timed(lambda: suite(inventory, tmp / "cache"))
            t_ansible, theirs = timed(lambda: render_with_ansible(inventory, tmp / "rendered", timeout=7200))
            state = ExpectedState.from_json(ours)
            same = all(comparable_from_suite(state.hosts[h]) == comparable_from_ansible(theirs[h])
                       for h in state.hosts) and sorted(state.hosts) == sorted(theirs)
            row = {"hosts": size, "resolutions": ours["resolutions"], "suite_s": round(t_cold, 2),
                   "suite_cached_s": round(t_warm, 2), "ansible_playbook_s": round(t_ansible, 2),
                   "ratio": round(t_ansible / t_cold, 1), "ratio_cached": round(t_ansible / t_warm, 1),
                   "same_output": same}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not same:
                print(f"outputs differ at {size} hosts", file=sys.stderr)
                return 1
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


def versions(args) -> int:
    pythons = args.pythons.split(",")
    tree = args.kubespray_dir or kubespray_dir()
    cores = [subprocess.run([py, "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True,
                            text=True, check=True).stdout.strip() for py in pythons]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            inventory = inventory_of(size, tmp / "inv", tree)
            best = [float("inf")] * len(pythons)
            outputs: list = [None] * len(pythons)
            for turn in range(args.repeat):
                for i, py in enumerate(pythons):  # in turns, so that the machine's load falls on each alike
                    seconds, out = timed(lambda: suite(inventory, tmp / f"cache-{turn}-{i}", py, tree))
                    best[i] = min(best[i], seconds)
                    outputs[i] = out
            comparable = [{k: v for k, v in out.items() if k != "notes"} for out in outputs]
            same = all(c == comparable[0] for c in comparable)
            row = {"hosts": size, "tree": tree.name, "resolutions": outputs[0]["resolutions"],
                   "seconds": {core: round(t, 2) for core, t in zip(cores, best)},
                   "ratio_to_first": {core: round(t / best[0], 2) for core, t in zip(cores, best)},
                   "same_output": same}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not same:
                print(f"outputs differ at {size} hosts", file=sys.stderr)
                return 1
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
