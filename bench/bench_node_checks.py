"""Node checks side by side on the same lab nodes: the suite, a naive testinfra suite, ansible-playbook.

    python3 bench/bench_node_checks.py [--nodes 3,20] [--realistic-sizes] [--runs 3] [--naive-runs N] [--out results.json]

Each contender runs --runs times and its fastest run counts (other work on the machine only slows a run).

For each lab size (one lab at a time, prefix "kvbench"), every contender does
the same checks: each file at its dest and each raw binary Kubespray installed
in bin_dir (checksum, mode), each image in the node's runtime.

- suite, first run: empty cache (resolves the expected state, reads every file);
- suite, --rehash: expected state from its cache, every file read again (the
  same work as the others, which are handed the expected state);
- suite, repeat run: files unchanged since the first run are not read again;
- naive testinfra suite (bench/naive: one remote command per check,
  `host.file().sha256sum`);
- ansible-playbook (bench/ansible_checks.yml: stat with checksum per file, the
  image list once), with Ansible's defaults and with pipelining on (as
  Kubespray's ansible.cfg sets it); each starts without SSH control sockets.

All must pass on the clean lab. Then the hashing of one node's files: the
probe's hashlib reader against `openssl dgst -sha256` on the same files; and the
hashing floor of a run that reads every file (the first run, --rehash, the naive
suite, ansible-playbook): the bytes all nodes hold at the checked paths over the
hashlib rate times the CPUs the lab's nodes share with the runner. No tool that
reads every byte can finish faster, so `ansible_over_floor` is the most any of
them could be faster than ansible-playbook here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kubespray_fixtures import kubespray_dir  # noqa: E402


def timed(cmd, env, cwd=ROOT, runs=1, before=None):
    """The fastest of `runs` runs (other work on the machine only ever slows a run); `before()` runs
    untimed ahead of each."""
    best = float("inf")
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        best = min(best, elapsed)
    return best


def hashing(lab, node: str) -> dict:
    from kubespray_verify.nodes.probe import script as node_probe

    base = lab.layout.node_dir(node) / "fs"
    paths = [str(base / item.dest.lstrip("/")) for item in lab.expected.hosts[node].items if item.kind == "file"]
    size = sum(os.path.getsize(p) for p in paths)
    best = {"probe_hashlib_s": float("inf"), "openssl_s": float("inf"), "sha256sum_s": float("inf")}
    for _ in range(3):
        start = time.perf_counter()
        ours = [node_probe._hash(p, "sha256") for p in paths]
        best["probe_hashlib_s"] = min(best["probe_hashlib_s"], time.perf_counter() - start)
        start = time.perf_counter()
        out = subprocess.run(["openssl", "dgst", "-sha256", "-r", *paths], capture_output=True, text=True, check=True)
        best["openssl_s"] = min(best["openssl_s"], time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(["sha256sum", *paths], capture_output=True, check=True)
        best["sha256sum_s"] = min(best["sha256sum_s"], time.perf_counter() - start)
    theirs = ["sha256:" + line.split()[0] for line in out.stdout.splitlines()]
    assert ours == theirs, "hashlib and openssl disagree"
    result = {k: round(v, 3) for k, v in best.items()}
    result.update(files=len(paths), mbytes=round(size / 1e6, 1),
                  ratio_probe_vs_openssl=round(best["probe_hashlib_s"] / best["openssl_s"], 2))
    return result


def bench_expected(lab, path: Path) -> int:
    """The expected state the other contenders are handed, with the installed copies as file items.

    Returns the bytes every contender that reads all files reads in one run."""
    from kubespray_verify.kubespray import installed_path

    def on_node(host: str, path: str) -> Path:
        return lab.layout.node_dir(host) / "fs" / path.lstrip("/")

    data = lab.expected.to_json()
    for host, exp in lab.expected.hosts.items():
        installed = []
        for item in exp.items:
            where = installed_path(exp, item) if item.kind == "file" else None
            if where and on_node(host, where).exists():
                installed.append({"name": f"{item.name}@bin_dir", "kind": "file", "dest": where,
                                  "checksum": item.checksum, "mode": None})
        data["hosts"][host]["items"].extend(installed)
    path.write_text(json.dumps(data))
    return sum(on_node(host, item["dest"]).stat().st_size
               for host, exp in data["hosts"].items() for item in exp["items"] if item["kind"] == "file")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="3,20")
    parser.add_argument("--realistic-sizes", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender; the fastest counts")
    parser.add_argument("--naive-runs", type=int, default=None, help="runs of the naive suite (default --runs)")
    args = parser.parse_args()
    from kubespray_verify.lab.api import Lab

    rows = []
    for count in [int(n) for n in args.nodes.split(",")]:
        lab = Lab.up("kvbench", nodes=count, kubespray_dir=str(kubespray_dir()), realistic_sizes=args.realistic_sizes)
        tmp = Path(tempfile.mkdtemp(prefix="kv-bench-"))
        try:
            time.sleep(2.5)  # the lab's files older than the probe's settling time, as on any deployed node
            inventory = str(lab.inventory_dir / "hosts.yml")
            expected = tmp / "expected.json"
            read_bytes = bench_expected(lab, expected)
            env = dict(os.environ, KUBESPRAY_DIR=lab.kubespray_dir, KUBESPRAY_VERIFY_CACHE=str(tmp / "cache"),
                       KV_BENCH_EXPECTED=str(expected), KV_BENCH_INVENTORY=inventory,
                       ANSIBLE_HOST_KEY_CHECKING="False")
            checks = sum(len(h["items"]) for h in json.loads(expected.read_text())["hosts"].values())
            # Both pytest runs load only the plugins they use: pytest plugins this machine happens to have
            # (hypothesis costs ~2 s to import) would weigh on both and say nothing about either.
            bare = dict(env, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
            suite = [sys.executable, "-m", "pytest", "-p", "kubespray_verify_pytest", f"--inventory={inventory}",
                     "-m", "images or files", "-q", "-p", "no:cacheprovider"]
            runs = args.runs
            # A first run each time: the cache (expected state, connections, checksums) emptied before it.
            suite_first = timed(suite, bare, runs=runs, before=lambda: shutil.rmtree(tmp / "cache", ignore_errors=True))
            suite_rehash = timed(suite + ["--rehash"], bare, runs=runs)
            suite_repeat = timed(suite, bare, runs=runs)
            naive_runs = args.naive_runs or runs
            naive = timed([sys.executable, "-m", "pytest", str(ROOT / "bench" / "naive"), "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(ROOT / "bench" / "naive")], bare, runs=naive_runs)
            playbook = [shutil.which("ansible-playbook"), "-i", inventory, "-f", str(min(count, 20)),
                        str(ROOT / "bench" / "ansible_checks.yml")]
            # Each ansible run starts without SSH control sockets, as each suite run does.
            fresh = lambda name: lambda: shutil.rmtree(tmp / name, ignore_errors=True)  # noqa: E731
            ansible = timed(playbook, dict(env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp / "cp1")), runs=runs,
                            before=fresh("cp1"))
            pipelined = timed(playbook, dict(env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp / "cp2"),
                                             ANSIBLE_PIPELINING="True"), runs=runs, before=fresh("cp2"))
            row = {"nodes": count, "checks": checks, "realistic_sizes": args.realistic_sizes, "runs": runs,
                   "naive_runs": naive_runs,
                   "suite_first_s": round(suite_first, 2), "suite_rehash_s": round(suite_rehash, 2),
                   "suite_repeat_s": round(suite_repeat, 2), "naive_testinfra_s": round(naive, 2),
                   "ansible_playbook_s": round(ansible, 2), "ansible_pipelining_s": round(pipelined, 2)}
            for name, value in (("naive", naive), ("ansible", ansible), ("ansible_pipelining", pipelined)):
                for run, ours in (("first", suite_first), ("rehash", suite_rehash), ("repeat", suite_repeat)):
                    row[f"{name}_over_suite_{run}"] = round(value / ours, 1)
            row["hashing_node1"] = hashing(lab, "node1")
            rate = row["hashing_node1"]["mbytes"] * 1e6 / row["hashing_node1"]["probe_hashlib_s"]
            cpus = len(os.sched_getaffinity(0))
            floor = read_bytes / (rate * cpus)
            row["hashing_floor"] = {"gbytes_read": round(read_bytes / 1e9, 2), "cpus": cpus,
                                    "hashlib_mbytes_per_s": round(rate / 1e6), "floor_s": round(floor, 2),
                                    "ansible_over_floor": round(ansible / floor, 1),
                                    "ansible_pipelining_over_floor": round(pipelined / floor, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        finally:
            lab.down()
            shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
